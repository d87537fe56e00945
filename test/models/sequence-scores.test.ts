import assert from "node:assert/strict";
import { test } from "node:test";
import { fitTokenBaseline, normalisedWindowScores } from "../../src/models/sequence-scores.ts";

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
