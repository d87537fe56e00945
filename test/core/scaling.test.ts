import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { InputError, ModelFileError } from "../../src/core/errors.ts";
import { randomNormal, seededRandom } from "../../src/core/random.ts";
import { StandardScaler } from "../../src/core/scaling.ts";

function assertClose(actual: number, expected: number, tolerance = 1e-12): void {
  assert.ok(Math.abs(actual - expected) <= tolerance, `${actual} is not within ${tolerance} of ${expected}`);
}

describe("StandardScaler", () => {
  test("hand example: mean, population std, constant column gets scale 1", () => {
    const rows = [
      [1, 10, 5],
      [3, 10, 7],
      [5, 10, 9],
    ];
    const scaler = new StandardScaler().fit(rows);
    const { mean, scale } = scaler.toJSON();
    assert.deepEqual(mean, [3, 10, 7]);
    // Population variance of (−2, 0, 2) is 8/3.
    assertClose(scale[0], Math.sqrt(8 / 3));
    assert.equal(scale[1], 1);
    assertClose(scale[2], Math.sqrt(8 / 3));
    const out = scaler.transform(rows);
    assert.ok(out[0] instanceof Float64Array);
    assertClose(out[0][0], -Math.sqrt(1.5));
    assert.equal(out[1][1], 0);
    assertClose(out[2][2], Math.sqrt(1.5));
  });

  test("a constant column with rounding noise in its mean still counts as constant", () => {
    // The mean of ten 0.1s is 0.09999999999999999 and the variance 1.9e-34: sklearn treats that as zero.
    const rows = Array.from({ length: 10 }, () => [0.1, 1e9 + 0.3]);
    const { scale } = new StandardScaler().fit(rows).toJSON();
    assert.deepEqual(scale, [1, 1]);
  });

  test("large offsets do not lose the variance", () => {
    const rows = [[1e9 + 1], [1e9 + 2], [1e9 + 3]];
    assertClose(new StandardScaler().fit(rows).toJSON().scale[0], Math.sqrt(2 / 3), 1e-9);
  });

  test("fitTransform gives columns of mean 0 and std 1; transformRow agrees with transform", () => {
    const random = seededRandom(5);
    const rows = Array.from({ length: 500 }, () => [
      3 + 2 * randomNormal(random),
      -100 + 0.01 * randomNormal(random),
      random(),
    ]);
    const scaler = new StandardScaler();
    const out = scaler.fitTransform(rows);
    for (let c = 0; c < 3; c++) {
      const column = out.map((row) => row[c]);
      const mean = column.reduce((a, b) => a + b, 0) / column.length;
      const variance = column.reduce((a, b) => a + (b - mean) ** 2, 0) / column.length;
      assertClose(mean, 0, 1e-9);
      assertClose(variance, 1, 1e-9);
    }
    assert.deepEqual(scaler.transformRow(rows[17]), out[17]);
    assert.deepEqual(
      scaler.transformRow(new Float32Array([3, -100, 0.5])),
      scaler.transform([[3, -100, 0.5]])[0],
    );
  });

  test("JSON round trip gives the same transform", () => {
    const random = seededRandom(8);
    const rows = Array.from({ length: 50 }, () => [random() * 1e6, randomNormal(random), 7]);
    const scaler = new StandardScaler().fit(rows);
    const restored = StandardScaler.fromJSON(JSON.parse(JSON.stringify(scaler)));
    assert.deepEqual(restored.toJSON(), scaler.toJSON());
    assert.deepEqual(restored.transform(rows), scaler.transform(rows));
  });

  test("non-finite and ragged input is an InputError naming row and column", () => {
    const scaler = new StandardScaler();
    assert.throws(
      () =>
        scaler.fit([
          [1, 2, 3],
          [4, 5, Number.NaN],
        ]),
      (e) => e instanceof InputError && e.message === "row 1, column 2: value NaN is not finite",
    );
    assert.throws(() => scaler.fit([[1, 2], [3]]), /row 1 has 1 values, expected 2/);
    assert.throws(() => scaler.fit([]), /zero rows/);
    assert.throws(() => scaler.fit([[], []]), /without columns/);
    scaler.fit([
      [1, 2],
      [3, 4],
    ]);
    assert.throws(
      () =>
        scaler.transform([
          [1, 2],
          [1, Number.POSITIVE_INFINITY],
        ]),
      /row 1, column 1: value Infinity/,
    );
    assert.throws(() => scaler.transformRow([1, 2, 3]), /row has 3 values, expected 2/);
    assert.throws(() => scaler.transformRow([Number.NaN, 2]), /column 0: value NaN/);
  });

  test("using a scaler before fit is a programming error", () => {
    assert.throws(() => new StandardScaler().transformRow([1]), /before fit/);
  });

  test("fromJSON rejects malformed objects with a ModelFileError", () => {
    const cases: [unknown, RegExp][] = [
      [null, /expected an object/],
      ["mean", /expected an object/],
      [{ mean: [1] }, /must be arrays/],
      [{ mean: [], scale: [] }, /mean is empty/],
      [{ mean: [1, 2], scale: [1] }, /mean has 2 values but scale has 1/],
      [{ mean: [1, "2"], scale: [1, 1] }, /mean\[1\] is 2, not a finite number/],
      [{ mean: [1, null], scale: [1, 1] }, /mean\[1\] is null/],
      [{ mean: [1, Number.NaN], scale: [1, 1] }, /mean\[1\] is NaN/],
      [{ mean: [1, 2], scale: [1, 0] }, /scale\[1\] is 0, not a finite positive number/],
      [{ mean: [1, 2], scale: [-1, 1] }, /scale\[0\] is -1/],
      [{ mean: [1, 2], scale: [1, Number.POSITIVE_INFINITY] }, /scale\[1\] is Infinity/],
    ];
    for (const [obj, message] of cases) {
      assert.throws(
        () => StandardScaler.fromJSON(obj),
        (e) => e instanceof ModelFileError && message.test(e.message),
        JSON.stringify(obj),
      );
    }
    assert.throws(
      () => StandardScaler.fromJSON({ mean: [1], scale: [0] }, "models/net.json"),
      (e) => e instanceof ModelFileError && e.message.startsWith("models/net.json: scaler: scale[0]"),
    );
  });
});
