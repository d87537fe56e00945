import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { seededRandom } from "../../src/core/random.ts";
import { TextBuffer } from "../../src/core/text-buffer.ts";

function text(v: number): string {
  const b = new TextBuffer(1024);
  b.number(v);
  return b.bytes.toString("latin1", 0, b.length);
}

describe("TextBuffer.number", () => {
  it("writes what String() writes for integers and for values of at most 15 significant digits", () => {
    const cases = [
      0,
      -0,
      1,
      -7,
      9,
      10,
      99,
      100,
      12345678,
      123456789,
      1600000000,
      30051949000,
      2 ** 53 - 1,
      -(2 ** 40),
      0.5,
      -2.5,
      99.25,
      0.1,
      0.333333,
      12345.678,
      1e-6,
      0.000001234,
      1e-7,
      7.5e-12,
      1.25e21,
      1e21,
      1e300,
      123456789012.345,
    ];
    for (const v of cases) assert.equal(text(v), String(v), `value ${v}`);
  });

  it("reads back within 15 significant digits for any double (property test, seeded)", () => {
    const random = seededRandom(11);
    for (let i = 0; i < 20000; i++) {
      const v = (random() - 0.5) * 10 ** Math.floor(random() * 60 - 30);
      const s = text(v);
      const back = Number(s);
      assert.ok(/^-?\d+(\.\d+)?(e[+-]\d+)?$/.test(s), s);
      assert.ok(Math.abs(back - v) <= 6e-15 * Math.abs(v), `${v} → ${s}`);
      if (Number.isInteger(v) && Math.abs(v) < 2 ** 53) assert.equal(back, v);
    }
  });

  it("writes NaN and infinities as String() does, and the largest doubles without overflowing", () => {
    assert.equal(text(Number.NaN), "NaN");
    assert.equal(text(Number.POSITIVE_INFINITY), "Infinity");
    assert.equal(text(Number.NEGATIVE_INFINITY), "-Infinity");
    assert.equal(Number(text(Number.MAX_VALUE)), Number.MAX_VALUE);
  });

  it("grows for long text and flushes to a sink", async () => {
    const b = new TextBuffer(16);
    const chunks: Buffer[] = [];
    b.text("é".repeat(100000));
    await b.flush({ write: (bytes) => void chunks.push(Buffer.from(bytes)), close: async () => {} });
    assert.equal(b.length, 0);
    assert.equal(Buffer.concat(chunks).toString("utf8"), "é".repeat(100000));
  });
});

describe("TextBuffer.numbers and padded", () => {
  it("numbers writes each value as number() does, comma-separated (property test, seeded)", () => {
    const random = seededRandom(12);
    const kinds = [
      () => 0,
      () => -0,
      () => Math.floor(random() * 10),
      () => Math.floor(random() * 100),
      () => Math.floor(random() * 1e8),
      () => Math.floor(random() * 2 ** 53),
      () => -Math.floor(random() * 1000),
      () => (random() - 0.5) * 10 ** Math.floor(random() * 40 - 20),
      () =>
        [Number.NaN, Number.POSITIVE_INFINITY, 99.5, 1e-7, 2 ** 31, 2 ** 32 + 1][Math.floor(random() * 6)],
    ];
    for (let row = 0; row < 2000; row++) {
      const values = Float64Array.from({ length: 1 + Math.floor(random() * 60) }, () =>
        kinds[Math.floor(random() * kinds.length)](),
      );
      const b = new TextBuffer(1 << 16);
      b.numbers(values, values.length);
      assert.equal(b.bytes.toString("latin1", 0, b.length), Array.from(values, text).join(","));
    }
  });

  it("numbers writes only the first `count` values", () => {
    const b = new TextBuffer(64);
    b.numbers(Float64Array.of(1, 2.5, 3), 2);
    assert.equal(b.bytes.toString("latin1", 0, b.length), "1,2.5");
  });

  it("padded writes a fixed number of digits", () => {
    const b = new TextBuffer(64);
    for (const [v, w] of [
      [0, 9],
      [7, 9],
      [123456789, 9],
      [999999999, 9],
      [5, 1],
      [42, 4],
    ]) {
      b.length = 0;
      b.padded(v, w);
      assert.equal(b.bytes.toString("latin1", 0, b.length), String(v).padStart(w, "0"));
    }
  });
});
