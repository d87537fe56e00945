/**
 * Cross-validation folds. All splitters are deterministic for a given seed (no Math.random), because a grid
 * search must be reproducible and libsvm-js's own cross-validation is not.
 */
import { InputError, UsageError } from "./errors.ts";
import { seededRandom, shuffleInPlace } from "./random.ts";

export interface Fold {
  /** Sample indices, ascending. */
  train: number[];
  test: number[];
}

/**
 * Like sklearn StratifiedKFold(shuffle=True): fold f takes the class counts of every k-th sample of the
 * class-sorted labels, so each class's count differs by at most 1 between folds and fold sizes by at most 1;
 * which members of a class go to which fold is a seeded shuffle.
 */
export function stratifiedKFold(labels: ArrayLike<number>, k: number, seed: number): Fold[] {
  const { codes, counts } = encodeClasses(labels, k);
  const classStart = new Array<number>(counts.length).fill(0);
  for (let c = 1; c < counts.length; c++) classStart[c] = classStart[c - 1] + counts[c - 1];
  const random = seededRandom(seed);
  const foldOf = new Int32Array(codes.length);
  counts.forEach((count, c) => {
    // Position p of the class-sorted order goes to fold p mod k; this class holds positions classStart[c]…
    const assignment = Array.from({ length: count }, (_, m) => (classStart[c] + m) % k);
    shuffleInPlace(assignment, random);
    let m = 0;
    for (let i = 0; i < codes.length; i++) if (codes[i] === c) foldOf[i] = assignment[m++];
  });
  return foldsFromAssignment(foldOf, k);
}

/**
 * Like sklearn StratifiedGroupKFold(shuffle=True): groups are taken in a seeded random order, stably sorted so the
 * groups with the most uneven class counts come first, and each goes to the fold that keeps the per-class shares
 * most even across folds (mean over classes of the std over folds); near-ties go to the fold with fewer samples.
 * A group never appears in both the train and the test side of a fold.
 */
export function stratifiedGroupKFold(
  labels: ArrayLike<number>,
  groups: ArrayLike<string>,
  k: number,
  seed: number,
): Fold[] {
  const { codes, counts } = encodeClasses(labels, k);
  if (groups.length !== labels.length) {
    throw new InputError(`${labels.length} labels but ${groups.length} group names`);
  }
  const { groupOf, names } = encodeGroups(groups);
  if (names.length < k) {
    throw new UsageError(`only ${names.length} distinct groups, fewer than the ${k} folds asked for`);
  }
  const nClasses = counts.length;
  const perGroup = names.map(() => new Float64Array(nClasses));
  for (let i = 0; i < codes.length; i++) perGroup[groupOf[i]][codes[i]]++;

  const order = shuffleInPlace(
    names.map((_, g) => g),
    seededRandom(seed),
  );
  const spread = perGroup.map(populationStd);
  order.sort((a, b) => spread[b] - spread[a]);

  const perFold = Array.from({ length: k }, () => new Float64Array(nClasses));
  const foldOfGroup = new Int32Array(names.length);
  for (const g of order) {
    const best = bestFold(perFold, counts, perGroup[g]);
    for (let c = 0; c < nClasses; c++) perFold[best][c] += perGroup[g][c];
    foldOfGroup[g] = best;
  }
  const empty = perFold.findIndex((fold) => fold.every((v) => v === 0));
  // Adding to an empty fold always spreads shares best, so this guards an invariant rather than user input.
  if (empty >= 0) throw new Error(`stratifiedGroupKFold left fold ${empty} without a group`);

  const foldOf = new Int32Array(codes.length);
  for (let i = 0; i < codes.length; i++) foldOf[i] = foldOfGroup[groupOf[i]];
  return foldsFromAssignment(foldOf, k);
}

/**
 * Folds that hold whole groups and an even share of each class's groups: every group takes its majority label, and
 * the groups of each label are dealt to the folds in a seeded order (each class continuing where the previous one
 * ended), so the number of a class's groups differs by at most one between folds. This is the split for metrics that
 * weigh every group once (per-capture ROC AUC): balancing samples instead, as stratifiedGroupKFold does, fills the
 * folds with a few large groups first and then sends the many small groups of a class to the same fold, so a model
 * is never trained on the small groups that resemble the ones it is tested on.
 */
