import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { UsageError } from "../../src/core/errors.ts";
import { expandGrid, parseSelection, SELECTION_METRICS, selectBest } from "../../src/core/grid.ts";
import { randomInt, seededRandom } from "../../src/core/random.ts";

describe("expandGrid", () => {
  test("Cartesian product in key order, then value order (last key varies fastest)", () => {
    assert.deepEqual(expandGrid({ c: [1, 10], kernel: ["rbf", "linear"], g: [0.5] }), [
      { c: 1, kernel: "rbf", g: 0.5 },
      { c: 1, kernel: "linear", g: 0.5 },
      { c: 10, kernel: "rbf", g: 0.5 },
      { c: 10, kernel: "linear", g: 0.5 },
    ]);
  });

  test("size is the product of the value counts, and every combination appears once", () => {
    const random = seededRandom(2);
    for (let trial = 0; trial < 50; trial++) {
      const keys = 1 + randomInt(random, 4);
      const space: Record<string, number[]> = {};
      for (let k = 0; k < keys; k++)
        space[`k${k}`] = Array.from({ length: 1 + randomInt(random, 4) }, (_, v) => v);
      const grid = expandGrid(space);
      const expectedSize = Object.values(space).reduce((p, values) => p * values.length, 1);
      assert.equal(grid.length, expectedSize);
      assert.equal(new Set(grid.map((g) => JSON.stringify(g))).size, expectedSize);
      for (const point of grid) assert.deepEqual(Object.keys(point), Object.keys(space));
    }
  });

  test("an empty space is one empty candidate", () => {
    assert.deepEqual(expandGrid({}), [{}]);
  });

  test("values of any type are kept as they are", () => {
    const weights = { 0: 1, 1: 5 };
    const grid = expandGrid({ weights: [weights, null] });
    assert.equal(grid[0].weights, weights);
    assert.equal(grid[1].weights, null);
  });

  test("an empty or non-array parameter is a usage error naming it", () => {
    assert.throws(() => expandGrid({ c: [1], gamma: [] }), {
      name: "UsageError",
      message: 'grid parameter "gamma" must be a non-empty array of values',
    });
    assert.throws(
      () => expandGrid({ c: 3 } as unknown as Record<string, unknown[]>),
      (error: unknown) => error instanceof UsageError && /"c"/.test(error.message),
    );
  });
});

describe("selectBest", () => {
  test("highest value of the first key wins", () => {
    assert.equal(selectBest([{ recall: 0.5 }, { recall: 0.9 }, { recall: 0.7 }], ["recall"]), 1);
  });

  test("later keys break ties of earlier ones (lexicographic)", () => {
    const candidates = [
      { recall: 0.9, mcc: 0.1 },
      { recall: 0.9, mcc: 0.5 },
      { recall: 0.8, mcc: 0.99 },
    ];
    assert.equal(selectBest(candidates, ["recall", "mcc"]), 1);
    assert.equal(selectBest(candidates, ["mcc", "recall"]), 2);
  });

  test("exact ties keep the earlier candidate", () => {
    const candidates = [
      { recall: 0.5, mcc: 0.2 },
      { recall: 0.9, mcc: 0.3 },
      { recall: 0.9, mcc: 0.3 },
      { recall: 0.9, mcc: 0.3 },
    ];
    assert.equal(selectBest(candidates, ["recall", "mcc"]), 1);
    // Differences at rounding-noise level count as ties too.
    assert.equal(selectBest([{ f1: 0.1 + 0.2 }, { f1: 0.3 }], ["f1"]), 0);
    assert.equal(selectBest([{ f1: 0.3 }, { f1: 0.1 + 0.2 }], ["f1"]), 0);
  });

  test("NaN ranks last, below every finite value", () => {
    assert.equal(selectBest([{ mcc: Number.NaN }, { mcc: -1 }], ["mcc"]), 1);
    assert.equal(selectBest([{ mcc: -1 }, { mcc: Number.NaN }], ["mcc"]), 0);
    assert.equal(selectBest([{ mcc: Number.NaN }, { mcc: Number.NaN }], ["mcc"]), 0);
    // A NaN in the first key loses even with a better second key.
    assert.equal(
      selectBest(
        [
          { recall: Number.NaN, mcc: 1 },
          { recall: 0, mcc: 0 },
        ],
        ["recall", "mcc"],
      ),
      1,
    );
    // NaN first keys tie with each other, so the second key decides.
    assert.equal(
      selectBest(
        [
          { recall: Number.NaN, mcc: 0 },
          { recall: Number.NaN, mcc: 1 },
        ],
        ["recall", "mcc"],
      ),
      1,
    );
  });

  test("agrees with a reference lexicographic argmax on random candidates", () => {
    const random = seededRandom(8);
    for (let trial = 0; trial < 300; trial++) {
      const keys = ["a", "b", "c"].slice(0, 1 + randomInt(random, 3));
      // Few distinct values, so ties on leading keys are common; some NaN.
      const candidates = Array.from({ length: 1 + randomInt(random, 10) }, () =>
        Object.fromEntries(keys.map((k) => [k, random() < 0.1 ? Number.NaN : randomInt(random, 3) / 2])),
      );
      const rank = (c: Record<string, number>) => keys.map((k) => (Number.isNaN(c[k]) ? -1 : c[k]));
      let expected = 0;
      for (let i = 1; i < candidates.length; i++) {
        const a = rank(candidates[i]);
        const b = rank(candidates[expected]);
        const firstDiff = a.findIndex((v, j) => v !== b[j]);
        if (firstDiff >= 0 && a[firstDiff] > b[firstDiff]) expected = i;
      }
      assert.equal(selectBest(candidates, keys), expected, JSON.stringify(candidates));
    }
  });

  test("no candidates is an error", () => {
    assert.throws(() => selectBest([], ["recall"]), RangeError);
  });
});

describe("parseSelection", () => {
  test("comma or '>' separated, spaces allowed, order kept", () => {
    assert.deepEqual(parseSelection("recall>mcc"), ["recall", "mcc"]);
    assert.deepEqual(parseSelection(" recall , prAuc > f1 "), ["recall", "prAuc", "f1"]);
    assert.deepEqual(parseSelection("balancedAccuracy"), ["balancedAccuracy"]);
  });

  test("every selection metric is accepted", () => {
    assert.deepEqual(parseSelection(SELECTION_METRICS.join(",")), [...SELECTION_METRICS]);
  });

  test("unknown, misspelt or empty metrics are usage errors listing the choices", () => {
    for (const [text, bad] of [
      ["recall,accuracy", "accuracy"],
      ["Recall", "Recall"],
      ["", ""],
      ["recall,", ""],
      ["recall>>mcc", ""],
    ]) {
      assert.throws(
        () => parseSelection(text),
        (error: unknown) => {
          assert.ok(error instanceof UsageError);
          assert.equal(error.exitCode, 2);
          assert.ok(
            error.message.startsWith(`unknown selection metric "${bad}"; choose from recall, precision`),
          );
          return true;
        },
        text,
      );
    }
  });
});
