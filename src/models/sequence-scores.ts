/**
 * Turning per-window anomaly scores into one score per sequence (trace). Pure functions so every detector and the
 * grid search aggregate the same way.
 *
 * On ADFA-LD the mean is the aggregation that works for window autoencoders: the highest window losses come from
 * rare but normal behaviour, so max and small top-k track rarity more than attack.
 */
import { UsageError } from "../core/errors.ts";

export type Aggregation =
  | { kind: "mean" }
  | { kind: "median" }
  | { kind: "max" }
  /** Mean of the `fraction` highest window scores (at least one window). */
  | { kind: "top-fraction"; fraction: number }
  /** Share of windows scoring above `threshold` (e.g. a high quantile of normal held-out windows). */
  | { kind: "share-above"; threshold: number };

export function parseAggregation(text: string): Aggregation {
  if (text === "mean" || text === "median" || text === "max") return { kind: text };
  const top = /^top-(\d*\.?\d+)$/.exec(text);
  if (top) {
    const fraction = Number(top[1]);
    if (fraction > 0 && fraction <= 1) return { kind: "top-fraction", fraction };
  }
  throw new UsageError(`unknown aggregation "${text}" (use mean, median, max or top-F with 0 < F ≤ 1)`);
}

/** Scores of `windowScores[offsets[i] .. offsets[i+1])` aggregated per sequence; offsets has n+1 entries. */
export function aggregateSequences(
  windowScores: Float32Array,
  offsets: ArrayLike<number>,
  aggregation: Aggregation,
): Float64Array {
  const out = new Float64Array(offsets.length - 1);
  for (let i = 0; i + 1 < offsets.length; i++) {
    const start = offsets[i];
    const end = offsets[i + 1];
    if (!(end > start) || start < 0 || end > windowScores.length) {
      throw new UsageError(`sequence ${i} has the empty or invalid window range [${start}, ${end})`);
    }
    out[i] = aggregateOne(windowScores.subarray(start, end), aggregation);
  }
  return out;
}

export function aggregateOne(scores: Float32Array, aggregation: Aggregation): number {
  switch (aggregation.kind) {
    case "mean": {
      let sum = 0;
      for (const s of scores) sum += s;
      return sum / scores.length;
    }
    case "max": {
      let max = -Infinity;
      for (const s of scores) if (s > max) max = s;
      return max;
    }
    case "median": {
      const sorted = Float32Array.from(scores).sort();
      const mid = sorted.length >> 1;
      return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }
    case "top-fraction": {
      const sorted = Float32Array.from(scores).sort();
      const k = Math.max(1, Math.round(sorted.length * aggregation.fraction));
      let sum = 0;
      for (let i = sorted.length - k; i < sorted.length; i++) sum += sorted[i];
      return sum / k;
    }
    case "share-above": {
      let above = 0;
      for (const s of scores) if (s > aggregation.threshold) above++;
      return above / scores.length;
    }
  }
}

/** The q-quantile (0 ≤ q ≤ 1, linear interpolation) of `values`, e.g. for a threshold learned on normal data. */
export function quantile(values: ArrayLike<number>, q: number): number {
  if (values.length === 0) throw new UsageError("quantile of an empty set");
  if (!(q >= 0 && q <= 1)) throw new UsageError(`quantile level must be in [0, 1], got ${q}`);
  const sorted = Float64Array.from(values).sort();
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/**
 * Per-token loss normalisation learned on normal data: each position's loss minus the mean loss that its token gets
 * on normal windows (shrunk towards the global mean for rare tokens), so rare-but-normal tokens stop dominating.
 */
export interface TokenBaseline {
  globalMean: number;
  tokenMean: Float64Array;
}

export function fitTokenBaseline(
  tokens: Int32Array,
  positionLosses: Float32Array,
  vocabSize: number,
  shrinkage = 5,
): TokenBaseline {
  if (tokens.length !== positionLosses.length)
    throw new UsageError("tokens and position losses differ in length");
  const sum = new Float64Array(vocabSize);
  const count = new Float64Array(vocabSize);
  let total = 0;
  for (let i = 0; i < tokens.length; i++) {
    sum[tokens[i]] += positionLosses[i];
    count[tokens[i]]++;
    total += positionLosses[i];
  }
  const globalMean = tokens.length > 0 ? total / tokens.length : 0;
  const tokenMean = new Float64Array(vocabSize);
  for (let t = 0; t < vocabSize; t++)
    tokenMean[t] = (sum[t] + globalMean * shrinkage) / (count[t] + shrinkage);
  return { globalMean, tokenMean };
}

/** Window scores: the mean over positions of (loss − the token's normal mean loss). */
export function normalisedWindowScores(
  tokens: Int32Array,
  positionLosses: Float32Array,
  windowLength: number,
  baseline: TokenBaseline,
): Float32Array {
  const n = tokens.length / windowLength;
  const out = new Float32Array(n);
  for (let w = 0; w < n; w++) {
    let sum = 0;
    for (let p = 0; p < windowLength; p++) {
      const i = w * windowLength + p;
      sum += positionLosses[i] - baseline.tokenMean[tokens[i]];
    }
    out[w] = sum / windowLength;
  }
  return out;
}
