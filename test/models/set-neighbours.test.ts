import assert from "node:assert/strict";
import { test } from "node:test";
import { randomInt, seededRandom } from "../../src/core/random.ts";
import { SetNeighbours, TokenSet } from "../../src/models/set-neighbours.ts";

function cosine(a: Set<number>, b: Set<number>): number {
  let common = 0;
  for (const x of a) if (b.has(x)) common++;
  return common / Math.sqrt(a.size * b.size);
}

test("distance is 1 − the best cosine similarity of indicator vectors (brute force, 70-token vocabulary)", () => {
  const random = seededRandom(4);
  const vocab = 70;
  const draw = () =>
    new Set(Array.from({ length: 1 + randomInt(random, 20) }, () => randomInt(random, vocab)));
  const training = Array.from({ length: 40 }, draw);
  const neighbours = SetNeighbours.fit(
    vocab,
    training.map((s) => TokenSet.of(vocab, [...s])),
  );
  for (let trial = 0; trial < 100; trial++) {
    const query = draw();
    const expected = 1 - Math.max(...training.map((t) => cosine(query, t)));
    const got = neighbours.distance(TokenSet.of(vocab, [...query]));
    assert.ok(Math.abs(got - expected) < 1e-12, `${got} vs ${expected}`);
  }
  assert.equal(neighbours.distance(new TokenSet(vocab)), 1, "an empty set is as far as can be");
  const { bits, sizes } = neighbours.toArrays();
  const copy = SetNeighbours.fromArrays(vocab, bits, sizes);
  assert.equal(
    copy.distance(TokenSet.of(vocab, [1, 2, 3])),
    neighbours.distance(TokenSet.of(vocab, [1, 2, 3])),
  );
  const wrong = Int32Array.from(sizes);
  wrong[0]++;
  assert.throws(() => SetNeighbours.fromArrays(vocab, bits, wrong), /members/);
});

test("identical training sets are stored once; nearest() names the set and holds() its members", () => {
  const a = TokenSet.of(40, [1, 5, 33]);
  const neighbours = SetNeighbours.fit(40, [a, TokenSet.of(40, [1, 5, 33]), TokenSet.of(40, [2])]);
  assert.equal(neighbours.count, 2);
  const { index, similarity } = neighbours.nearest(TokenSet.of(40, [1, 5, 33, 7]));
  assert.ok(Math.abs(similarity - 3 / Math.sqrt(12)) < 1e-12);
  assert.ok(neighbours.holds(index, 33) && !neighbours.holds(index, 7));
});
