import type { ModelRef, Priority, Scorer } from "../../core/stream/detector.ts";
import type { GbdtModel } from "../../models/gbdt.ts";
import { anomalyScore, blendScores, isGbdt, isKitnet, modelScorer, type NetworkModel } from "../model.ts";

/**
 * A network model as a per-flow scoring function and as the streaming engine's scorer. Every feature set is a prefix
 * of the flow feature vector (FlowMeter's 39 ⊂ the 56 flow statistics ⊂ those plus the 96 context features), so a
 * model reads the first `width` values of a flow's full feature vector whichever set it was trained on.
 */
export interface FlowModel {
  /** Higher is more suspicious; at or above `threshold` a flow is flagged. */
  score(features: Float64Array): number;
  readonly threshold: number;
  /** Scores this far below the threshold close an open incident (after the policy's release time). */
  readonly hysteresis: number;
  priority(score: number): Priority;
  readonly width: number;
}

/** Boosted trees walked in place on the feature vector: no copy, no allocation per flow. */
function gbdtRowScore(model: GbdtModel): (row: Float64Array) => number {
  const trees = model.trees.map((t) => ({
    feature: Int32Array.from(t.feature),
    threshold: Float64Array.from(t.threshold),
    left: Int32Array.from(t.left),
    right: Int32Array.from(t.right),
    value: Float64Array.from(t.value),
  }));
  const baseline = model.baseline;
  return (row) => {
    let s = baseline;
    for (let i = 0; i < trees.length; i++) {
      const t = trees[i];
      let k = 0;
      while (t.feature[k] >= 0) k = row[t.feature[k]] <= t.threshold[k] ? t.left[k] : t.right[k];
      s += t.value[k];
    }
    return 1 / (1 + Math.exp(-s));
  };
}

/**
 * Any network model as a flow model. Probability-scored (supervised) models: flagged at P ≥ threshold, priority by how
 * sure the model is. The anomaly model's score r / (r + t) is 0.5 at its calibrated threshold t, 2/3 at 2t and 0.9 at
 * 9t, so the same scale carries "how far past the threshold". Boosted trees with an anomaly part score the mean of the
 * two (blendScores), with priorities on that scale.
 */
export function networkFlowModel(model: NetworkModel): FlowModel {
  const width = model.featureNames.length;
  if (isKitnet(model)) {
    return {
      score: anomalyScore(model),
      threshold: model.threshold,
      // Below r = t/3: well inside what benign traffic does.
      hysteresis: 0.25,
      width,
      priority: (s) => (s >= 0.9 ? "critical" : s >= 2 / 3 ? "error" : "warning"),
    };
  }
  const threshold = model.threshold;
  let score: (row: Float64Array) => number;
  // How sure the model must be for each priority: on the probability scale 0.9 and 0.98. The blended scale tops out
  // lower: 0.75 is sure trees with the anomaly part at its threshold (or both well past theirs), 0.9 needs the
  // anomaly part far out too (r ≥ 4t with sure trees): a scan or flood scores 0.93.
  let levels = { error: 0.9, critical: 0.98 };
  if (isGbdt(model) && model.anomaly !== undefined) {
    const trees = gbdtRowScore(model.gbdt);
    const anomaly = anomalyScore(model.anomaly);
    score = (row) => blendScores(trees(row), anomaly(row));
    levels = { error: 0.75, critical: 0.9 };
  } else if (isGbdt(model)) score = gbdtRowScore(model.gbdt);
  else {
    const batch = modelScorer(model, "");
    score = (row) => batch.probability([row.subarray(0, width)])[0];
  }
  return {
    score,
    threshold,
    // The engine's default (0.25) on the probability scale: an incident closes once its flows score below 0.25.
    hysteresis: Math.min(0.25, threshold / 2),
    width,
    priority: (p) =>
      p >= levels.critical ? "critical" : p >= Math.max(threshold, levels.error) ? "error" : "warning",
  };
}

/** The engine's view: the flow model scoring the feature vector the detector hands it. */
export class NetworkScorer implements Scorer {
  readonly threshold: number;

  constructor(
    private readonly flowModel: FlowModel,
    readonly model: ModelRef,
  ) {
    this.threshold = flowModel.threshold;
  }

  score(features: Float64Array): number {
    return this.flowModel.score(features);
  }

  priority(score: number): Priority {
    return this.flowModel.priority(score);
  }
}
