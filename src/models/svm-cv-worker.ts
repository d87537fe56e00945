import type { Fold } from "../core/folds.ts";
import { applyPreprocessing, type FeatureTransform, fitPreprocessing } from "./scaled-svm.ts";
import { decisionFunction, type SvmParams, trainSvm } from "./svm.ts";

/** One grid point evaluated by k-fold cross-validation in a worker thread: out-of-fold decision values. */
export interface SvmCvTask {
  /** Identifies the data set and folds of one search: preprocessed folds are cached per worker under it. */
  searchId: string;
  /** Row-major feature matrix (a SharedArrayBuffer view, so tasks share it without copies). */
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

interface PreparedFold {
  train: Float64Array[];
  trainY: number[];
  test: Float64Array[];
  testIndex: number[];
}

// Scaling depends only on the fold and the transform, not on C, gamma or class weights: every candidate of a
// search reuses it, which saves a third of the work per fit.
let cachedSearch = "";
const cache = new Map<FeatureTransform, PreparedFold[]>();

function preparedFolds(task: SvmCvTask): PreparedFold[] {
  if (task.searchId !== cachedSearch) {
    cache.clear();
    cachedSearch = task.searchId;
  }
  let folds = cache.get(task.transform);
  if (folds === undefined) {
    const rows: Float64Array[] = [];
    for (let r = 0; r < task.y.length; r++)
      rows.push(task.X.subarray(r * task.columns, (r + 1) * task.columns));
    folds = task.folds.map((fold) => {
      const { preprocessing, prepared } = fitPreprocessing(
        fold.train.map((i) => rows[i]),
        task.transform,
      );
      return {
        train: prepared,
        trainY: fold.train.map((i) => task.y[i]),
        test: applyPreprocessing(
          preprocessing,
          fold.test.map((i) => rows[i]),
        ),
        testIndex: fold.test,
      };
    });
    cache.set(task.transform, folds);
  }
  return folds;
}

export default async function evaluateSvmFolds(task: SvmCvTask): Promise<SvmCvResult> {
  const started = performance.now();
  const decision = new Float64Array(task.y.length);
  for (const fold of preparedFolds(task)) {
    const svm = await trainSvm(fold.train, fold.trainY, task.params);
    const scores = decisionFunction(svm, fold.test);
    fold.testIndex.forEach((i, k) => {
      decision[i] = scores[k];
    });
  }
  return { decision, fitMs: performance.now() - started };
}
