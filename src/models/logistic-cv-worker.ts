import type { Fold } from "../core/folds.ts";
import type { LogisticParams } from "./logistic.ts";
import {
  type ClassWeightSpec,
  fitScaledLogistic,
  probaScaledLogistic,
  resolveClassWeight,
} from "./scaled-logistic.ts";
import type { FeatureTransform } from "./scaled-svm.ts";

/** One grid point evaluated by k-fold cross-validation in a worker thread: out-of-fold probabilities. */
export interface LogisticCvTask {
  /** Row-major feature matrix (a SharedArrayBuffer, so tasks share it without copies). */
  X: Float64Array;
  columns: number;
  y: Uint8Array;
  folds: Fold[];
  params: Omit<LogisticParams, "classWeight">;
  classWeight: ClassWeightSpec;
  transform: FeatureTransform;
}

export interface LogisticCvResult {
  probability: Float64Array;
  fitMs: number;
  /** Largest solver iteration count over the folds, and whether every fold converged. */
  maxIterations: number;
  converged: boolean;
}

export default function evaluateLogisticFolds(task: LogisticCvTask): LogisticCvResult {
  const rows: Float64Array[] = [];
  for (let r = 0; r < task.y.length; r++)
    rows.push(task.X.subarray(r * task.columns, (r + 1) * task.columns));
  const probability = new Float64Array(task.y.length);
  const started = performance.now();
  let maxIterations = 0;
  let converged = true;
  for (const fold of task.folds) {
    const y = fold.train.map((i) => task.y[i]);
    const model = fitScaledLogistic(
      fold.train.map((i) => rows[i]),
      y,
      { ...task.params, classWeight: resolveClassWeight(task.classWeight, y) },
      task.transform,
    );
    maxIterations = Math.max(maxIterations, model.logistic.iterations);
    converged &&= model.logistic.converged;
    const p = probaScaledLogistic(
      model,
      fold.test.map((i) => rows[i]),
    );
    fold.test.forEach((i, k) => {
      probability[i] = p[k];
    });
  }
  return { probability, fitMs: performance.now() - started, maxIterations, converged };
}
