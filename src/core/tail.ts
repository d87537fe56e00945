/**
 * Turning anomaly scores into tail probabilities against normal data, combining them, and saying how sure a
 * false-positive rate measured on a finite sample is.
 *
 * - `EmpiricalTail`: the share of normal calibration scores at or above a score, with the +1 of a conformal p-value
 *   ((1 + #{normal ≥ s}) / (n + 1)), so it is never 0 and one signal's −log p is at most log(n + 1): a single signal,
 *   however extreme, cannot outweigh the others without bound.
 * - `fisherStatistic`: Σ −log p over signals (Fisher's method, used as a score: the signals are not independent, so
 *   its χ² reading is not claimed; its threshold is calibrated on normal data like any score).
 * - `sidakMinimum`: the smallest of m p-values as one p-value (Šidák): 1 − (1 − min)^m, the chance that the smallest of
 *   m independent uniform p-values is that small. For signals that read the same thing it keeps one strong signal
 *   from being counted m times.
 * - `clopperPearson`: the exact binomial confidence interval of a rate k / n.
 */
import { UsageError } from "./errors.ts";

export class EmpiricalTail {
  private readonly sorted: Float64Array;

  constructor(normalScores: ArrayLike<number>) {
    this.sorted = Float64Array.from(normalScores).sort();
    if (this.sorted.some((v) => Number.isNaN(v))) throw new UsageError("calibration scores contain NaN");
  }

  get size(): number {
    return this.sorted.length;
  }

  /** Normal scores at or above `score`. */
  atOrAbove(score: number): number {
    // First index with sorted[i] >= score.
    let lo = 0;
    let hi = this.sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.sorted[mid] < score) lo = mid + 1;
      else hi = mid;
    }
    return this.sorted.length - lo;
  }

  /**
   * (1 + #{normal ≥ score}) / (n + 1). With `exclude`, one of the calibration scores (the trace's own, when a
   * calibration trace is scored as if it were new) is left out: (1 + #{others ≥ score}) / n. A value that is not
   * among the scores (a trace compared with another profile's tail) leaves nothing out: the probability stays at
   * least 1/n, never 0 (whose −log would make a score infinite).
   */
  probability(score: number, exclude?: number): number {
    if (exclude === undefined || this.sorted.length === 0)
      return (1 + this.atOrAbove(score)) / (this.sorted.length + 1);
    const others = Math.max(0, this.atOrAbove(score) - (exclude >= score ? 1 : 0));
    return (1 + others) / this.sorted.length;
  }

  values(): Float64Array {
    return this.sorted;
  }
}

export function fisherStatistic(probabilities: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < probabilities.length; i++) sum -= Math.log(probabilities[i]);
  return sum;
}

export function sidakMinimum(probabilities: ArrayLike<number>): number {
  if (probabilities.length === 0) throw new UsageError("no p-values to combine");
  let min = 1;
  for (let i = 0; i < probabilities.length; i++) min = Math.min(min, probabilities[i]);
  // 1 − (1 − min)^m without cancellation for small min.
  return -Math.expm1(probabilities.length * Math.log1p(-min));
}

/**
 * Exact (Clopper–Pearson) two-sided confidence interval for a binomial proportion with `k` successes out of `n`:
 * the bounds are the beta quantiles B(α/2; k, n−k+1) and B(1−α/2; k+1, n−k), found here by bisection on the binomial
 * tail sums they are defined by (no special functions needed; exact to ~1e-12).
 */
export function clopperPearson(k: number, n: number, confidence = 0.95): { lower: number; upper: number } {
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`need n ≥ 1 trials, got ${n}`);
  if (!Number.isInteger(k) || k < 0 || k > n)
    throw new UsageError(`successes must be in [0, ${n}], got ${k}`);
  if (!(confidence > 0 && confidence < 1))
    throw new UsageError(`confidence must be in (0, 1), got ${confidence}`);
  const alpha = 1 - confidence;
  // lower: the p with P(X ≥ k | p) = α/2; upper: the p with P(X ≤ k | p) = α/2.
  const lower = k === 0 ? 0 : solve((p) => 1 - binomialCdf(k - 1, n, p) - alpha / 2);
  const upper = k === n ? 1 : solve((p) => alpha / 2 - binomialCdf(k, n, p));
  return { lower, upper };
}

/** P(X ≤ k) for X ~ Binomial(n, p), summed in log space so large n does not underflow. */
export function binomialCdf(k: number, n: number, p: number): number {
  if (k < 0) return 0;
  if (k >= n) return 1;
  if (p <= 0) return 1;
  if (p >= 1) return 0;
  const logP = Math.log(p);
  const logQ = Math.log1p(-p);
  let logTerm = n * logQ; // i = 0
  let sum = Math.exp(logTerm);
  for (let i = 1; i <= k; i++) {
    logTerm += Math.log((n - i + 1) / i) + logP - logQ;
    sum += Math.exp(logTerm);
  }
  return Math.min(1, sum);
}

/** The root in (0, 1) of an increasing function, by bisection. */
function solve(f: (p: number) => number): number {
  let lo = 0;
  let hi = 1;
  for (let i = 0; i < 200 && hi - lo > 1e-15; i++) {
    const mid = (lo + hi) / 2;
    if (f(mid) < 0) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}
