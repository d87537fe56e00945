import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { InputError, UsageError } from "../../src/core/errors.ts";
import {
  averagePrecision,
  binaryMetrics,
  confusionAtThreshold,
  confusionFromPredictions,
  detectionRateAtFpr,
  macroAverage,
  perGroupMetrics,
  prCurve,
  rocAuc,
  rocCurve,
  scoreSummary,
  thresholdAtFpr,
} from "../../src/core/metrics.ts";
import { randomInt, seededRandom } from "../../src/core/random.ts";

function assertClose(actual: number, expected: number, tolerance = 1e-12, what = ""): void {
  assert.ok(
    Math.abs(actual - expected) <= tolerance,
    `${what} ${actual} is not within ${tolerance} of ${expected}`,
  );
}

function assertAllClose(actual: number[], expected: number[], tolerance = 1e-12): void {
  assert.equal(actual.length, expected.length, `length ${actual.length} vs ${expected.length}`);
  actual.forEach((a, i) => {
    assertClose(a, expected[i], tolerance, `[${i}]`);
  });
}

/** Labels and scores with many ties (scores on a coarse grid), positives scoring higher on average. */
function randomProblem(seed: number, n: number, levels: number): { y: number[]; s: number[] } {
  const random = seededRandom(seed);
  const y = Array.from({ length: n }, () => (random() < 0.3 ? 1 : 0));
  const s = y.map((label) => randomInt(random, levels) + (label === 1 ? randomInt(random, 3) : 0));
  return { y, s };
}

/** AUC by its definition: P(score_pos > score_neg) + ½ P(tie), over all pairs. */
function pairwiseAuc(y: number[], s: number[]): number {
  let wins = 0;
  let pairs = 0;
  for (let i = 0; i < y.length; i++) {
    if (y[i] !== 1) continue;
    for (let j = 0; j < y.length; j++) {
      if (y[j] !== 0) continue;
      pairs++;
      if (s[i] > s[j]) wins += 1;
      else if (s[i] === s[j]) wins += 0.5;
    }
  }
  return wins / pairs;
}

/** AP by its definition: the mean over positives of the precision at that positive's score as threshold. */
function directAveragePrecision(y: number[], s: number[]): number {
  let sum = 0;
  let positives = 0;
  for (let i = 0; i < y.length; i++) {
    if (y[i] !== 1) continue;
    positives++;
    let flagged = 0;
    let truePositives = 0;
    for (let j = 0; j < y.length; j++) {
      if (s[j] >= s[i]) {
        flagged++;
        truePositives += y[j];
      }
    }
    sum += truePositives / flagged;
  }
  return sum / positives;
}

describe("confusion", () => {
  test("counts predictions and thresholded scores (score >= threshold is positive)", () => {
    const y = [1, 1, 0, 0, 1, 0];
    assert.deepEqual(confusionFromPredictions(y, [1, 0, 1, 0, 1, 0]), { tp: 2, fn: 1, fp: 1, tn: 2 });
    assert.deepEqual(confusionAtThreshold(y, [0.5, 0.49, 0.5, 0.1, 0.9, 0.2], 0.5), {
      tp: 2,
      fn: 1,
      fp: 1,
      tn: 2,
    });
  });

  test("rejects bad labels, NaN scores, length mismatches and a NaN threshold", () => {
    assert.throws(() => confusionFromPredictions([0, 2], [0, 1]), /label at index 1 is 2/);
    assert.throws(() => confusionFromPredictions([0, 1], [0, 0.5]), /prediction at index 1 is 0.5/);
    assert.throws(() => confusionAtThreshold([0, 1], [0.1, Number.NaN], 0.5), /score at index 1 is NaN/);
    assert.throws(
      () => rocAuc([0, 1, 1], [0.1, 0.2]),
      (e) => e instanceof InputError && /3 labels but 2/.test(e.message),
    );
    assert.throws(() => confusionAtThreshold([0, 1], [0.1, 0.2], Number.NaN), UsageError);
  });
});

