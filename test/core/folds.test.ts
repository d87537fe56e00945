import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { UsageError } from "../../src/core/errors.ts";
import {
  type Fold,
  groupLabelKFold,
  leaveOneGroupOut,
  stratifiedGroupKFold,
  stratifiedKFold,
} from "../../src/core/folds.ts";
import { randomInt, seededRandom } from "../../src/core/random.ts";

/** Each index is in exactly one test set, train is the complement, both ascending. */
function assertPartition(folds: Fold[], n: number): void {
  const seen = new Array<number>(n).fill(0);
  for (const fold of folds) {
    assert.ok(fold.test.length > 0, "empty test set");
    for (const list of [fold.train, fold.test]) {
      for (let i = 1; i < list.length; i++)
        assert.ok(list[i - 1] < list[i], "indices not strictly ascending");
    }
    const inTest = new Set(fold.test);
    assert.deepEqual(
      fold.train,
      Array.from({ length: n }, (_, i) => i).filter((i) => !inTest.has(i)),
    );
    for (const i of fold.test) seen[i]++;
  }
  assert.ok(
    seen.every((count) => count === 1),
    "an index is in zero or several test sets",
  );
}

function spread(values: number[]): number {
  return Math.max(...values) - Math.min(...values);
}

/** No group has members on both the train and the test side of a fold. */
function assertGroupsWhole(folds: Fold[], groups: string[], where: string): void {
  for (const fold of folds) {
    const testGroups = new Set(fold.test.map((i) => groups[i]));
    assert.ok(!fold.train.some((i) => testGroups.has(groups[i])), `${where}: a group leaks`);
  }
}

/** Appends a group of `size` samples, all labelled `label`, to parallel label and group arrays. */
function groupAdder(labels: number[], groups: string[]): (name: string, size: number, label: number) => void {
  return (name, size, label) => {
    for (let i = 0; i < size; i++) {
      labels.push(label);
      groups.push(name);
    }
  };
}

/** At least three of seeds 2–5 give folds other than seed 1's. */
function assertSeedsDiffer(split: (seed: number) => Fold[]): void {
  const first = JSON.stringify(split(1));
  const differing = [2, 3, 4, 5].filter((seed) => JSON.stringify(split(seed)) !== first);
  assert.ok(differing.length >= 3, `only ${differing.length} of 4 other seeds differ`);
}

function randomLabels(seed: number, n: number, positiveShare: number): number[] {
  const random = seededRandom(seed);
  return Array.from({ length: n }, () => (random() < positiveShare ? 1 : 0));
}

/** Groups of random sizes; each group is mostly one class, like captures that are benign or malicious. */
function randomGroups(seed: number, nGroups: number): { labels: number[]; groups: string[] } {
  const random = seededRandom(seed);
  const labels: number[] = [];
  const groups: string[] = [];
  for (let g = 0; g < nGroups; g++) {
    const size = 1 + randomInt(random, 30);
    const positiveShare = random() < 0.3 ? 0.9 : 0.05;
    for (let i = 0; i < size; i++) {
      labels.push(random() < positiveShare ? 1 : 0);
      groups.push(`g${g}`);
    }
  }
  // Guarantee both classes reach any k used below.
  for (let i = 0; i < 10; i++) {
    labels.push(i % 2);
    groups.push(`g${randomInt(random, nGroups)}`);
  }
  return { labels, groups };
}

