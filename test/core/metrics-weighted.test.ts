import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { rocAuc, weightedRocAuc } from "../../src/core/metrics.ts";
import { randomInt, seededRandom } from "../../src/core/random.ts";

describe("weightedRocAuc", () => {
  test("equals rocAuc with unit weights, ties included (random property)", () => {
    const random = seededRandom(5);
    for (let round = 0; round < 50; round++) {
      const n = 2 + randomInt(random, 60);
      const y = Array.from({ length: n }, (_, i) => (i < 2 ? i : randomInt(random, 2)));
      const s = Array.from({ length: n }, () => randomInt(random, 8) / 4);
      assert.ok(Math.abs(weightedRocAuc(y, s, new Array(n).fill(1)) - rocAuc(y, s)) < 1e-12);
    }
  });

  test("integer weights equal repeating samples", () => {
    const y = [1, 0, 1, 0, 0];
    const s = [0.9, 0.8, 0.3, 0.3, 0.1];
    const w = [2, 1, 3, 1, 2];
    const yy = y.flatMap((v, i) => new Array(w[i]).fill(v));
    const ss = s.flatMap((v, i) => new Array(w[i]).fill(v));
    assert.ok(Math.abs(weightedRocAuc(y, s, w) - rocAuc(yy, ss)) < 1e-12);
  });

  test("each group weighted equally: a big easy group does not hide a small hard one", () => {
    // 100 easy positives (score 1) and 1 hard positive (score 0) against 1 negative (score 0.5).
    const y = [...new Array(100).fill(1), 1, 0];
    const s = [...new Array(100).fill(1), 0, 0.5];
    assert.ok(rocAuc(y, s) > 0.99);
    const w = [...new Array(100).fill(1 / 100), 1, 1];
    assert.ok(Math.abs(weightedRocAuc(y, s, w) - 0.5) < 1e-12);
  });

  test("NaN without both classes; bad weights are refused", () => {
    assert.ok(Number.isNaN(weightedRocAuc([1, 1], [0.1, 0.2], [1, 1])));
    assert.throws(() => weightedRocAuc([1, 0], [0.1, 0.2], [1, -1]), /weight at index 1/);
  });
});