describe("binaryMetrics", () => {
  test("hand-computed values for tp=3 fp=1 tn=4 fn=2", () => {
    const m = binaryMetrics({ tp: 3, fp: 1, tn: 4, fn: 2 });
    assertClose(m.accuracy, 0.7);
    assertClose(m.recall, 0.6);
    assertClose(m.precision, 0.75);
    assertClose(m.specificity, 0.8);
    assertClose(m.fpr, 0.2);
    assertClose(m.f1, 2 / 3);
    assertClose(m.mcc, 10 / Math.sqrt(600)); // (3·4 − 1·2) / √(4·5·5·6)
    assertClose(m.balancedAccuracy, 0.7);
  });

  test("reproduces the ransomware reference run (../shared/REFERENCE.md: precision 47.73 %, MCC 0.6848)", () => {
    const m = binaryMetrics({ tp: 21, fn: 0, fp: 23, tn: 1294 });
    assert.equal(m.recall, 1);
    assertClose(m.precision, 0.4773, 5e-5);
    assertClose(m.mcc, 0.6848, 5e-5);
  });

  test("zero_division = 0 and balanced accuracy over the classes present", () => {
    const onlyNegatives = binaryMetrics({ tp: 0, fp: 0, tn: 5, fn: 0 });
    assert.deepEqual(onlyNegatives, {
      accuracy: 1,
      recall: 0,
      precision: 0,
      specificity: 1,
      fpr: 0,
      f1: 0,
      mcc: 0,
      balancedAccuracy: 1,
    });
    const nothingFlagged = binaryMetrics({ tp: 0, fp: 0, tn: 5, fn: 3 });
    assert.equal(nothingFlagged.precision, 0);
    assert.equal(nothingFlagged.mcc, 0);
    assert.equal(nothingFlagged.balancedAccuracy, 0.5);
    const empty = binaryMetrics({ tp: 0, fp: 0, tn: 0, fn: 0 });
    assert.ok(Object.values(empty).every((v) => v === 0));
  });
});

describe("ROC", () => {
  // The example in sklearn's roc_curve / precision_recall_curve documentation.
  const y = [0, 0, 1, 1];
  const s = [0.1, 0.4, 0.35, 0.8];

  test("curve matches sklearn's documented example", () => {
    const roc = rocCurve(y, s);
    assert.deepEqual(roc.fpr, [0, 0, 0.5, 0.5, 1]);
    assert.deepEqual(roc.tpr, [0, 0.5, 0.5, 1, 1]);
    assert.deepEqual(roc.thresholds, [Number.POSITIVE_INFINITY, 0.8, 0.4, 0.35, 0.1]);
    assert.equal(rocAuc(y, s), 0.75);
  });

  test("tied scores form one step and count half", () => {
    const tiedY = [1, 0, 1, 0];
    const tiedS = [0.5, 0.5, 0.5, 0.2];
    assert.deepEqual(rocCurve(tiedY, tiedS), {
      fpr: [0, 0.5, 1],
      tpr: [0, 1, 1],
      thresholds: [Number.POSITIVE_INFINITY, 0.5, 0.2],
    });
    // Pairs: 2 tied (½ each) + 2 wins = 3 of 4.
    assert.equal(rocAuc(tiedY, tiedS), 0.75);
    assert.equal(rocAuc([1, 0], [-0, 0]), 0.5, "-0 and 0 are the same score");
  });

  test("AUC equals the pairwise count on random tied data", () => {
    for (let seed = 1; seed <= 30; seed++) {
      const { y: ry, s: rs } = randomProblem(seed, 5 + seed * 7, 2 + (seed % 9));
      if (!ry.includes(1) || !ry.includes(0)) continue;
      assertClose(rocAuc(ry, rs), pairwiseAuc(ry, rs), 1e-12, `seed ${seed}`);
    }
  });

  test("every curve point is the rate at its threshold", () => {
    const { y: ry, s: rs } = randomProblem(7, 200, 15);
    const roc = rocCurve(ry, rs);
    const distinct = [...new Set(rs)].sort((a, b) => b - a);
    assert.deepEqual(roc.thresholds.slice(1), distinct);
    roc.thresholds.forEach((t, i) => {
      const c = confusionAtThreshold(ry, rs, t);
      assertClose(roc.tpr[i], c.tp / (c.tp + c.fn));
      assertClose(roc.fpr[i], c.fp / (c.fp + c.tn));
    });
  });

  test("one class absent: AUC NaN, that class's rate NaN", () => {
    assert.ok(Number.isNaN(rocAuc([1, 1], [0.2, 0.3])));
    assert.ok(Number.isNaN(rocAuc([], [])));
    const roc = rocCurve([1, 1], [0.2, 0.3]);
    assert.ok(roc.fpr.every(Number.isNaN));
    assert.deepEqual(roc.tpr, [0, 0.5, 1]);
  });

  test("AUC and AP on 1e6 scores match the analytic value", () => {
    const random = seededRandom(42);
    const n = 1_000_000;
    const y = new Float64Array(n);
    const s = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      y[i] = random() < 0.1 ? 1 : 0;
      s[i] = random() + 0.5 * y[i];
    }
    const auc = rocAuc(y, s);
    const ap = averagePrecision(y, s);
    // Scores uniform on [0,1) vs [0.5,1.5): AUC = 1 − ½·½·½ = 0.875.
    assertClose(auc, 0.875, 5e-3);
    assert.ok(ap > 0.1 && ap < 1);
  });
});