export function groupLabelKFold(
  labels: ArrayLike<number>,
  groups: ArrayLike<string>,
  k: number,
  seed: number,
): Fold[] {
  if (!Number.isInteger(k) || k < 2)
    throw new UsageError(`the number of folds must be an integer >= 2, got ${k}`);
  if (groups.length !== labels.length) {
    throw new InputError(`${labels.length} labels but ${groups.length} group names`);
  }
  const { groupOf, names } = encodeGroups(groups);
  if (names.length < k) {
    throw new UsageError(`only ${names.length} distinct groups, fewer than the ${k} folds asked for`);
  }
  const votes = names.map(() => new Map<number, number>());
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i];
    if (!Number.isFinite(y)) throw new InputError(`label at index ${i} is ${y}, not a finite number`);
    votes[groupOf[i]].set(y, (votes[groupOf[i]].get(y) ?? 0) + 1);
  }
  // Ties go to the larger label, so a group half malicious counts as malicious.
  const labelOf = votes.map((v) => [...v].sort((a, b) => b[1] - a[1] || b[0] - a[0])[0][0]);
  const random = seededRandom(seed);
  const foldOfGroup = new Int32Array(names.length);
  let dealt = 0;
  for (const y of [...new Set(labelOf)].sort((a, b) => a - b)) {
    const members = shuffleInPlace(
      labelOf.flatMap((l, g) => (l === y ? [g] : [])),
      random,
    );
    for (const g of members) foldOfGroup[g] = dealt++ % k;
  }
  const foldOf = new Int32Array(labels.length);
  for (let i = 0; i < labels.length; i++) foldOf[i] = foldOfGroup[groupOf[i]];
  return foldsFromAssignment(foldOf, k);
}

/** One fold per distinct group (in sorted group-name order) holding out that group. */
export function leaveOneGroupOut(groups: ArrayLike<string>): Fold[] {
  const { groupOf, names } = encodeGroups(groups);
  if (names.length < 2)
    throw new UsageError(`leave-one-group-out needs at least 2 groups, got ${names.length}`);
  return foldsFromAssignment(groupOf, names.length);
}

function bestFold(perFold: Float64Array[], classTotals: number[], group: Float64Array): number {
  let best = -1;
  let bestEval = Number.POSITIVE_INFINITY;
  let bestSamples = Number.POSITIVE_INFINITY;
  for (let f = 0; f < perFold.length; f++) {
    let evaluation = 0;
    for (let c = 0; c < classTotals.length; c++) {
      const shares = perFold.map((fold, g) => (fold[c] + (g === f ? group[c] : 0)) / classTotals[c]);
      evaluation += populationStd(shares);
    }
    evaluation /= classTotals.length;
    const samples = perFold[f].reduce((a, b) => a + b, 0);
    // numpy.isclose's default tolerances, as sklearn uses to decide that two folds are equally good.
    const close = best >= 0 && Math.abs(evaluation - bestEval) <= 1e-8 + 1e-5 * Math.abs(bestEval);
    if (best < 0 || (close ? samples < bestSamples : evaluation < bestEval)) {
      best = f;
      bestEval = evaluation;
      bestSamples = samples;
    }
  }
  return best;
}

function populationStd(values: ArrayLike<number>): number {
  let mean = 0;
  for (let i = 0; i < values.length; i++) mean += values[i];
  mean /= values.length;
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += (values[i] - mean) ** 2;
  return Math.sqrt(sum / values.length);
}

/** Maps labels to class codes 0…C−1 (classes in ascending order) and checks every class can fill k folds. */
function encodeClasses(labels: ArrayLike<number>, k: number): { codes: Int32Array; counts: number[] } {
  if (!Number.isInteger(k) || k < 2)
    throw new UsageError(`the number of folds must be an integer >= 2, got ${k}`);
  const countOf = new Map<number, number>();
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i];
    if (!Number.isFinite(y)) throw new InputError(`label at index ${i} is ${y}, not a finite number`);
    countOf.set(y, (countOf.get(y) ?? 0) + 1);
  }
  const classes = [...countOf.keys()].sort((a, b) => a - b);
  for (const y of classes) {
    const count = countOf.get(y)!;
    if (count < k)
      throw new UsageError(`class ${y} has only ${count} samples, fewer than the ${k} folds asked for`);
  }
  const codeOf = new Map(classes.map((y, c) => [y, c]));
  const codes = new Int32Array(labels.length);
  for (let i = 0; i < labels.length; i++) codes[i] = codeOf.get(labels[i])!;
  return { codes, counts: classes.map((y) => countOf.get(y)!) };
}

/** Group codes in sorted-name order, so folds do not depend on the order rows arrive in. */
function encodeGroups(groups: ArrayLike<string>): { groupOf: Int32Array; names: string[] } {
  const names = [...new Set(Array.from(groups))].sort();
  const codeOf = new Map(names.map((name, g) => [name, g]));
  const groupOf = new Int32Array(groups.length);
  for (let i = 0; i < groups.length; i++) groupOf[i] = codeOf.get(groups[i])!;
  return { groupOf, names };
}

function foldsFromAssignment(foldOf: Int32Array, k: number): Fold[] {
  const folds: Fold[] = Array.from({ length: k }, () => ({ train: [], test: [] }));
  for (let i = 0; i < foldOf.length; i++) {
    for (let f = 0; f < k; f++) (f === foldOf[i] ? folds[f].test : folds[f].train).push(i);
  }
  return folds;
}
