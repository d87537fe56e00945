import { UsageError } from "./errors.ts";

/**
 * Hyperparameter grids: a JSON object whose array-valued keys are searched (their Cartesian product, in key
 * order then value order, so runs are reproducible) and whose other keys are fixed settings.
 */
export type GridSpace = Record<string, readonly unknown[]>;

export function expandGrid<T extends Record<string, unknown>>(space: GridSpace): T[] {
  let out: Record<string, unknown>[] = [{}];
  for (const [key, values] of Object.entries(space)) {
    if (!Array.isArray(values) || values.length === 0) {
      throw new UsageError(`grid parameter "${key}" must be a non-empty array of values`);
    }
    const next: Record<string, unknown>[] = [];
    for (const partial of out) for (const value of values) next.push({ ...partial, [key]: value });
    out = next;
  }
  return out as T[];
}

/** Metrics a search can rank by; higher is better for all of them. */
export type SelectionMetric = "recall" | "precision" | "f1" | "mcc" | "balancedAccuracy" | "rocAuc" | "prAuc";
export const SELECTION_METRICS: readonly SelectionMetric[] = [
  "recall",
  "precision",
  "f1",
  "mcc",
  "balancedAccuracy",
  "rocAuc",
  "prAuc",
];

/**
 * Index of the best candidate by lexicographic comparison of `keys` (e.g. recall first, then MCC). NaN ranks
 * last; exact ties keep the earlier candidate, so the grid order breaks them deterministically.
 */
export function selectBest(candidates: readonly Record<string, number>[], keys: readonly string[]): number {
  if (candidates.length === 0) throw new RangeError("no candidates to select from");
  let best = 0;
  for (let i = 1; i < candidates.length; i++) {
    for (const key of keys) {
      const a = candidates[i][key];
      const b = candidates[best][key];
      const av = Number.isNaN(a) ? Number.NEGATIVE_INFINITY : a;
      const bv = Number.isNaN(b) ? Number.NEGATIVE_INFINITY : b;
      if (av > bv + 1e-12) {
        best = i;
        break;
      }
      if (av < bv - 1e-12) break;
    }
  }
  return best;
}

export function parseSelection(text: string): SelectionMetric[] {
  const keys = text.split(/[,>]/).map((k) => k.trim());
  for (const key of keys) {
    if (!SELECTION_METRICS.includes(key as SelectionMetric)) {
      throw new UsageError(`unknown selection metric "${key}"; choose from ${SELECTION_METRICS.join(", ")}`);
    }
  }
  return keys as SelectionMetric[];
}
