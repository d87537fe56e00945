import assert from "node:assert/strict";
import { test } from "node:test";
import { UsageError } from "../../src/core/errors.ts";
import {
  aggregateSequences,
  fitTokenBaseline,
  normalisedWindowScores,
  parseAggregation,
  quantile,
} from "../../src/models/sequence-scores.ts";

const scores = new Float32Array([1, 2, 3, 10, 0.5, 0.5, 4]);
const offsets = [0, 4, 7];

test("aggregations per sequence", () => {
  assert.deepEqual([...aggregateSequences(scores, offsets, { kind: "mean" })], [4, 5 / 3]);
  assert.deepEqual([...aggregateSequences(scores, offsets, { kind: "max" })], [10, 4]);
  assert.deepEqual([...aggregateSequences(scores, offsets, { kind: "median" })], [2.5, 0.5]);
  assert.deepEqual(
    [...aggregateSequences(scores, offsets, { kind: "top-fraction", fraction: 0.5 })],
    [6.5, 2.25],
  );
  // At least one window, even when the fraction rounds to zero.
  assert.deepEqual(
    [...aggregateSequences(scores, offsets, { kind: "top-fraction", fraction: 0.01 })],
    [10, 4],
  );
  assert.deepEqual(
    [...aggregateSequences(scores, offsets, { kind: "share-above", threshold: 2 })],
    [0.5, 1 / 3],
  );
});

test("empty or out-of-range sequences are refused", () => {
  assert.throws(() => aggregateSequences(scores, [0, 0, 7], { kind: "mean" }), UsageError);
  assert.throws(() => aggregateSequences(scores, [0, 8], { kind: "mean" }), UsageError);
});

test("parseAggregation", () => {
  assert.deepEqual(parseAggregation("mean"), { kind: "mean" });
  assert.deepEqual(parseAggregation("top-0.1"), { kind: "top-fraction", fraction: 0.1 });
  for (const bad of ["top-0", "top-2", "sum", ""]) assert.throws(() => parseAggregation(bad), UsageError);
});

test("quantile interpolates linearly", () => {
  assert.equal(quantile([3, 1, 2, 4], 0), 1);
  assert.equal(quantile([3, 1, 2, 4], 1), 4);
  assert.equal(quantile([3, 1, 2, 4], 0.5), 2.5);
  assert.throws(() => quantile([], 0.5), UsageError);
  assert.throws(() => quantile([1], 1.5), UsageError);
});

test("token baseline removes each token's normal loss level", () => {
  // Token 1 is always expensive on normal data, token 0 cheap: after normalisation both sit near zero.
  const tokens = new Int32Array(Array.from({ length: 200 }, (_, i) => i % 2));
  const losses = Float32Array.from(tokens, (t) => (t === 1 ? 5 : 1));
  const baseline = fitTokenBaseline(tokens, losses, 3);
  assert.ok(Math.abs(baseline.tokenMean[1] - 5) < 0.1 && Math.abs(baseline.tokenMean[0] - 1) < 0.1);
  assert.equal(baseline.tokenMean[2], baseline.globalMean, "unseen tokens fall back to the global mean");
  const normalised = normalisedWindowScores(tokens.subarray(0, 4), losses.subarray(0, 4), 2, baseline);
  for (const v of normalised) assert.ok(Math.abs(v) < 0.1);
});
