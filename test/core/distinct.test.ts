import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { DistinctCounter, FNV_OFFSET, hashBytes } from "../../src/core/distinct.ts";
import { randomInt, seededRandom, shuffleInPlace } from "../../src/core/random.ts";

/** `n` distinct uniform 32-bit hashes. */
function distinctHashes(seed: number, n: number): number[] {
  const random = seededRandom(seed);
  const seen = new Set<number>();
  while (seen.size < n) seen.add(Math.floor(random() * 2 ** 32));
  return [...seen];
}

function countOf(hashes: readonly number[]): number {
  const counter = new DistinctCounter();
  for (const h of hashes) counter.add(h);
  return counter.count;
}

/** The MurmurHash3 finaliser the counter uses for slots, to build worst-case probe chains. */
function murmurMix(hash: number): number {
  let h = hash >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

const utf8 = new TextEncoder();

describe("hashBytes", () => {
  test("FNV-1a 32-bit reference values", () => {
    const h = (s: string) => {
      const b = utf8.encode(s);
      return hashBytes(b, 0, b.length);
    };
    assert.equal(h(""), FNV_OFFSET);
    assert.equal(h(""), 0x811c9dc5);
    assert.equal(h("a"), 0xe40c292c);
    assert.equal(h("foobar"), 0xbf9cf968);
  });

  test("hashes only bytes[start, end) and returns an unsigned 32-bit integer", () => {
    const b = utf8.encode("xxfoobaryy");
    const inner = utf8.encode("foobar");
    assert.equal(hashBytes(b, 2, 8), hashBytes(inner, 0, inner.length));
    const random = seededRandom(3);
    for (let i = 0; i < 1000; i++) {
      const bytes = Uint8Array.from({ length: randomInt(random, 20) }, () => randomInt(random, 256));
      const h = hashBytes(bytes, 0, bytes.length);
      assert.ok(Number.isInteger(h) && h >= 0 && h <= 0xffffffff);
    }
  });
});

describe("DistinctCounter exact range (≤ 128 distinct)", () => {
  test("empty counter is 0", () => {
    assert.equal(new DistinctCounter().count, 0);
  });

  test("exact for every size 0..128, with duplicates interleaved", () => {
    const random = seededRandom(5);
    for (let n = 0; n <= 128; n++) {
      const hashes = distinctHashes(1000 + n, n);
      const stream = shuffleInPlace([...hashes, ...hashes, ...hashes.slice(0, n >> 1)], random);
      assert.equal(countOf(stream), n, `n = ${n}`);
    }
  });

  test("edge hashes 0 and 0xffffffff are distinct values, each counted once", () => {
    assert.equal(countOf([0xffffffff]), 1);
    assert.equal(countOf([0xffffffff, 0xffffffff]), 1);
    assert.equal(countOf([0, 0xffffffff, 0, 0xffffffff]), 2);
    assert.equal(countOf([0, 1, 2, 0xffffffff, 0x80000000, 0x7fffffff, 1, 0]), 6);
  });

  test("exact when all 128 hashes land in the same slot (longest probe chain, wrap-around)", () => {
    for (const slot of [0, 255]) {
      const colliding: number[] = [];
      for (let h = 0; colliding.length < 128; h++) if ((murmurMix(h) & 255) === slot) colliding.push(h);
      assert.equal(countOf([...colliding, ...colliding.reverse()]), 128, `slot ${slot}`);
    }
  });

  test("small sequential hashes (FNV inputs are structured) stay exact", () => {
    assert.equal(countOf(Array.from({ length: 128 }, (_, i) => i)), 128);
  });
});

describe("DistinctCounter sketch range (> 128 distinct)", () => {
  test("switching to the sketch at 129 keeps the count close", () => {
    for (let seed = 1; seed <= 5; seed++) {
      for (const n of [129, 150, 300]) {
        const estimate = countOf(distinctHashes(seed, n));
        assert.ok(Math.abs(estimate / n - 1) < 0.06, `seed ${seed}, n ${n}: ${estimate}`);
      }
    }
  });

  for (const n of [1_000, 10_000, 100_000]) {
    test(`relative error within 8 % at ${n} distinct values, for several seeds`, () => {
      for (let seed = 1; seed <= 5; seed++) {
        const estimate = countOf(distinctHashes(seed, n));
        assert.ok(Math.abs(estimate / n - 1) < 0.08, `seed ${seed}: ${estimate} for ${n}`);
      }
    });
  }

  test("relative error within 8 % for FNV hashes of similar paths", () => {
    for (const n of [1_000, 10_000, 100_000]) {
      const counter = new DistinctCounter();
      for (let i = 0; i < n; i++) {
        const b = utf8.encode(`/home/user/docs/file-${i}.txt`);
        counter.add(hashBytes(b, 0, b.length));
      }
      assert.ok(Math.abs(counter.count / n - 1) < 0.08, `${counter.count} for ${n}`);
    }
  });

  test("the running sum gives the count a fresh sum over the registers gives, at every step", () => {
    for (const seed of [3, 4]) {
      const counter = new DistinctCounter();
      const hashes = distinctHashes(seed, 20_000);
      hashes.forEach((h, i) => {
        counter.add(h);
        // fromJSON sums the registers afresh.
        if (i % 997 === 0 || i === hashes.length - 1) {
          const fresh = DistinctCounter.fromJSON(JSON.parse(JSON.stringify(counter.toJSON())));
          assert.equal(counter.count, fresh.count, `seed ${seed}, after ${i + 1}`);
        }
      });
    }
  });

  test("duplicates and insertion order do not change the estimate", () => {
    const random = seededRandom(9);
    for (const n of [200, 5_000, 50_000]) {
      const hashes = distinctHashes(n, n);
      const once = countOf(hashes);
      const repeated = shuffleInPlace([...hashes, ...hashes, ...hashes.slice(0, n >> 2)], random);
      assert.equal(countOf(repeated), once, `n ${n}`);
      // Re-adding everything after the switch is also a no-op.
      const counter = new DistinctCounter();
      for (const h of hashes) counter.add(h);
      for (const h of hashes) counter.add(h);
      assert.equal(counter.count, once, `n ${n}`);
    }
  });
});