describe("stratifiedKFold", () => {
  test("small hand example: 4 negatives + 2 positives in 2 folds", () => {
    const folds = stratifiedKFold([0, 1, 0, 0, 1, 0], 2, 1);
    assertPartition(folds, 6);
    for (const fold of folds) {
      assert.equal(fold.test.length, 3);
      assert.equal(fold.test.filter((i) => i === 1 || i === 4).length, 1);
    }
  });

  test("properties on random labels: partition, per-class counts and fold sizes within ±1", () => {
    for (let seed = 1; seed <= 40; seed++) {
      const n = 20 + seed * 13;
      const labels = randomLabels(seed, n, 0.05 + (seed % 5) * 0.1);
      const k = 2 + (seed % 9);
      const classCounts = [0, 1].map((c) => labels.filter((y) => y === c).length);
      if (Math.min(...classCounts) < k) continue;
      const folds = stratifiedKFold(labels, k, seed);
      assert.equal(folds.length, k);
      assertPartition(folds, n);
      assert.ok(spread(folds.map((f) => f.test.length)) <= 1, "fold sizes");
      for (const c of [0, 1]) {
        assert.ok(spread(folds.map((f) => f.test.filter((i) => labels[i] === c).length)) <= 1, `class ${c}`);
      }
    }
  });

  test("more than two classes", () => {
    const labels = Array.from({ length: 90 }, (_, i) => [0, 1, 1, 2, 2, 2][i % 6]);
    const folds = stratifiedKFold(labels, 5, 3);
    assertPartition(folds, 90);
    for (const fold of folds) {
      assert.deepEqual(
        [0, 1, 2].map((c) => fold.test.filter((i) => labels[i] === c).length),
        [3, 6, 9],
      );
    }
  });

  test("deterministic per seed, different across seeds", () => {
    const labels = randomLabels(5, 300, 0.2);
    assert.deepEqual(stratifiedKFold(labels, 5, 11), stratifiedKFold(labels, 5, 11));
    assert.notDeepEqual(stratifiedKFold(labels, 5, 11), stratifiedKFold(labels, 5, 12));
  });

  test("usage errors name the problem", () => {
    const labels = [0, 0, 0, 0, 0, 1, 1, 1];
    assert.throws(
      () => stratifiedKFold(labels, 1, 0),
      (e) => e instanceof UsageError && /integer >= 2/.test(e.message),
    );
    assert.throws(() => stratifiedKFold(labels, 2.5, 0), UsageError);
    assert.throws(
      () => stratifiedKFold(labels, 4, 0),
      (e) =>
        e instanceof UsageError && e.message.includes("class 1 has only 3 samples, fewer than the 4 folds"),
    );
    assert.throws(() => stratifiedKFold([0, 1, Number.NaN], 2, 0), /label at index 2 is NaN/);
  });
});

describe("stratifiedGroupKFold", () => {
  test("properties on random groups: partition, no group on both sides, deterministic", () => {
    for (let seed = 1; seed <= 30; seed++) {
      const { labels, groups } = randomGroups(seed, 8 + seed);
      const k = 2 + (seed % 6);
      const folds = stratifiedGroupKFold(labels, groups, k, seed);
      assert.equal(folds.length, k);
      assertPartition(folds, labels.length);
      assertGroupsWhole(folds, groups, `seed ${seed}`);
      assert.deepEqual(stratifiedGroupKFold(labels, groups, k, seed), folds);
    }
  });

  test("balances positives: equal positive groups spread one per fold", () => {
    const labels: number[] = [];
    const groups: string[] = [];
    const add = groupAdder(labels, groups);
    for (let g = 0; g < 5; g++) add(`attack${g}`, 4, 1);
    for (let g = 0; g < 10; g++) add(`benign${g}`, 6 + g, 0);
    const folds = stratifiedGroupKFold(labels, groups, 5, 7);
    for (const fold of folds) {
      assert.equal(fold.test.filter((i) => labels[i] === 1).length, 4);
      // 105 negatives in groups of 6…15: the greedy keeps each fold within one group size of the mean (21).
      const negatives = fold.test.filter((i) => labels[i] === 0).length;
      assert.ok(Math.abs(negatives - 21) <= 6, `fold has ${negatives} negatives`);
    }
  });

  test("when groups match the classes perfectly it behaves like stratifiedKFold (±1 per class)", () => {
    const labels = randomLabels(3, 200, 0.25);
    const groups = labels.map((_, i) => `row${i}`);
    const folds = stratifiedGroupKFold(labels, groups, 5, 1);
    assertPartition(folds, 200);
    for (const c of [0, 1]) {
      assert.ok(spread(folds.map((f) => f.test.filter((i) => labels[i] === c).length)) <= 1, `class ${c}`);
    }
  });

  test("different seeds give different folds", () => {
    const { labels, groups } = randomGroups(4, 40);
    assertSeedsDiffer((seed) => stratifiedGroupKFold(labels, groups, 5, seed));
  });

  test("usage errors: fewer groups than k, too few members of a class, k < 2", () => {
    const labels = [0, 1, 0, 1, 0, 1, 0, 1];
    const groups = ["a", "a", "b", "b", "c", "c", "c", "c"];
    assert.throws(
      () => stratifiedGroupKFold(labels, groups, 4, 0),
      (e) => e instanceof UsageError && /only 3 distinct groups, fewer than the 4 folds/.test(e.message),
    );
    assert.throws(
      () => stratifiedGroupKFold([0, 0, 0, 1], ["a", "b", "c", "d"], 2, 0),
      /class 1 has only 1 samples/,
    );
    assert.throws(() => stratifiedGroupKFold(labels, groups, 1, 0), UsageError);
    assert.throws(() => stratifiedGroupKFold(labels, ["a"], 2, 0), /8 labels but 1 group names/);
  });
});

