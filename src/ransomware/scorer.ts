import type { ModelRef, Priority, Scorer } from "../core/stream/detector.ts";
import { compileScaledSvm } from "../models/scaled-svm.ts";
import { FEATURE_NAMES, gatedScore, showsHarm } from "./features.ts";
import type { RansomwareModel } from "./model.ts";

/**
 * A ransomware model as the engine's scorer: the SVM's decision value for one process's current features, aligned by
 * name to the model's feature list (a model from another threatlens version still scores, with the gaps reported at
 * load). With the model's harm gate, a process scores below the threshold until it shows harm. Priorities grow with
 * the margin above the threshold, in units of the SVM margin.
 */
export class RansomwareScorer implements Scorer {
  readonly threshold: number;
  readonly model: ModelRef;
  private readonly compiled: ReturnType<typeof compileScaledSvm>;
  private readonly sources: Int32Array;
  private readonly aligned: Float64Array;
  private readonly weights: Float64Array | null;

  constructor(
    private readonly ransomwareModel: RansomwareModel,
    identity: ModelRef,
  ) {
    this.threshold = ransomwareModel.threshold;
    this.model = identity;
    const index = new Map(FEATURE_NAMES.map((n, i) => [n, i]));
    this.sources = Int32Array.from(ransomwareModel.featureNames, (n) => index.get(n) ?? -1);
    this.aligned = new Float64Array(ransomwareModel.featureNames.length);
    this.compiled = compileScaledSvm(ransomwareModel.pipeline);
    const svm = ransomwareModel.pipeline.svm;
    this.weights = svm.kernel === "linear" && svm.primalWeights ? Float64Array.from(svm.primalWeights) : null;
  }

  score(features: Float64Array): number {
    const sources = this.sources;
    const aligned = this.aligned;
    for (let i = 0; i < sources.length; i++) aligned[i] = sources[i] >= 0 ? features[sources[i]] : 0;
    const decision = this.compiled.decision(aligned);
    const gate = this.ransomwareModel.harmGate;
    return gate ? gatedScore(decision, features, this.threshold, gate) : decision;
  }

  /** With a harm gate, a process that has not shown harm cannot reach the threshold: no need to run the SVM. */
  canCross(features: Float64Array): boolean {
    const gate = this.ransomwareModel.harmGate;
    return gate === undefined || showsHarm(features, gate);
  }

  priority(score: number): Priority {
    const margin = score - this.threshold;
    if (margin >= 1) return "critical";
    if (margin >= 0.5) return "error";
    return "warning";
  }

  /**
   * The features that pushed the score up most: for a linear SVM each feature's weight × its scaled value (an exact
   * decomposition of the decision value); for RBF the features furthest from the training mean.
   */
  explain(features: Float64Array, top: number): { feature: string; value: number; weight: number }[] {
    this.score(features);
    const prepared = this.compiled.prepared;
    const columns = this.ransomwareModel.pipeline.activeColumns;
    const items = columns.map((column, i) => ({
      feature: this.ransomwareModel.featureNames[column],
      value: this.aligned[column],
      weight: this.weights ? this.weights[i] * prepared[i] : Math.abs(prepared[i]),
    }));
    return items
      .sort((a, b) => b.weight - a.weight)
      .slice(0, top)
      .map((x) => ({ ...x, weight: Number(x.weight.toFixed(4)) }));
  }
}
