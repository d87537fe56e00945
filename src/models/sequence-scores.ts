/**
 * Per-window anomaly scores relative to each token's normal level: pure functions used by the autoencoder signal's
 * "token" normalisation.
 */
import { UsageError } from "../core/errors.ts";

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
