/**
 * Evaluation metrics for binary detectors. Labels are 0/1 (1 = positive/attack); scores are "higher = more
 * positive" and a sample is predicted positive when `score >= threshold`.
 *
 * The ranking metrics reproduce scikit-learn (roc_curve with drop_intermediate=False, roc_auc_score,
 * precision_recall_curve, average_precision_score) so numbers can be compared with published Python baselines.
 * They sort the positive and the negative scores separately with the native typed-array sort and merge the two,
 * which is O(n log n) without an index permutation.
 */
import { InputError, UsageError } from "./errors.ts";

export interface Confusion {
  tp: number;
  fp: number;
  tn: number;
  fn: number;
}

export interface BinaryMetrics {
  accuracy: number;
  recall: number;
  precision: number;
  specificity: number;
  fpr: number;
  f1: number;
  mcc: number;
  balancedAccuracy: number;
}

export interface RocCurve {
  fpr: number[];
  tpr: number[];
  /** Decreasing; the first is +Infinity (the point (0, 0)). */
  thresholds: number[];
}

export interface PrCurve {
  /** precision[i] and recall[i] belong to thresholds[i]; the last pair (1, 0) has no threshold. */
  precision: number[];
  recall: number[];
  /** Increasing: one per distinct score. */
  thresholds: number[];
}

export interface ScoreSummary extends BinaryMetrics {
  confusion: Confusion;
  rocAuc: number;
  /** average precision (see `averagePrecision`). */
  prAuc: number;
}

export interface GroupMetrics {
  group: string;
  size: number;
  positives: number;
  confusion: Confusion;
  /** NaN when the group has no positives. */
  recall: number;
  /** NaN when nothing in the group is predicted positive. */
  precision: number;
  /** NaN when the group has no negatives. */
  fpr: number;
  /** NaN unless the group has both classes. */
  rocAuc: number;
}

export interface PerGroupMetrics {
  /** Sorted by group name. */
  groups: GroupMetrics[];
  /** Each group weighted equally; groups where a metric is NaN are left out of that metric's mean. */
  mean: { recall: number; precision: number; fpr: number; rocAuc: number };
}

export function confusionFromPredictions(yTrue: ArrayLike<number>, yPred: ArrayLike<number>): Confusion {
  checkSameLength(yTrue, yPred, "predictions");
  const c: Confusion = { tp: 0, fp: 0, tn: 0, fn: 0 };
  for (let i = 0; i < yTrue.length; i++) {
    const truth = label(yTrue, i);
    const pred = yPred[i];
    if (pred !== 0 && pred !== 1)
      throw new InputError(`prediction at index ${i} is ${pred}, expected 0 or 1`);
    if (truth === 1) pred === 1 ? c.tp++ : c.fn++;
    else pred === 1 ? c.fp++ : c.tn++;
  }
  return c;
}

export function confusionAtThreshold(
  yTrue: ArrayLike<number>,
  scores: ArrayLike<number>,
  threshold: number,
): Confusion {
  checkSameLength(yTrue, scores, "scores");
  if (Number.isNaN(threshold)) throw new UsageError("threshold is NaN");
  const c: Confusion = { tp: 0, fp: 0, tn: 0, fn: 0 };
  for (let i = 0; i < yTrue.length; i++) {
    const positive = score(scores, i) >= threshold;
    if (label(yTrue, i) === 1) positive ? c.tp++ : c.fn++;
    else positive ? c.fp++ : c.tn++;
  }
  return c;
}

/**
 * Threshold metrics with scikit-learn's zero_division=0: a ratio whose denominator is 0 is 0 (e.g. precision
 * when nothing is predicted positive, MCC when a row or column of the confusion matrix is empty).
 * balancedAccuracy is the mean recall over the classes present in the truth, as sklearn's
 * balanced_accuracy_score (so with no negatives it equals recall).
 */
export function binaryMetrics(c: Confusion): BinaryMetrics {
  const { tp, fp, tn, fn } = c;
  const positives = tp + fn;
  const negatives = tn + fp;
  const recall = ratio(tp, positives);
  const specificity = ratio(tn, negatives);
  const classRecalls = (positives > 0 ? 1 : 0) + (negatives > 0 ? 1 : 0);
  const mccDenominator = Math.sqrt((tp + fp) * positives * negatives * (tn + fn));
  return {
    accuracy: ratio(tp + tn, positives + negatives),
    recall,
    precision: ratio(tp, tp + fp),
    specificity,
    fpr: ratio(fp, negatives),
    f1: ratio(2 * tp, 2 * tp + fp + fn),
    mcc: mccDenominator === 0 ? 0 : (tp * tn - fp * fn) / mccDenominator,
    balancedAccuracy: ratio(recall + specificity, classRecalls),
  };
}

