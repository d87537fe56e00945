import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { permutationImportance } from "../../src/core/importance.ts";
import { randomNormal, seededRandom } from "../../src/core/random.ts";

/** Label = sign of column 0; columns 1.. are noise the model never reads. */
function dataset(seed: number, n: number, width: number): { rows: Float64Array[]; y: number[] } {
  const random = seededRandom(seed);
  const rows = Array.from({ length: n }, () =>
    Float64Array.from({ length: width }, () => randomNormal(random)),
  );
  return { rows, y: rows.map((r) => (r[0] > 0 ? 1 : 0)) };
}

const scoreColumn0 = (rows: readonly Float64Array[]) => rows.map((r) => r[0]);

function accuracy(y: ArrayLike<number>, scores: ArrayLike<number>): number {
  let correct = 0;
  for (let i = 0; i < y.length; i++) if ((scores[i] > 0 ? 1 : 0) === y[i]) correct++;
  return correct / y.length;
}

describe("permutationImportance", () => {
  test("a model that reads only column 0: importance > 0 there, exactly 0 elsewhere", () => {
    const { rows, y } = dataset(1, 400, 4);
    const { baseline, importances } = permutationImportance(rows, y, scoreColumn0, accuracy, { seed: 3 });
    assert.equal(baseline, 1);
    assert.deepEqual(
      importances.map((imp) => imp.column),
      [0, 1, 2, 3],
    );
    // Shuffling the only informative column drops accuracy to about chance.
    assert.ok(importances[0].mean > 0.3, `column 0 importance ${importances[0].mean}`);
    assert.ok(importances[0].std >= 0);
    for (const imp of importances.slice(1)) assert.deepEqual(imp, { column: imp.column, mean: 0, std: 0 });
  });

  test("deterministic for a seed; a different seed permutes differently", () => {
    const { rows, y } = dataset(2, 200, 3);
    const a = permutationImportance(rows, y, scoreColumn0, accuracy, { seed: 7, repeats: 4 });
    const b = permutationImportance(rows, y, scoreColumn0, accuracy, { seed: 7, repeats: 4 });
    const c = permutationImportance(rows, y, scoreColumn0, accuracy, { seed: 8, repeats: 4 });
    assert.deepEqual(a, b);
    assert.notDeepEqual(a.importances[0], c.importances[0]);
  });

  test("the input rows are left unchanged and the model always sees full-width rows", () => {
    const { rows, y } = dataset(3, 50, 3);
    const copy = rows.map((r) => Float64Array.from(r));
    let calls = 0;
    permutationImportance(
      rows,
      y,
      (seen) => {
        calls++;
        assert.equal(seen.length, rows.length);
        for (const r of seen) assert.equal(r.length, 3);
        return scoreColumn0(seen);
      },
      accuracy,
      { repeats: 2 },
    );
    assert.deepEqual(rows, copy);
    // One baseline call plus repeats × columns.
    assert.equal(calls, 1 + 2 * 3);
  });

  test("a permutation keeps each column's multiset of values (only the pairing with rows changes)", () => {
    const { rows, y } = dataset(4, 30, 2);
    const sorted = (values: number[]) => [...values].sort((p, q) => p - q);
    permutationImportance(
      rows,
      y,
      (seen) => {
        for (let c = 0; c < 2; c++) {
          assert.deepEqual(sorted(seen.map((r) => r[c])), sorted(rows.map((r) => r[c])));
        }
        return scoreColumn0(seen);
      },
      accuracy,
    );
  });

  test("`columns` permutes only the listed columns; the others report 0 without being scored", () => {
    const { rows, y } = dataset(5, 300, 4);
    let calls = 0;
    const progress: [number, number][] = [];
    const { importances } = permutationImportance(
      rows,
      y,
      (seen) => {
        calls++;
        return seen.map((r) => r[0] + r[3]);
      },
      accuracy,
      { columns: [3, 0], repeats: 3, seed: 1, onProgress: (done, total) => progress.push([done, total]) },
    );
    assert.equal(calls, 1 + 3 * 2);
    assert.deepEqual(progress, [
      [1, 2],
      [2, 2],
    ]);
    assert.equal(importances.length, 4);
    assert.ok(importances[0].mean > 0);
    assert.ok(importances[3].mean > 0);
    assert.deepEqual(importances[1], { column: 1, mean: 0, std: 0 });
    assert.deepEqual(importances[2], { column: 2, mean: 0, std: 0 });
  });

  test("mean and std are those of the per-repeat drops", () => {
    const { rows, y } = dataset(6, 100, 1);
    const drops: number[] = [];
    let baseline = Number.NaN;
    const result = permutationImportance(
      rows,
      y,
      scoreColumn0,
      (yy, scores) => {
        const value = accuracy(yy, scores);
        if (Number.isNaN(baseline)) baseline = value;
        else drops.push(baseline - value);
        return value;
      },
      { repeats: 5, seed: 2 },
    );
    assert.equal(drops.length, 5);
    const mean = drops.reduce((a, b) => a + b, 0) / 5;
    const std = Math.sqrt(drops.reduce((a, b) => a + (b - mean) ** 2, 0) / 5);
    assert.ok(Math.abs(result.importances[0].mean - mean) < 1e-12);
    assert.ok(Math.abs(result.importances[0].std - std) < 1e-12);
  });

  test("no rows: empty importances", () => {
    const result = permutationImportance(
      [],
      [],
      () => [],
      () => 0.5,
    );
    assert.deepEqual(result, { baseline: 0.5, importances: [] });
  });
});
