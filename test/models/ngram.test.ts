import assert from "node:assert/strict";
import { test } from "node:test";
import { randomInt, seededRandom } from "../../src/core/random.ts";
import { NgramCounts, RingHistory } from "../../src/models/ngram.ts";

const PAD = 0;

function randomSequences(seed: number, vocab: number, count: number, maxLength: number): Int32Array[] {
  const random = seededRandom(seed);
  return Array.from({ length: count }, () =>
    Int32Array.from({ length: 1 + randomInt(random, maxLength) }, () => 1 + randomInt(random, vocab - 1)),
  );
}

test("Witten–Bell by hand: one sequence a b a b (a=1, b=2, pad 0, vocabulary 3)", () => {
  const model = new NgramCounts({ vocabSize: 3, order: 2, pad: PAD });
  model.add([1, 2, 1, 2]);
  // Unigrams: a 2, b 2 (total 4, 2 types); uniform base 1/3.
  const unigramA = (2 + 2 * (1 / 3)) / (4 + 2);
  assert.ok(Math.abs(model.probability([], 1, 1) - unigramA) < 1e-12);
  // After a: b twice (total 2, 1 type).
  const bigramBafterA = (2 + 1 * ((2 + 2 / 3) / 6)) / (2 + 1);
  assert.ok(Math.abs(model.probability([1], 2) - bigramBafterA) < 1e-12);
  // After b: a once (total 1, 1 type); b never followed b.
  const bAfterB = (0 + 1 * ((2 + 2 / 3) / 6)) / (1 + 1);
  assert.ok(Math.abs(model.probability([2], 2) - bAfterB) < 1e-12);
  // The start of a sequence is the context "pad": a followed it once.
  const aAtStart = (1 + 1 * unigramA) / (1 + 1);
  assert.ok(Math.abs(model.probability([], 1) - aAtStart) < 1e-12);
});

test("probabilities over the vocabulary sum to 1 in every context (property)", () => {
  const vocab = 9;
  const model = new NgramCounts({ vocabSize: vocab, order: 4, pad: PAD });
  for (const s of randomSequences(3, vocab, 30, 40)) model.add(s);
  const random = seededRandom(11);
  for (let trial = 0; trial < 200; trial++) {
    const context = Array.from({ length: randomInt(random, 6) }, () => randomInt(random, vocab));
    let sum = 0;
    for (let t = 0; t < vocab; t++) sum += model.probability(context, t);
    assert.ok(Math.abs(sum - 1) < 1e-9, `context ${context}: ${sum}`);
  }
});

test("window counts equal a brute-force count of padded windows", () => {
  const vocab = 6;
  const order = 5;
  const sequences = randomSequences(5, vocab, 25, 30);
  const model = new NgramCounts({ vocabSize: vocab, order, pad: PAD });
  const brute = new Map<string, number>();
  for (const s of sequences) {
    model.add(s);
    const padded = [...new Array(order - 1).fill(PAD), ...s];
    for (let w = 1; w <= order; w++)
      for (let end = order - 1; end < padded.length; end++) {
        const key = padded.slice(end - w + 1, end + 1).join(",");
        brute.set(key, (brute.get(key) ?? 0) + 1);
      }
  }
  for (const s of [...sequences, ...randomSequences(99, vocab, 10, 30)]) {
    const history = new RingHistory(order, PAD);
    const padded = [...new Array(order - 1).fill(PAD), ...s];
    s.forEach((token, i) => {
      for (let w = 1; w <= order; w++) {
        const key = padded.slice(i + order - w, i + order).join(",");
        assert.equal(model.query(history, token, 1, w).windowCount, brute.get(key) ?? 0, key);
      }
      history.push(token);
    });
  }
});

test("grams() and fromGrams() round-trip every probability and count", () => {
  const vocab = 7;
  const model = new NgramCounts({ vocabSize: vocab, order: 3, pad: PAD });
  for (const s of randomSequences(8, vocab, 20, 25)) model.add(s);
  const { tokens, counts } = model.grams();
  const copy = NgramCounts.fromGrams({ vocabSize: vocab, order: 3, pad: PAD }, tokens, counts);
  assert.equal(copy.contexts, model.contexts);
  const random = seededRandom(2);
  for (let trial = 0; trial < 300; trial++) {
    const context = Array.from({ length: randomInt(random, 4) }, () => randomInt(random, vocab));
    const token = randomInt(random, vocab);
    assert.equal(copy.probability(context, token), model.probability(context, token));
  }
  assert.throws(() => NgramCounts.fromGrams({ vocabSize: vocab, order: 3, pad: PAD }, [1, 2], [1]));
  assert.throws(() => NgramCounts.fromGrams({ vocabSize: vocab, order: 3, pad: PAD }, [1, 2, 99], [1]));
  assert.throws(() => NgramCounts.fromGrams({ vocabSize: vocab, order: 3, pad: PAD }, [1, 2, 3], [0]));
});
