import { UsageError } from "../core/errors.ts";
import { prCurve, rocCurve, weightedRocAuc } from "../core/metrics.ts";
import { formatCaptureWarning } from "./capture/types.ts";
import type { FlowDataset, SkippedPackets } from "./dataset.ts";
import { captureWeights, type FlowMetrics, flowMetrics } from "./metrics.ts";
import type { FlowScorer } from "./model.ts";

export interface CaptureRow {
  capture: string;
  label: string;
  category: string;
  flows: number;
  /** Flows predicted malicious, and their share: recall for a malicious capture, FPR for a benign one. */
  flagged: number;
  flaggedShare: number;
}

export interface CategoryRow {
  category: string;
  label: string;
  captures: number;
  flows: number;
  /** Mean over the category's captures of the share of flows flagged. */
  flaggedShare: number;
  /** Malicious categories: ROC AUC of this category's flows against all benign flows, each capture weighted equally. */
  rocAuc: number | null;
}

export interface NetworkEvaluation extends FlowMetrics {
  threshold: number;
  flows: number;
  malicious: number;
  captures: number;
  perCapture: CaptureRow[];
  perCategory: CategoryRow[];
  /** Weights on standardised features, by |weight|. */
  features: { feature: string; weight: number }[];
  model: {
    kind: string;
    source: string;
    featureSet: string;
    flowSource: string;
    importance: "weight" | "splits" | "none";
  };
  ambiguousExcluded: string[];
  nonFiniteDropped: number;
  /** Unanswered connection attempts cut short by the end of their capture: not scored (see FlowDataset). */
  cutExcluded: number;
  /** Packets skipped while reading the captures, by reason, and the readers' warnings. */
  skipped: SkippedPackets;
  warnings: string[];
  roc: { fpr: number[]; tpr: number[] };
  pr: { recall: number[]; precision: number[] };
}

export function evaluateFlows(
  scorer: FlowScorer,
  data: FlowDataset,
): { evaluation: NetworkEvaluation; probability: Float64Array } {
  const y = data.y;
  if (y === null)
    throw new UsageError("evaluation needs labels: --manifest FILE or --label benign|malicious");
  const probability = scorer.probability(data.rows);
  const metrics = flowMetrics(y, probability, data.groups, scorer.threshold);
  const roc = rocCurve(y, probability);
  const pr = prCurve(y, probability);
  const { perCapture, perCategory } = captureBreakdown(data, y, probability, scorer.threshold);
  const evaluation: NetworkEvaluation = {
    ...metrics,
    threshold: scorer.threshold,
    flows: y.length,
    malicious: y.reduce((a, b) => a + b, 0),
    captures: perCapture.length,
    perCapture,
    perCategory,
    features: scorer.rankedWeights,
    model: {
      kind: scorer.kind,
      source: scorer.source,
      featureSet: scorer.featureSet,
      flowSource: scorer.flowSource,
      importance: scorer.importance,
    },
    ambiguousExcluded: data.ambiguous,
    nonFiniteDropped: data.nonFinite,
    cutExcluded: data.cutExcluded,
    skipped: data.skipped,
    warnings: data.warnings.map(formatCaptureWarning),
    roc: { fpr: roc.fpr, tpr: roc.tpr },
    pr: { recall: pr.recall, precision: pr.precision },
  };
  return { evaluation, probability };
}

/** Per-capture and per-category rows of scored flows (also used on out-of-fold cross-validation scores). */
export function captureBreakdown(
  data: FlowDataset,
  y: Uint8Array,
  probability: Float64Array,
  threshold: number,
): { perCapture: CaptureRow[]; perCategory: CategoryRow[] } {
  const perCapture = captureRows(data, y, probability, threshold);
  return { perCapture, perCategory: categoryRows(data, y, probability, perCapture) };
}

function captureRows(data: FlowDataset, y: Uint8Array, p: Float64Array, threshold: number): CaptureRow[] {
  const rows = new Map<string, CaptureRow>();
  for (let i = 0; i < y.length; i++) {
    let row = rows.get(data.groups[i]);
    if (!row) {
      row = {
        capture: data.groups[i],
        label: y[i] === 1 ? "malicious" : "benign",
        category: data.categories[i],
        flows: 0,
        flagged: 0,
        flaggedShare: 0,
      };
      rows.set(data.groups[i], row);
    }
    row.flows++;
    if (p[i] >= threshold) row.flagged++;
  }
  for (const row of rows.values()) row.flaggedShare = row.flagged / row.flows;
  return [...rows.values()].sort((a, b) => a.capture.localeCompare(b.capture));
}

function categoryRows(
  data: FlowDataset,
  y: Uint8Array,
  p: Float64Array,
  captures: CaptureRow[],
): CategoryRow[] {
  const byCategory = new Map<string, CaptureRow[]>();
  for (const c of captures) {
    const key = `${c.label}\0${c.category}`;
    byCategory.set(key, [...(byCategory.get(key) ?? []), c]);
  }
  const rows: CategoryRow[] = [];
  for (const [key, members] of byCategory) {
    const [label, category] = key.split("\0");
    let rocAuc: number | null = null;
    if (label === "malicious") {
      const idx: number[] = [];
      for (let i = 0; i < y.length; i++) if (y[i] === 0 || data.categories[i] === category) idx.push(i);
      const groups = idx.map((i) => data.groups[i]);
      const auc = weightedRocAuc(
        idx.map((i) => y[i]),
        idx.map((i) => p[i]),
        captureWeights(groups),
      );
      rocAuc = Number.isNaN(auc) ? null : auc;
    }
    rows.push({
      category,
      label,
      captures: members.length,
      flows: members.reduce((a, c) => a + c.flows, 0),
      flaggedShare: members.reduce((a, c) => a + c.flaggedShare, 0) / members.length,
      rocAuc,
    });
  }
  return rows.sort((a, b) => a.label.localeCompare(b.label) || a.category.localeCompare(b.category));
}