/** sklearn roc_curve(drop_intermediate=False). With one class absent, that class's rate is all NaN. */
export function rocCurve(yTrue: ArrayLike<number>, scores: ArrayLike<number>): RocCurve {
  const curve = binaryClfCurve(yTrue, scores);
  const m = curve.thresholds.length;
  const fpr = new Array<number>(m + 1);
  const tpr = new Array<number>(m + 1);
  const thresholds = new Array<number>(m + 1);
  fpr[0] = curve.negatives > 0 ? 0 : Number.NaN;
  tpr[0] = curve.positives > 0 ? 0 : Number.NaN;
  thresholds[0] = Number.POSITIVE_INFINITY;
  for (let i = 0; i < m; i++) {
    fpr[i + 1] = curve.fps[i] / curve.negatives;
    tpr[i + 1] = curve.tps[i] / curve.positives;
    thresholds[i + 1] = curve.thresholds[i];
  }
  return { fpr, tpr, thresholds };
}

/**
 * Area under the ROC curve, counting a tied positive/negative pair as half: exactly the Mann–Whitney
 * U / (P·N). The trapezoid sum is accumulated in integer counts, so it is exact up to the final division.
 * NaN if either class is absent (sklearn raises there).
 */
export function rocAuc(yTrue: ArrayLike<number>, scores: ArrayLike<number>): number {
  const { tps, fps, positives, negatives } = binaryClfCurve(yTrue, scores);
  if (positives === 0 || negatives === 0) return Number.NaN;
  let twiceArea = 0;
  let prevTp = 0;
  let prevFp = 0;
  for (let i = 0; i < tps.length; i++) {
    twiceArea += (fps[i] - prevFp) * (tps[i] + prevTp);
    prevTp = tps[i];
    prevFp = fps[i];
  }
  return twiceArea / (2 * positives * negatives);
}

/**
 * ROC AUC with sample weights (sklearn roc_auc_score(sample_weight=…)): the weighted share of positive/negative
 * pairs ranked correctly, ties counting half. With weight 1/|group| per sample it weights every group (e.g. every
 * capture) equally, whatever its size. NaN if either class has no weight.
 */
export function weightedRocAuc(
  yTrue: ArrayLike<number>,
  scores: ArrayLike<number>,
  weights: ArrayLike<number>,
): number {
  checkSameLength(yTrue, scores, "scores");
  checkSameLength(yTrue, weights, "weights");
  const n = yTrue.length;
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    label(yTrue, i);
    score(scores, i);
    const w = weights[i];
    if (!(w >= 0) || !Number.isFinite(w))
      throw new InputError(`weight at index ${i} is ${w}, not a finite number ≥ 0`);
    order[i] = i;
  }
  order.sort((a, b) => scores[a] - scores[b]);
  let negativeBelow = 0;
  let area = 0;
  let positives = 0;
  for (let start = 0; start < n; ) {
    let end = start;
    let tiePositive = 0;
    let tieNegative = 0;
    while (end < n && scores[order[end]] === scores[order[start]]) {
      const i = order[end++];
      if (yTrue[i] === 1) tiePositive += weights[i];
      else tieNegative += weights[i];
    }
    area += tiePositive * (negativeBelow + tieNegative / 2);
    negativeBelow += tieNegative;
    positives += tiePositive;
    start = end;
  }
  if (positives === 0 || negativeBelow === 0) return Number.NaN;
  return area / (positives * negativeBelow);
}

/** sklearn precision_recall_curve(drop_intermediate=False); with no positives recall is 1 everywhere, as there. */
export function prCurve(yTrue: ArrayLike<number>, scores: ArrayLike<number>): PrCurve {
  const curve = binaryClfCurve(yTrue, scores);
  const m = curve.thresholds.length;
  const precision = new Array<number>(m + 1);
  const recall = new Array<number>(m + 1);
  const thresholds = new Array<number>(m);
  for (let i = 0; i < m; i++) {
    const j = m - 1 - i;
    // Every threshold comes from a score, so at least one sample is predicted positive: tp + fp > 0.
    precision[i] = curve.tps[j] / (curve.tps[j] + curve.fps[j]);
    recall[i] = curve.positives > 0 ? curve.tps[j] / curve.positives : 1;
    thresholds[i] = curve.thresholds[j];
  }
  precision[m] = 1;
  recall[m] = 0;
  return { precision, recall, thresholds };
}