describe("precision-recall", () => {
  test("curve and AP match sklearn's documented example", () => {
    const y = [0, 0, 1, 1];
    const s = [0.1, 0.4, 0.35, 0.8];
    const pr = prCurve(y, s);
    assertAllClose(pr.precision, [0.5, 2 / 3, 0.5, 1, 1]);
    assert.deepEqual(pr.recall, [1, 1, 0.5, 0.5, 0]);
    assert.deepEqual(pr.thresholds, [0.1, 0.35, 0.4, 0.8]);
    // sklearn documents average_precision_score(...) = 0.83…: ½·1 + ½·⅔.
    assertClose(averagePrecision(y, s), 5 / 6);
  });

  test("ties: one step at the tied score", () => {
    assert.deepEqual(prCurve([1, 0, 1, 0], [0.5, 0.5, 0.5, 0.2]), {
      precision: [0.5, 2 / 3, 1],
      recall: [1, 1, 0],
      thresholds: [0.2, 0.5],
    });
    assertClose(averagePrecision([1, 0, 1, 0], [0.5, 0.5, 0.5, 0.2]), 2 / 3);
  });

  test("AP equals its direct definition on random tied data", () => {
    for (let seed = 1; seed <= 30; seed++) {
      const { y, s } = randomProblem(100 + seed, 5 + seed * 7, 2 + (seed % 11));
      if (!y.includes(1)) continue;
      assertClose(averagePrecision(y, s), directAveragePrecision(y, s), 1e-12, `seed ${seed}`);
    }
  });

  test("no positives: sklearn's recall-is-one curve, AP NaN; no negatives: AP 1", () => {
    const pr = prCurve([0, 0], [0.1, 0.2]);
    assert.deepEqual(pr, { precision: [0, 0, 1], recall: [1, 1, 0], thresholds: [0.1, 0.2] });
    assert.ok(Number.isNaN(averagePrecision([0, 0], [0.1, 0.2])));
    assert.equal(averagePrecision([1, 1, 1], [0.3, 0.1, 0.3]), 1);
  });
});

