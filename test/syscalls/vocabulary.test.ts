import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ModelFileError, UsageError } from "../../src/core/errors.ts";
import { seededRandom, shuffleInPlace } from "../../src/core/random.ts";
import { PAD, UNKNOWN, Vocabulary } from "../../src/syscalls/vocabulary.ts";

const TRAIN = [
  ["read", "read", "write", "close"],
  ["open", "read", "close", "mmap2"],
  ["write", "read", "close", "close"],
];

describe("Vocabulary", () => {
  it("reserves 0 for padding and 1 for <unk>, then orders by descending count, ties by name", () => {
    const vocabulary = Vocabulary.fit(TRAIN);
    // read 4, close 4, write 2, mmap2 1, open 1
    assert.deepEqual(vocabulary.names, ["close", "read", "write", "mmap2", "open"]);
    assert.deepEqual(vocabulary.counts, [4, 4, 2, 1, 1]);
    assert.equal(vocabulary.size, 7);
    assert.deepEqual(
      [0, 1, 2, 6].map((i) => vocabulary.nameOf(i)),
      ["<pad>", "<unk>", "close", "open"],
    );
    assert.equal(PAD, 0);
    assert.equal(UNKNOWN, 1);
  });

  it("is the same whatever the order of the training traces and of the names within them", () => {
    const reference = JSON.stringify(Vocabulary.fit(TRAIN));
    const random = seededRandom(3);
    for (let k = 0; k < 20; k++) {
      const shuffled = shuffleInPlace(
        TRAIN.map((trace) => shuffleInPlace([...trace], random)),
        random,
      );
      assert.equal(JSON.stringify(Vocabulary.fit(shuffled)), reference);
    }
  });

  it("orders ties by code unit, not locale (upper case before lower case)", () => {
    assert.deepEqual(Vocabulary.fit([["b", "B", "a", "_x"]]).names, ["B", "_x", "a", "b"]);
  });

  it("encodes unseen names as <unk> and counts them", () => {
    const vocabulary = Vocabulary.fit(TRAIN);
    const trace = ["read", "socket", "close", "connect", "read"];
    assert.deepEqual([...vocabulary.encode(trace)], [3, UNKNOWN, 2, UNKNOWN, 3]);
    assert.ok(vocabulary.encode(trace) instanceof Int32Array);
    assert.equal(vocabulary.unknownCount(trace), 2);
    assert.equal(vocabulary.indexOf("socket"), UNKNOWN);
  });

  it("maps names rarer than minCount to <unk> so that training sees it", () => {
    const vocabulary = Vocabulary.fit(TRAIN, { minCount: 2 });
    assert.deepEqual(vocabulary.names, ["close", "read", "write"]);
    const encoded = TRAIN.flatMap((trace) => [...vocabulary.encode(trace)]);
    assert.equal(encoded.filter((id) => id === UNKNOWN).length, 2);
    assert.throws(() => Vocabulary.fit(TRAIN, { minCount: 0 }), UsageError);
  });

  it("round-trips through JSON", () => {
    const vocabulary = Vocabulary.fit(TRAIN, { minCount: 2 });
    const copy = Vocabulary.fromJSON(JSON.parse(JSON.stringify(vocabulary)));
    assert.deepEqual(copy.toJSON(), vocabulary.toJSON());
    assert.deepEqual(copy.encode(["write", "open"]), vocabulary.encode(["write", "open"]));
    assert.equal(copy.minCount, 2);
  });

  it("rejects malformed JSON with a ModelFileError naming the file", () => {
    const good = Vocabulary.fit(TRAIN).toJSON();
    const cases: [unknown, RegExp][] = [
      [null, /not an object/],
      [{ ...good, format: "other" }, /format is "other"/],
      [{ ...good, version: 2 }, /unsupported version 2/],
      [{ ...good, minCount: 0 }, /minCount/],
      [{ ...good, names: "read" }, /must be arrays/],
      [{ ...good, counts: good.counts.slice(1) }, /5 names but 4 counts/],
      [{ ...good, names: ["read", "read", "a", "b", "c"] }, /"read" appears twice/],
      [{ ...good, names: ["<unk>", "x", "a", "b", "c"] }, /names\[0\] is not a syscall name/],
      [{ ...good, counts: [4, 4, 2, 1, 0.5] }, /counts\[4\]/],
    ];
    for (const [value, message] of cases) {
      assert.throws(
        () => Vocabulary.fromJSON(value, "model/vocabulary.json"),
        (error: unknown) => {
          assert.ok(error instanceof ModelFileError);
          assert.match(error.message, /^model\/vocabulary\.json: invalid syscall vocabulary: /);
          assert.match(error.message, message);
          return true;
        },
      );
    }
  });
});
