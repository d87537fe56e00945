import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { UsageError } from "../../src/core/errors.ts";
import { randomInt, seededRandom } from "../../src/core/random.ts";
import { windowCount, windows } from "../../src/syscalls/windows.ts";

const rows = (flat: Int32Array, length: number) =>
  Array.from({ length: flat.length / length }, (_, i) => [...flat.subarray(i * length, (i + 1) * length)]);

describe("windows", () => {
  it("cuts strided windows and adds one aligned to the end when the stride does not land there", () => {
    const trace = Int32Array.from([2, 3, 4, 5, 6, 7, 8]);
    assert.deepEqual(rows(windows(trace, 3, 2), 3), [
      [2, 3, 4],
      [4, 5, 6],
      [6, 7, 8],
    ]);
    assert.deepEqual(rows(windows(trace, 3, 3), 3), [
      [2, 3, 4],
      [5, 6, 7],
      [6, 7, 8],
    ]);
    assert.deepEqual(rows(windows(trace, 7, 1), 7), [[2, 3, 4, 5, 6, 7, 8]]);
    assert.equal(windowCount(7, 3, 1), 5);
  });

  it("pads a trace shorter than the window with 0 into one window", () => {
    assert.deepEqual([...windows(Int32Array.from([5, 6]), 4, 1)], [5, 6, 0, 0]);
  });

  it("gives no window for an empty trace", () => {
    assert.equal(windows(new Int32Array(0), 4, 1).length, 0);
    assert.equal(windowCount(0, 4, 1), 0);
  });

  it("rejects a length or stride that is not a positive integer", () => {
    for (const [length, stride] of [
      [0, 1],
      [3, 0],
      [2.5, 1],
      [3, Number.NaN],
    ]) {
      assert.throws(() => windows(new Int32Array(5), length, stride), UsageError);
    }
  });

  it("matches windowCount and the trace slices, and covers every syscall when stride ≤ length (property)", () => {
    const random = seededRandom(11);
    for (let k = 0; k < 500; k++) {
      const n = randomInt(random, 40);
      const length = 1 + randomInt(random, 12);
      const stride = 1 + randomInt(random, 15);
      const trace = Int32Array.from({ length: n }, () => 2 + randomInt(random, 50));
      const flat = windows(trace, length, stride);
      const count = windowCount(n, length, stride);
      assert.equal(flat.length, count * length);
      if (n === 0) continue;
      const covered = new Uint8Array(n);
      let previous = -1;
      for (let i = 0; i < count; i++) {
        const start = Math.min(i * stride, Math.max(0, n - length));
        assert.ok(start > previous || n <= length);
        previous = start;
        const window = [...flat.subarray(i * length, (i + 1) * length)];
        const expected = [...trace.subarray(start, start + length)];
        while (expected.length < length) expected.push(0);
        assert.deepEqual(window, expected);
        covered.fill(1, start, Math.min(n, start + length));
      }
      assert.equal(previous + Math.min(length, n), n, "last window ends at the trace's end");
      if (stride <= length) assert.ok(covered.every((c) => c === 1));
    }
  });
});
