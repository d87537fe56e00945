import type { Fold } from "../core/folds.ts";
import { decisionScaledSvm, type FeatureTransform, fitScaledSvm } from "./scaled-svm.ts";
import type { SvmParams } from "./svm.ts";

/** One grid point evaluated by k-fold cross-validation in a worker thread: out-of-fold decision values. */
export interface SvmCvTask {
  /** Row-major feature matrix. */
  X: Float64Array;
  columns: number;
  y: Uint8Array;
  folds: Fold[];
  params: SvmParams;
  transform: FeatureTransform;
}

export interface SvmCvResult {
  decision: Float64Array;
  fitMs: number;
}

export default async function evaluateSvmFolds(task: SvmCvTask): Promise<SvmCvResult> {
  const rows: Float64Array[] = [];
  for (let r = 0; r < task.y.length; r++)
    rows.push(task.X.subarray(r * task.columns, (r + 1) * task.columns));
  const decision = new Float64Array(task.y.length);
  const started = performance.now();
  for (const fold of task.folds) {
    const model = await fitScaledSvm(
      fold.train.map((i) => rows[i]),
      fold.train.map((i) => task.y[i]),
      task.params,
      task.transform,
    );
    const scores = decisionScaledSvm(
      model,
      fold.test.map((i) => rows[i]),
    );
    fold.test.forEach((i, k) => {
      decision[i] = scores[k];
    });
  }
  return { decision, fitMs: performance.now() - started };
}