/**
 * sklearn average_precision_score: Σ (R_i − R_{i−1}) · P_i over decreasing thresholds, without interpolation.
 * This is what threatlens reports as "PR AUC". NaN when there are no positives (sklearn warns and returns 0,
 * which would read as a real, terrible score in a per-capture average).
 */
export function averagePrecision(yTrue: ArrayLike<number>, scores: ArrayLike<number>): number {
  const { tps, fps, positives } = binaryClfCurve(yTrue, scores);
  if (positives === 0) return Number.NaN;
  let sum = 0;
  let prevTp = 0;
  for (let i = 0; i < tps.length; i++) {
    if (tps[i] !== prevTp) sum += ((tps[i] - prevTp) / positives) * (tps[i] / (tps[i] + fps[i]));
    prevTp = tps[i];
  }
  return sum;
}

/**
 * The smallest threshold t such that the share of negatives with score >= t is <= targetFpr.
 *
 * If k negatives may be flagged (the largest k with k/N <= targetFpr) and d is the (k+1)-th highest negative score,
 * t is the next double above d: every score strictly above d counts as positive, d itself does not. Negatives tied
 * with d all fall below t together, so with ties the achieved FPR can be lower than the target (never higher):
 * e.g. negatives [1, 2, 3, 3, 4] at target 0.4 give t just above 3 and an achieved FPR of 0.2. When all negatives
 * may be flagged (targetFpr = 1) t is -Infinity. A negative score of +Infinity cannot be excluded by any threshold.
 */
export function thresholdAtFpr(negativeScores: ArrayLike<number>, targetFpr: number): number {
  if (!(targetFpr >= 0 && targetFpr <= 1))
    throw new UsageError(`target FPR must be within [0, 1], got ${targetFpr}`);
  const n = negativeScores.length;
  if (n === 0) throw new InputError("cannot choose a threshold at a target FPR without negative samples");
  const sorted = new Float64Array(n);
  for (let i = 0; i < n; i++) sorted[i] = score(negativeScores, i);
  sorted.sort();
  // floor(targetFpr * n) can land one below the intended count (0.29 * 100 = 28.999…); compare as the rate is computed.
  let allowed = Math.floor(targetFpr * n);
  if ((allowed + 1) / n <= targetFpr) allowed++;
  if (allowed >= n) return Number.NEGATIVE_INFINITY;
  return nextUp(sorted[n - 1 - allowed]);
}

/** Threshold from `thresholdAtFpr` on the negatives, with the detection rate and the FPR it actually achieves. */
export function detectionRateAtFpr(
  yTrue: ArrayLike<number>,
  scores: ArrayLike<number>,
  targetFpr: number,
): { threshold: number; detectionRate: number; fpr: number } {
  checkSameLength(yTrue, scores, "scores");
  const negatives: number[] = [];
  for (let i = 0; i < yTrue.length; i++) if (label(yTrue, i) === 0) negatives.push(scores[i]);
  const threshold = thresholdAtFpr(negatives, targetFpr);
  const c = confusionAtThreshold(yTrue, scores, threshold);
  return {
    threshold,
    detectionRate: c.tp + c.fn > 0 ? c.tp / (c.tp + c.fn) : Number.NaN,
    fpr: c.fp / (c.fp + c.tn),
  };
}

export function scoreSummary(
  yTrue: ArrayLike<number>,
  scores: ArrayLike<number>,
  threshold: number,
): ScoreSummary {
  const confusion = confusionAtThreshold(yTrue, scores, threshold);
  return {
    confusion,
    ...binaryMetrics(confusion),
    rocAuc: rocAuc(yTrue, scores),
    prAuc: averagePrecision(yTrue, scores),
  };
}

/** Mean of the defined (non-NaN) values; NaN if there are none. */
export function macroAverage(values: ArrayLike<number>): number {
  let sum = 0;
  let count = 0;
  for (let i = 0; i < values.length; i++) {
    if (Number.isNaN(values[i])) continue;
    sum += values[i];
    count++;
  }
  return count === 0 ? Number.NaN : sum / count;
}

/**
 * Metrics per group (e.g. per capture) and their mean with every group weighted equally, so that one large
 * group cannot dominate. Unlike `binaryMetrics`, an undefined ratio is NaN here, so that it drops out of the mean
 * instead of counting as 0.
 */
/** The indexes of each group's members, in order, by group name (groups in order of first appearance). */
export function indexesByGroup(groups: ArrayLike<string>): Map<string, number[]> {
  const members = new Map<string, number[]>();
  for (let i = 0; i < groups.length; i++) {
    const list = members.get(groups[i]);
    if (list) list.push(i);
    else members.set(groups[i], [i]);
  }
  return members;
}

