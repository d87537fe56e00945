import { seededRandom, shuffleInPlace } from "./random.ts";

/**
 * Permutation feature importance: how much a score metric drops when one column's values are shuffled across rows
 * (breaking its link to the label while keeping its distribution). Model-agnostic: it only calls `score`.
 */
export interface Importance {
  column: number;
  /** Mean drop of the metric over the repeats (positive = the model relies on the column). */
  mean: number;
  std: number;
}

export interface ImportanceOptions {
  repeats?: number;
  seed?: number;
  /** Columns to permute; others are reported with importance 0 (e.g. columns the model never reads). */
  columns?: readonly number[];
  onProgress?: (done: number, total: number) => void;
}

export function permutationImportance(
  rows: readonly Float64Array[],
  y: ArrayLike<number>,
  score: (rows: readonly Float64Array[]) => ArrayLike<number>,
  metric: (y: ArrayLike<number>, scores: ArrayLike<number>) => number,
  options: ImportanceOptions = {},
): { baseline: number; importances: Importance[] } {
  const repeats = options.repeats ?? 5;
  const random = seededRandom(options.seed ?? 0);
  const width = rows[0]?.length ?? 0;
  const baseline = metric(y, score(rows));
  const columns = options.columns ?? Array.from({ length: width }, (_, i) => i);
  const importances: Importance[] = Array.from({ length: width }, (_, column) => ({
    column,
    mean: 0,
    std: 0,
  }));
  const permuted = rows.map((r) => Float64Array.from(r));
  const order = rows.map((_, i) => i);
  let done = 0;
  for (const column of columns) {
    const drops: number[] = [];
    for (let k = 0; k < repeats; k++) {
      shuffleInPlace(order, random);
      for (let i = 0; i < rows.length; i++) permuted[i][column] = rows[order[i]][column];
      drops.push(baseline - metric(y, score(permuted)));
    }
    for (let i = 0; i < rows.length; i++) permuted[i][column] = rows[i][column];
    const mean = drops.reduce((a, b) => a + b, 0) / repeats;
    const std = Math.sqrt(drops.reduce((a, b) => a + (b - mean) ** 2, 0) / repeats);
    importances[column] = { column, mean, std };
    options.onProgress?.(++done, columns.length);
  }
  return { baseline, importances };
}