describe("threshold at a target FPR", () => {
  const negatives = [3, 1, 4, 2, 3];

  test("documented tie behaviour on [1, 2, 3, 3, 4]", () => {
    const share = (t: number) => negatives.filter((s) => s >= t).length / negatives.length;
    const t0 = thresholdAtFpr(negatives, 0);
    assert.ok(t0 > 4 && t0 - 4 < 1e-15, `${t0} is the next double above 4`);
    assert.equal(share(t0), 0);
    const t20 = thresholdAtFpr(negatives, 0.2);
    assert.ok(t20 > 3 && t20 - 3 < 1e-15);
    assert.equal(share(t20), 0.2);
    // 2 negatives may be flagged, but the 2nd and 3rd tie at 3: both stay below, achieved FPR 0.2.
    assert.equal(thresholdAtFpr(negatives, 0.4), t20);
    const t60 = thresholdAtFpr(negatives, 0.6);
    assert.ok(t60 > 2 && t60 - 2 < 1e-15);
    assert.equal(share(t60), 0.6);
    assert.equal(thresholdAtFpr(negatives, 1), Number.NEGATIVE_INFINITY);
    assert.equal(thresholdAtFpr([0, -0, -1], 0.5), Number.MIN_VALUE);
  });

  test("a target that is not exact in binary floating point (0.29 · 100 = 28.999…)", () => {
    const hundred = Array.from({ length: 100 }, (_, i) => i);
    const t = thresholdAtFpr(hundred, 0.29);
    assert.equal(hundred.filter((s) => s >= t).length, 29);
  });

  test("smallest threshold meeting the target, on random tied data", () => {
    const random = seededRandom(9);
    for (let trial = 0; trial < 200; trial++) {
      const n = 1 + randomInt(random, 60);
      const neg = Array.from({ length: n }, () => randomInt(random, 12) / 4 - 1);
      const target = trial % 10 === 0 ? randomInt(random, 5) / 4 : random();
      const t = thresholdAtFpr(neg, target);
      const share = (threshold: number) => neg.filter((s) => s >= threshold).length / n;
      assert.ok(share(t) <= target, `trial ${trial}: share ${share(t)} > ${target}`);
      // Lowering the threshold to any negative score below it would exceed the target.
      for (const s of neg)
        if (s < t) assert.ok(share(s) > target, `trial ${trial}: ${s} also meets the target`);
    }
  });

  test("detection rate and the FPR actually achieved", () => {
    const y = [0, 0, 0, 0, 0, 1, 1, 1];
    const s = [...negatives, 3.5, 3, 5];
    const r = detectionRateAtFpr(y, s, 0.2);
    assert.ok(r.threshold > 3 && r.threshold < 3.5);
    assertClose(r.detectionRate, 2 / 3);
    assert.equal(r.fpr, 0.2);
    assert.equal(detectionRateAtFpr(y, s, 0.4).fpr, 0.2);
  });

  test("errors: target outside [0, 1], no negatives", () => {
    assert.throws(() => thresholdAtFpr([1], 1.5), UsageError);
    assert.throws(() => thresholdAtFpr([1], Number.NaN), UsageError);
    assert.throws(() => thresholdAtFpr([], 0.1), /without negative samples/);
    assert.throws(() => detectionRateAtFpr([1, 1], [0.2, 0.3], 0.1), InputError);
  });
});

describe("summaries", () => {
  test("scoreSummary combines the threshold metrics with both areas", () => {
    const y = [0, 0, 1, 1];
    const s = [0.1, 0.4, 0.35, 0.8];
    const summary = scoreSummary(y, s, 0.35);
    assert.deepEqual(summary.confusion, { tp: 2, fn: 0, fp: 1, tn: 1 });
    assertClose(summary.precision, 2 / 3);
    assert.equal(summary.recall, 1);
    assert.equal(summary.rocAuc, 0.75);
    assertClose(summary.prAuc, 5 / 6);
  });

  test("macroAverage ignores NaN", () => {
    assert.equal(macroAverage([1, Number.NaN, 0]), 0.5);
    assert.ok(Number.isNaN(macroAverage([Number.NaN])));
    assert.ok(Number.isNaN(macroAverage([])));
  });

  test("perGroupMetrics: sorted groups, NaN where undefined, each group weighted equally", () => {
    // a: y [1,1,0] s [.9,.2,.1]; b: y [0,0] s [.6,.1]; c: y [1] s [.7]; rows interleaved.
    const groups = ["b", "a", "c", "a", "b", "a"];
    const y = [0, 1, 1, 1, 0, 0];
    const s = [0.6, 0.9, 0.7, 0.2, 0.1, 0.1];
    const result = perGroupMetrics(y, s, groups, 0.5);
    assert.deepEqual(
      result.groups.map((g) => g.group),
      ["a", "b", "c"],
    );
    const [a, b, c] = result.groups;
    assert.deepEqual(a, {
      group: "a",
      size: 3,
      positives: 2,
      confusion: { tp: 1, fn: 1, fp: 0, tn: 1 },
      recall: 0.5,
      precision: 1,
      fpr: 0,
      rocAuc: 1,
    });
    assert.ok(Number.isNaN(b.recall) && b.precision === 0 && b.fpr === 0.5 && Number.isNaN(b.rocAuc));
    assert.ok(c.recall === 1 && c.precision === 1 && Number.isNaN(c.fpr) && Number.isNaN(c.rocAuc));
    assert.equal(result.mean.recall, 0.75);
    assertClose(result.mean.precision, 2 / 3);
    assert.equal(result.mean.fpr, 0.25);
    assert.equal(result.mean.rocAuc, 1);
  });
});