export function perGroupMetrics(
  yTrue: ArrayLike<number>,
  scores: ArrayLike<number>,
  groups: ArrayLike<string>,
  threshold: number,
): PerGroupMetrics {
  checkSameLength(yTrue, scores, "scores");
  checkSameLength(yTrue, groups, "groups");
  const members = indexesByGroup(groups);
  const names = [...members.keys()].sort();
  const result: GroupMetrics[] = names.map((group) => {
    const indices = members.get(group)!;
    const y = new Float64Array(indices.length);
    const s = new Float64Array(indices.length);
    indices.forEach((index, j) => {
      y[j] = yTrue[index];
      s[j] = scores[index];
    });
    const confusion = confusionAtThreshold(y, s, threshold);
    const { tp, fp, tn, fn } = confusion;
    return {
      group,
      size: indices.length,
      positives: tp + fn,
      confusion,
      recall: tp / (tp + fn),
      precision: tp / (tp + fp),
      fpr: fp / (fp + tn),
      rocAuc: rocAuc(y, s),
    };
  });
  const meanOf = (key: "recall" | "precision" | "fpr" | "rocAuc") => macroAverage(result.map((g) => g[key]));
  return {
    groups: result,
    mean: {
      recall: meanOf("recall"),
      precision: meanOf("precision"),
      fpr: meanOf("fpr"),
      rocAuc: meanOf("rocAuc"),
    },
  };
}

interface ClfCurve {
  /** Distinct scores, decreasing. */
  thresholds: Float64Array;
  /** Positives / negatives with score >= thresholds[i]. */
  tps: Float64Array;
  fps: Float64Array;
  positives: number;
  negatives: number;
}

/** sklearn's _binary_clf_curve: cumulative counts at each distinct score, highest first. */
function binaryClfCurve(yTrue: ArrayLike<number>, scores: ArrayLike<number>): ClfCurve {
  checkSameLength(yTrue, scores, "scores");
  const n = yTrue.length;
  let positives = 0;
  for (let i = 0; i < n; i++) positives += label(yTrue, i);
  const negatives = n - positives;
  const pos = new Float64Array(positives);
  const neg = new Float64Array(negatives);
  for (let i = 0, p = 0, q = 0; i < n; i++) {
    if (yTrue[i] === 1) pos[p++] = score(scores, i);
    else neg[q++] = score(scores, i);
  }
  pos.sort();
  neg.sort();
  const thresholds = new Float64Array(n);
  const tps = new Float64Array(n);
  const fps = new Float64Array(n);
  let i = positives - 1;
  let j = negatives - 1;
  let tp = 0;
  let fp = 0;
  let m = 0;
  while (i >= 0 || j >= 0) {
    const t = i < 0 ? neg[j] : j < 0 ? pos[i] : Math.max(pos[i], neg[j]);
    // === treats -0 and 0 as one score, as numpy's comparison does.
    while (i >= 0 && pos[i] === t) {
      tp++;
      i--;
    }
    while (j >= 0 && neg[j] === t) {
      fp++;
      j--;
    }
    thresholds[m] = t;
    tps[m] = tp;
    fps[m] = fp;
    m++;
  }
  return {
    thresholds: thresholds.subarray(0, m),
    tps: tps.subarray(0, m),
    fps: fps.subarray(0, m),
    positives,
    negatives,
  };
}

function ratio(numerator: number, denominator: number): number {
  return denominator === 0 ? 0 : numerator / denominator;
}

function label(yTrue: ArrayLike<number>, i: number): number {
  const y = yTrue[i];
  if (y !== 0 && y !== 1) throw new InputError(`label at index ${i} is ${y}, expected 0 or 1`);
  return y;
}

function score(scores: ArrayLike<number>, i: number): number {
  const s = scores[i];
  if (typeof s !== "number" || Number.isNaN(s))
    throw new InputError(`score at index ${i} is ${s}, not a number`);
  return s;
}

function checkSameLength(yTrue: ArrayLike<unknown>, other: ArrayLike<unknown>, what: string): void {
  if (yTrue.length !== other.length) {
    throw new InputError(`${yTrue.length} labels but ${other.length} ${what}`);
  }
}

const bits = new Float64Array(1);
const bitsAsInt = new BigInt64Array(bits.buffer);

/** The smallest double greater than x (x itself for +Infinity). */
function nextUp(x: number): number {
  if (x === Number.POSITIVE_INFINITY) return x;
  if (x === 0) return Number.MIN_VALUE;
  bits[0] = x;
  bitsAsInt[0] += x > 0 ? 1n : -1n;
  return bits[0];
}
