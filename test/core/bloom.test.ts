import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { BloomFilter } from "../../src/core/bloom.ts";
import { seededRandom } from "../../src/core/random.ts";

function hashes(seed: number, n: number): number[] {
  const random = seededRandom(seed);
  return Array.from({ length: n }, () => Math.floor(random() * 2 ** 32));
}

describe("BloomFilter", () => {
  test("holds every item it was given (no false no), across sizes and seeds", () => {
    for (const [bits, n, seed] of [
      [32, 5, 1],
      [1024, 100, 2],
      [8192, 3000, 3],
    ]) {
      const filter = new BloomFilter(bits);
      const items = hashes(seed, n);
      for (const h of items) filter.add(h);
      for (const h of items) assert.ok(filter.has(h), `bits ${bits}: lost ${h}`);
    }
  });

  test("false yes at the rate theory gives for two probes, and none when empty", () => {
    const bits = 8192;
    const filter = new BloomFilter(bits);
    const others = hashes(11, 20_000);
    assert.equal(others.filter((h) => filter.has(h)).length, 0, "an empty filter answers no to everything");
    for (const h of hashes(10, 1024)) filter.add(h);
    const rate = others.filter((h) => filter.has(h)).length / others.length;
    const expected = (1 - Math.exp((-2 * 1024) / bits)) ** 2; // 0.049
    assert.ok(Math.abs(rate - expected) < 0.01, `false yes ${rate} against ${expected}`);
  });

  test("round-trips through JSON exactly and refuses sizes that are not powers of two", () => {
    const filter = new BloomFilter(256);
    for (const h of hashes(5, 40)) filter.add(h);
    const copy = BloomFilter.fromJSON(JSON.parse(JSON.stringify(filter)));
    assert.deepEqual(copy.words, filter.words);
    for (const h of hashes(6, 500)) assert.equal(copy.has(h), filter.has(h));
    assert.throws(() => new BloomFilter(100), /power of two of at least 32 bits, got 100/);
    assert.throws(() => new BloomFilter(16), /got 16/);
  });
});
