import assert from "node:assert/strict";
import { test } from "node:test";
import { UsageError } from "../../src/core/errors.ts";
import { seededRandom } from "../../src/core/random.ts";
import {
  binomialCdf,
  clopperPearson,
  EmpiricalTail,
  fisherStatistic,
  sidakMinimum,
} from "../../src/core/tail.ts";

test("empirical tail probability: (1 + #{normal ≥ s}) / (n + 1), never 0, leave-one-out for calibration scores", () => {
  const tail = new EmpiricalTail([3, 1, 2, 2, 5]);
  assert.equal(tail.atOrAbove(2), 4);
  assert.equal(tail.probability(2), 5 / 6);
  assert.equal(tail.probability(100), 1 / 6);
  assert.equal(tail.probability(-100), 1);
  // A calibration score against the others (its own value left out): nothing else reaches 5; 2 and 3 reach 2.
  assert.equal(tail.probability(5, 5), 1 / 5);
  assert.equal(tail.probability(2, 2), (1 + 3) / 5);
  // Another value of the same trace (a prefix of it) is compared with the others too.
  assert.equal(tail.probability(4, 5), 1 / 5);
  assert.equal(tail.probability(1, 5), (1 + 4) / 5);
  // A value that is not among the scores leaves nothing out: above them all it stays 1/n, not 0.
  assert.equal(tail.probability(100, 200), 1 / 5);
  assert.ok(Number.isFinite(fisherStatistic([tail.probability(100, 200)])));
  assert.equal(new EmpiricalTail([]).probability(1, 1), 1);
  assert.throws(() => new EmpiricalTail([1, Number.NaN]), UsageError);
  assert.equal(fisherStatistic([1, Math.exp(-2), Math.exp(-3)]), 5);
});

test("Clopper–Pearson bounds match scipy.stats.beta.ppf", () => {
  // (k, n, lower, upper) from scipy 1.10: beta.ppf(0.025, k, n-k+1), beta.ppf(0.975, k+1, n-k).
  const reference: [number, number, number, number][] = [
    [0, 10, 0, 0.3084971078187608],
    [1, 10, 0.0025285785444617848, 0.4450161170281954],
    [8, 833, 0.004155117364024279, 0.018835297580125813],
    [5, 100, 0.016431879182052155, 0.11283491110546275],
    [50, 100, 0.39832112950330106, 0.6016788704966989],
    [100, 100, 0.9637833073548235, 1],
    [3, 2000, 0.00030944294931233306, 0.004377320104529616],
  ];
  for (const [k, n, lower, upper] of reference) {
    const got = clopperPearson(k, n);
    assert.ok(Math.abs(got.lower - lower) < 1e-9, `${k}/${n} lower ${got.lower} vs ${lower}`);
    assert.ok(Math.abs(got.upper - upper) < 1e-9, `${k}/${n} upper ${got.upper} vs ${upper}`);
  }
  assert.throws(() => clopperPearson(3, 2), UsageError);
  assert.throws(() => clopperPearson(0, 0), UsageError);
});

test("binomial CDF sums the terms (small exact cases, large n without underflow)", () => {
  assert.ok(Math.abs(binomialCdf(1, 3, 0.5) - 0.5) < 1e-15);
  assert.ok(Math.abs(binomialCdf(0, 2, 0.25) - 0.5625) < 1e-15);
  assert.equal(binomialCdf(5, 5, 0.3), 1);
  const big = binomialCdf(20, 2000, 0.01);
  assert.ok(big > 0.5 && big < 0.6, String(big));
});

test("Šidák minimum: 1 − (1 − min)^m, exact for one p-value, precise for tiny ones, uniform under independence", () => {
  assert.equal(sidakMinimum([0.3]), 0.3);
  assert.ok(Math.abs(sidakMinimum([0.5, 0.01]) - (1 - 0.99 ** 2)) < 1e-15);
  assert.ok(Math.abs(sidakMinimum([1e-14, 0.2, 0.9]) - 3e-14) < 1e-26);
  assert.equal(sidakMinimum([1, 1]), 1);
  assert.throws(() => sidakMinimum([]), UsageError);
  // Three independent uniform p-values: their Šidák minimum is uniform, so it is ≤ q about q of the time.
  const random = seededRandom(7);
  const draws = 20_000;
  for (const q of [0.01, 0.1, 0.5]) {
    let below = 0;
    for (let i = 0; i < draws; i++) if (sidakMinimum([random(), random(), random()]) <= q) below++;
    const sd = Math.sqrt((q * (1 - q)) / draws);
    assert.ok(Math.abs(below / draws - q) < 4 * sd, `${below / draws} for ${q}`);
  }
  // Two copies of one p-value (perfectly correlated signals) count about once, not twice as Fisher would.
  assert.ok(-Math.log(sidakMinimum([1e-3, 1e-3])) > -Math.log(2e-3) - 1e-9);
  assert.ok(-Math.log(sidakMinimum([1e-3, 1e-3])) < fisherStatistic([1e-3, 1e-3]) / 1.5);
});