describe("groupLabelKFold", () => {
  /** The label each group carries most often (ties to the larger), as the splitter reads it. */
  function groupLabels(labels: number[], groups: string[]): Map<string, number> {
    const votes = new Map<string, number[]>();
    labels.forEach((y, i) => {
      const v = votes.get(groups[i]) ?? [0, 0];
      v[y]++;
      votes.set(groups[i], v);
    });
    return new Map([...votes].map(([g, v]) => [g, v[1] >= v[0] ? 1 : 0]));
  }

  test("properties on random groups: partition, no group on both sides, each class's groups even (±1), deterministic", () => {
    for (let seed = 1; seed <= 30; seed++) {
      const { labels, groups } = randomGroups(seed, 8 + seed);
      const k = 2 + (seed % 6);
      const folds = groupLabelKFold(labels, groups, k, seed);
      assert.equal(folds.length, k);
      assertPartition(folds, labels.length);
      const labelOf = groupLabels(labels, groups);
      for (const c of [0, 1]) {
        const perFold = folds.map(
          (f) => new Set(f.test.map((i) => groups[i]).filter((g) => labelOf.get(g) === c)).size,
        );
        assert.ok(spread(perFold) <= 1, `seed ${seed}, class ${c}: groups per fold ${perFold}`);
      }
      assertGroupsWhole(folds, groups, `seed ${seed}`);
      assert.deepEqual(groupLabelKFold(labels, groups, k, seed), folds);
    }
  });

  test("small groups of a class are spread, where balancing samples sends them to one or two folds", () => {
    // Group sizes shaped like the shared captures after the 2,000-flow cap: a few floods, many small attacks, and
    // benign captures from 529 flows down to one.
    const malicious = [2000, 2000, 2000, 2000, 2000, 1994, 1412, 797, 392, 347, 239, 194];
    malicious.push(29, 19, 17, 15, 12, 10, 9, 9, 7, 6, 4, 3, 3, 2, 1, 1, 1, 1, 1, 1, 1);
    const benign = [
      529, 170, 141, 85, 83, 66, 62, 61, 60, 57, 51, 48, 47, 39, 37, 34, 33, 30, 26, 23, 19, 15, 15,
    ];
    benign.push(14, 13, 13, 13, 11, 10, 10, 9, 9, 9, 8, 8, 8, 7, 7, 6, 6, 6, 5, 5, 5, 4, 4);
    for (const [n, count] of [
      [3, 10],
      [2, 14],
      [1, 41],
    ])
      for (let i = 0; i < count; i++) benign.push(n);
    const labels: number[] = [];
    const groups: string[] = [];
    const add = groupAdder(labels, groups);
    for (const [g, n] of malicious.entries()) add(n < 50 ? `small${g}` : `large${g}`, n, 1);
    for (const [g, n] of benign.entries()) add(`benign${g}`, n, 0);
    const smallPerFold = (folds: Fold[]) =>
      folds.map((f) => new Set(f.test.map((i) => groups[i]).filter((g) => g.startsWith("small"))).size);
    for (const seed of [1, 7]) {
      const spreadOut = smallPerFold(groupLabelKFold(labels, groups, 5, seed));
      assert.ok(
        Math.max(...spreadOut) <= 7,
        `groupLabelKFold, seed ${seed}: small attacks per fold ${spreadOut}`,
      );
      const bunched = smallPerFold(stratifiedGroupKFold(labels, groups, 5, seed));
      assert.ok(
        Math.max(...bunched) >= 12,
        `stratifiedGroupKFold, seed ${seed}: small attacks per fold ${bunched}`,
      );
    }
  });

  test("different seeds give different folds; usage errors", () => {
    const { labels, groups } = randomGroups(4, 40);
    assertSeedsDiffer((seed) => groupLabelKFold(labels, groups, 5, seed));
    assert.throws(
      () => groupLabelKFold([0, 1, 0, 1], ["a", "a", "b", "b"], 3, 0),
      (e) => e instanceof UsageError && /only 2 distinct groups, fewer than the 3 folds/.test(e.message),
    );
    assert.throws(() => groupLabelKFold([0, 1], ["a", "b"], 1, 0), UsageError);
    assert.throws(() => groupLabelKFold([0, 1], ["a"], 2, 0), /2 labels but 1 group names/);
  });
});

describe("leaveOneGroupOut", () => {
  test("one fold per group, in sorted group order", () => {
    assert.deepEqual(leaveOneGroupOut(["b", "a", "b", "c"]), [
      { train: [0, 2, 3], test: [1] },
      { train: [1, 3], test: [0, 2] },
      { train: [0, 1, 2], test: [3] },
    ]);
  });

  test("needs two groups", () => {
    assert.throws(
      () => leaveOneGroupOut(["a", "a"]),
      (e) => e instanceof UsageError && /at least 2 groups/.test(e.message),
    );
  });
});
