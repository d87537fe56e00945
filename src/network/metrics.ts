import {
  averagePrecision,
  binaryMetrics,
  confusionAtThreshold,
  indexesByGroup,
  perGroupMetrics,
  rocAuc,
  weightedRocAuc,
} from "../core/metrics.ts";

/**
 * Flow-detector metrics. Pooled per-flow numbers let the biggest captures (floods: thousands of single-packet flows)
 * decide everything, so each is paired with a per-capture view in which every capture counts once: the ROC AUC with
 * each flow weighted 1 / (flows in its capture), the mean recall over malicious captures and the mean false-positive
 * rate over benign ones. Labels are per capture, so a capture has one class and its own AUC is undefined.
 */
export interface FlowMetrics {
  rocAuc: number | null;
  prAuc: number | null;
  captureRocAuc: number | null;
  recall: number;
  precision: number;
  f1: number;
  accuracy: number;
  mcc: number;
  balancedAccuracy: number;
  /**
   * Share of flows flagged (predicted malicious): the share sent on for deeper analysis, which FlowMeter's script
   * prints as "data reduction" although it is the share kept, not removed.
   */
  flaggedShare: number;
  captureRecall: number | null;
  captureFpr: number | null;
  confusion: { tp: number; fp: number; tn: number; fn: number };
}

export const FLOW_SELECTION_METRICS = [
  "rocAuc",
  "prAuc",
  "captureRocAuc",
  "recall",
  "precision",
  "f1",
  "mcc",
  "balancedAccuracy",
  "captureRecall",
  "captureSpecificity",
] as const;
export type FlowSelectionMetric = (typeof FLOW_SELECTION_METRICS)[number];

/** One capture source's flows, scored by a model that never saw that source (the by-source folds). */
export interface SourceMetrics {
  source: string;
  captures: number;
  metrics: FlowMetrics;
}

/** The by-source out-of-fold scores, source by source (sorted by name). */
export function metricsPerSource(
  y: ArrayLike<number>,
  probability: ArrayLike<number>,
  groups: readonly string[],
  sources: readonly string[],
  threshold: number,
): SourceMetrics[] {
  const rows = indexesByGroup(sources);
  return [...rows.keys()].sort().map((source) => {
    const idx = rows.get(source)!;
    const g = idx.map((i) => groups[i]);
    return {
      source,
      captures: new Set(g).size,
      metrics: flowMetrics(
        idx.map((i) => y[i]),
        idx.map((i) => probability[i]),
        g,
        threshold,
      ),
    };
  });
}

export function captureWeights(groups: readonly string[]): Float64Array {
  const size = new Map<string, number>();
  for (const g of groups) size.set(g, (size.get(g) ?? 0) + 1);
  return Float64Array.from(groups, (g) => 1 / size.get(g)!);
}

export function flowMetrics(
  y: ArrayLike<number>,
  probability: ArrayLike<number>,
  groups: readonly string[],
  threshold: number,
): FlowMetrics {
  const confusion = confusionAtThreshold(y, probability, threshold);
  const m = binaryMetrics(confusion);
  const perCapture = perGroupMetrics(y, probability, groups, threshold);
  const n = y.length;
  // With one class only, ROC AUC and average precision are undefined (average precision would read 1.000 with no
  // benign flow to rank below the malicious ones).
  const bothClasses = confusion.tp + confusion.fn > 0 && confusion.tn + confusion.fp > 0;
  return {
    rocAuc: bothClasses ? orNull(rocAuc(y, probability)) : null,
    prAuc: bothClasses ? orNull(averagePrecision(y, probability)) : null,
    captureRocAuc: orNull(weightedRocAuc(y, probability, captureWeights(groups))),
    recall: m.recall,
    precision: m.precision,
    f1: m.f1,
    accuracy: m.accuracy,
    mcc: m.mcc,
    balancedAccuracy: m.balancedAccuracy,
    flaggedShare: n > 0 ? (confusion.tp + confusion.fp) / n : 0,
    captureRecall: orNull(perCapture.mean.recall),
    captureFpr: orNull(perCapture.mean.fpr),
    confusion,
  };
}

/** The metrics as a flat record for selectBest (higher is better; undefined values rank last). */
export function selectionRecord(m: FlowMetrics): Record<FlowSelectionMetric, number> {
  const v = (x: number | null) => x ?? Number.NaN;
  return {
    rocAuc: v(m.rocAuc),
    prAuc: v(m.prAuc),
    captureRocAuc: v(m.captureRocAuc),
    recall: m.recall,
    precision: m.precision,
    f1: m.f1,
    mcc: m.mcc,
    balancedAccuracy: m.balancedAccuracy,
    captureRecall: v(m.captureRecall),
    captureSpecificity: m.captureFpr === null ? Number.NaN : 1 - m.captureFpr,
  };
}

function orNull(x: number): number | null {
  return Number.isNaN(x) ? null : x;
}
