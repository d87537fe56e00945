import { type GbdtParams, gbdtProbability, trainGbdt } from "./gbdt.ts";
import { type SampleWeighting, sampleWeights } from "./sample-weights.ts";

/** One (candidate, fold) of a boosted-trees search, run in a worker thread: the test rows' probabilities. */
export interface GbdtFoldTask {
  /** Row-major features, labels and group codes of all rows (SharedArrayBuffers: no copy per task). */
  X: Float64Array;
  columns: number;
  y: Uint8Array;
  groups: Int32Array;
  train: number[];
  test: number[];
  params: GbdtParams;
  weighting: SampleWeighting;
}

export interface GbdtFoldResult {
  probability: Float64Array;
  fitMs: number;
}

export function rowsOf(X: Float64Array, columns: number, indices: readonly number[]): Float64Array {
  const out = new Float64Array(indices.length * columns);
  indices.forEach((r, k) => {
    out.set(X.subarray(r * columns, (r + 1) * columns), k * columns);
  });
  return out;
}

export default function evaluateGbdtFold(task: GbdtFoldTask): GbdtFoldResult {
  const started = performance.now();
  const y = Uint8Array.from(task.train, (i) => task.y[i]);
  const groups = Int32Array.from(task.train, (i) => task.groups[i]);
  const model = trainGbdt(
    rowsOf(task.X, task.columns, task.train),
    task.columns,
    y,
    sampleWeights(y, groups, task.weighting),
    task.params,
  );
  const fitMs = performance.now() - started;
  const probability = gbdtProbability(model, rowsOf(task.X, task.columns, task.test), task.test.length);
  return { probability, fitMs };
}
