import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { seededRandom } from "../../src/core/random.ts";
import {
  encodeWindows,
  splitByTrace,
  subset,
  toTraceSet,
  traceNames,
  withoutTiming,
} from "../../src/syscalls/dataset.ts";
import { UNKNOWN, Vocabulary } from "../../src/syscalls/vocabulary.ts";
import { normalTrace } from "./synthetic.ts";

const trace = (id: string, names: string[]) => ({ id, source: id, names });

describe("splitByTrace", () => {
  test("same seed, same split; the parts are disjoint, cover every trace and are ascending", () => {
    for (const [n, fraction] of [
      [2, 0.5],
      [10, 0.2],
      [833, 0.2],
      [7, 0.99],
    ] as const) {
      const a = splitByTrace(n, fraction, 42);
      assert.deepEqual(splitByTrace(n, fraction, 42), a);
      assert.deepEqual(
        [...a.fit, ...a.heldOut].sort((x, y) => x - y),
        Array.from({ length: n }, (_, i) => i),
      );
      assert.ok(a.fit.length >= 1 && a.heldOut.length >= 1);
      assert.equal(a.heldOut.length, Math.min(n - 1, Math.max(1, Math.round(n * fraction))));
      for (const part of [a.fit, a.heldOut]) assert.ok(part.every((v, i) => i === 0 || part[i - 1] < v));
    }
    assert.notDeepEqual(splitByTrace(833, 0.2, 1).heldOut, splitByTrace(833, 0.2, 2).heldOut);
  });

  test("refuses fewer than two traces and fractions outside (0, 1)", () => {
    assert.throws(() => splitByTrace(1, 0.2, 1), /at least 2 normal traces/);
    assert.throws(() => splitByTrace(10, 1, 1), /heldOutFraction/);
  });
});

describe("trace sets and windows", () => {
  test("toTraceSet keeps every trace's names; subset picks traces", () => {
    const random = seededRandom(3);
    const traces = Array.from({ length: 6 }, (_, i) => trace(`t${i}`, normalTrace(random, 20 + i)));
    const set = toTraceSet(traces, true);
    assert.ok(set.tokens.buffer instanceof SharedArrayBuffer);
    traces.forEach((t, i) => {
      assert.deepEqual(traceNames(set, i), t.names);
    });
    const picked = subset(set, [4, 1]);
    assert.deepEqual(picked.ids, ["t4", "t1"]);
    assert.deepEqual(traceNames(picked, 0), traces[4].names);
  });

  test("encodeWindows: per-trace offsets, stride, unknown names counted and encoded as <unk>", () => {
    const vocabulary = Vocabulary.fit([["open", "read", "close"]]);
    const set = toTraceSet([trace("a", ["open", "read", "read", "close", "mmap"]), trace("b", ["read"])]);
    const w = encodeWindows(set, vocabulary, 3, 1);
    assert.deepEqual(Array.from(w.offsets), [0, 3, 4]);
    assert.deepEqual(Array.from(w.unknown), [1, 0]);
    const last = Array.from(w.windows.subarray(2 * 3, 3 * 3));
    assert.deepEqual(last, [vocabulary.indexOf("read"), vocabulary.indexOf("close"), UNKNOWN]);
    // The short trace is one padded window.
    assert.deepEqual(Array.from(w.windows.subarray(9, 12)), [vocabulary.indexOf("read"), 0, 0]);
    const strided = encodeWindows(set, vocabulary, 3, 2);
    assert.deepEqual(Array.from(strided.offsets), [0, 2, 3]);
  });

  test("timing syscalls are left out of the windows (and of withoutTiming), unknown names still counted", () => {
    const vocabulary = Vocabulary.fit([["open", "read", "futex", "close"]]);
    const timing = vocabulary.flags(["futex", "rt_sigreturn"]);
    assert.equal(
      timing.reduce((a, b) => a + b, 0),
      1,
    );
    const set = toTraceSet([trace("a", ["futex", "open", "futex", "read", "mmap", "futex", "close"])]);
    const w = encodeWindows(set, vocabulary, 3, 1, timing);
    assert.deepEqual(Array.from(w.unknown), [1]);
    const ids = (names: string[]) => names.map((n) => vocabulary.indexOf(n));
    assert.deepEqual(Array.from(w.windows), [
      ...ids(["open", "read", "mmap"]),
      ...ids(["read", "mmap", "close"]),
    ]);
    const encoded = vocabulary.encode(["futex", "open", "futex"]);
    assert.deepEqual(Array.from(withoutTiming(encoded, timing)), ids(["open"]));
    const plain = vocabulary.encode(["open", "read"]);
    assert.equal(withoutTiming(plain, timing), plain);
  });
});
