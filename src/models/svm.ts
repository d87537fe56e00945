/**
 * Binary support vector classifier (C-SVC, RBF or linear kernel): trained by libsvm (WebAssembly), scored in
 * plain TypeScript from a JSON-serialisable model, so prediction needs no wasm and model files are readable.
 *
 * Training reproduces scikit-learn's `SVC` (same libsvm solver, same class order, gamma="scale",
 * class_weight="balanced"); see test/models/svm.real.ts for the parity check.
 */
import { InputError, ModelFileError } from "../core/errors.ts";
import { trainCSvc } from "./libsvm.ts";

export type Kernel = "rbf" | "linear";

export interface ClassWeight {
  negative: number;
  positive: number;
}

export interface SvmParams {
  kernel: Kernel;
  C: number;
  /** RBF width; "scale" (the default) is 1 / (nFeatures · Var(X)) over all entries of X, as in scikit-learn. */
  gamma?: number | "scale";
  /** Multipliers of C per class; "balanced" is n / (2 · n_class). Default: 1 for both. */
  classWeight?: ClassWeight | "balanced";
}

/**
 * A trained model, plain JSON data. decision(x) = Σ dualCoef_i · K(supportVectors_i, x) + intercept, and
 * decision > 0 means class 1 (positive). K is exp(−gamma·‖a − b‖²) for "rbf" and a·b for "linear".
 */
export interface SvmModel {
  kernel: Kernel;
  /** The RBF width actually used; null for the linear kernel. */
  gamma: number | null;
  nFeatures: number;
  /** Support vectors of class 0 first, then of class 1. */
  supportVectors: number[][];
  /** y_i · α_i with y = +1 for class 1 and −1 for class 0. */
  dualCoef: number[];
  intercept: number;
  /** Support vectors per class: [class 0, class 1]. */
  nSupport: [number, number];
  /** Linear kernel only: w = Σ dualCoef_i · supportVectors_i, so decision(x) = w·x + intercept. */
  primalWeights: number[] | null;
  /** The class weights actually used (after resolving "balanced"). */
  classWeight: ClassWeight;
  /** The parameters as requested. */
  params: SvmParams;
}

export interface TrainSvmOptions {
  /** Receives libsvm's warnings (e.g. the iteration limit was reached). Default: `process.emitWarning`. */
  onWarning?: (message: string) => void;
}

/** libsvm's defaults, which scikit-learn keeps: stopping tolerance 1e-3 and shrinking on. */
const TOLERANCE = 1e-3;
const SHRINKING = true;
/** Kernel cache: holds the whole float32 kernel matrix up to ~5,000 training rows; allocated only as needed. */
const CACHE_SIZE_MB = 100;

export async function trainSvm(
  X: readonly ArrayLike<number>[],
  y: ArrayLike<number>,
  params: SvmParams,
  options: TrainSvmOptions = {},
): Promise<SvmModel> {
  checkParams(params);
  const { nFeatures, counts } = checkTrainingSet(X, y);
  // libsvm orders classes by first appearance and puts each class's rows together, in input order. Feeding the
  // class-0 rows first makes that order [0, 1] with the original order inside each class, which is exactly what
  // scikit-learn's patched libsvm does (it sorts the labels), so the solver follows the same path. Everything
  // below uses this order, so the model does not depend on how the classes were interleaved.
  const order: number[] = [];
  for (const wanted of [0, 1]) for (let i = 0; i < y.length; i++) if (y[i] === wanted) order.push(i);
  const rows = order.map((i) => X[i]);
  const gamma = params.kernel === "rbf" ? resolveGamma(params.gamma ?? "scale", rows, nFeatures) : null;
  const classWeight = resolveClassWeight(params.classWeight, counts[0], counts[1]);
  const solution = await trainCSvc(
    rows,
    order.map((i) => y[i]),
    {
      kernel: params.kernel,
      C: params.C,
      gamma: gamma ?? 1, // unused by the linear kernel
      classWeight,
      cacheSizeMb: CACHE_SIZE_MB,
      tolerance: TOLERANCE,
      shrinking: SHRINKING,
    },
  );
  const warn = options.onWarning ?? ((message: string) => process.emitWarning(message, "LibsvmWarning"));
  for (const message of solution.messages) warn(message);

  // libsvm's decision value is positive for its first class, which the row order above made class 0.
  if (solution.labels[0] !== 0)
    throw new Error(`libsvm ordered the classes ${solution.labels}, expected 0,1`);
  const supportVectors = Array.from(solution.svIndices, (k) => Array.from(rows[k]));
  const dualCoef = Array.from(solution.svCoef, (c) => -c);
  return {
    kernel: params.kernel,
    gamma,
    nFeatures,
    supportVectors,
    dualCoef,
    intercept: solution.rho,
    nSupport: solution.nSV,
    primalWeights: params.kernel === "linear" ? primalWeightsOf(supportVectors, dualCoef, nFeatures) : null,
    classWeight,
    params: structuredClone(params),
  };
}

/** Decision values for the rows of X (> 0 ⇒ class 1). */
export function decisionFunction(model: SvmModel, X: readonly ArrayLike<number>[]): Float64Array {
  const score = scorerOf(model);
  const d = model.nFeatures;
  const out = new Float64Array(X.length);
  const block = new Float64Array(BLOCK * d);
  for (let r0 = 0; r0 < X.length; r0 += BLOCK) {
    const rows = Math.min(BLOCK, X.length - r0);
    for (let b = 0; b < rows; b++) copyRow(X[r0 + b], r0 + b, d, block, b * d);
    score(block, rows, out, r0);
  }
  return out;
}

/**
 * A decision function for one row at a time (live scoring: one process re-scored as its events arrive), with the
 * model flattened once. Same arithmetic as `decisionFunction`.
 */
export function rowDecision(model: SvmModel): (x: Float64Array) => number {
  const d = model.nFeatures;
  const b = model.intercept;
  if (model.kernel === "linear") {
    const w = Float64Array.from(
      model.primalWeights ?? primalWeightsOf(model.supportVectors, model.dualCoef, d),
    );
    return (x) => b + dot(w, 0, x, 0, d);
  }
  const m = model.supportVectors.length;
  const gamma = model.gamma ?? Number.NaN;
  const sv = new Float64Array(m * d);
  const svNorm = new Float64Array(m);
  const coef = Float64Array.from(model.dualCoef);
  for (let k = 0; k < m; k++) {
    sv.set(model.supportVectors[k], k * d);
    svNorm[k] = dot(sv, k * d, sv, k * d, d);
  }
  return (x) => {
    const xNorm = dot(x, 0, x, 0, d);
    let s = b;
    for (let k = 0; k < m; k++) {
      const distance = xNorm + svNorm[k] - 2 * dot(sv, k * d, x, 0, d);
      s += coef[k] * Math.exp(-gamma * Math.max(distance, 0));
    }
    return s;
  };
}

export function predictSvm(model: SvmModel, X: readonly ArrayLike<number>[]): Uint8Array {
  const decision = decisionFunction(model, X);
  const out = new Uint8Array(decision.length);
  for (let i = 0; i < decision.length; i++) out[i] = decision[i] > 0 ? 1 : 0;
  return out;
}

/**
 * Rows are scored BLOCK at a time: each support vector is read once per block instead of once per row, which
 * doubles RBF throughput. The per-row arithmetic (and so the result) is the same as scoring rows one by one.
 * rbfScorer is unrolled for exactly this block size.
 */
const BLOCK = 4;

/** Writes the decision values of the first `rows` rows of `block` (row-major, BLOCK × nFeatures) to out[at…]. */
type Scorer = (block: Float64Array, rows: number, out: Float64Array, at: number) => void;

/** Models are treated as immutable: the flattened form is built once per model object. */
const scorers = new WeakMap<SvmModel, Scorer>();

function scorerOf(model: SvmModel): Scorer {
  let scorer = scorers.get(model);
  if (scorer === undefined) {
    scorer = model.kernel === "linear" ? linearScorer(model) : rbfScorer(model);
    scorers.set(model, scorer);
  }
  return scorer;
}

function linearScorer(model: SvmModel): Scorer {
  const w = Float64Array.from(
    model.primalWeights ?? primalWeightsOf(model.supportVectors, model.dualCoef, model.nFeatures),
  );
  const d = w.length;
  const b = model.intercept;
  return (block, rows, out, at) => {
    for (let r = 0; r < rows; r++) out[at + r] = b + dot(w, 0, block, r * d, d);
  };
}

function rbfScorer(model: SvmModel): Scorer {
  const d = model.nFeatures;
  const m = model.supportVectors.length;
  const gamma = model.gamma ?? Number.NaN;
  const sv = new Float64Array(m * d);
  const svNorm = new Float64Array(m);
  const coef = Float64Array.from(model.dualCoef);
  for (let k = 0; k < m; k++) {
    sv.set(model.supportVectors[k], k * d);
    svNorm[k] = dot(sv, k * d, sv, k * d, d);
  }
  const b = model.intercept;
  // exp(−γ·‖x − v‖²) with ‖x − v‖² = ‖x‖² + ‖v‖² − 2·x·v; rounding can make that slightly negative for x ≈ v.
  const term = (c: number, xNorm: number, vNorm: number, xv: number) => {
    const distance = xNorm + vNorm - 2 * xv;
    return c * Math.exp(-gamma * Math.max(distance, 0));
  };
  return (block, rows, out, at) => {
    // Rows past `rows` hold stale data: they are scored but never written out.
    const x0 = 0;
    const x1 = d;
    const x2 = 2 * d;
    const x3 = 3 * d;
    const n0 = dot(block, x0, block, x0, d);
    const n1 = dot(block, x1, block, x1, d);
    const n2 = dot(block, x2, block, x2, d);
    const n3 = dot(block, x3, block, x3, d);
    let s0 = b;
    let s1 = b;
    let s2 = b;
    let s3 = b;
    for (let k = 0; k < m; k++) {
      const o = k * d;
      let p0 = 0;
      let p1 = 0;
      let p2 = 0;
      let p3 = 0;
      for (let j = 0; j < d; j++) {
        const v = sv[o + j];
        p0 += v * block[x0 + j];
        p1 += v * block[x1 + j];
        p2 += v * block[x2 + j];
        p3 += v * block[x3 + j];
      }
      const c = coef[k];
      const vNorm = svNorm[k];
      s0 += term(c, n0, vNorm, p0);
      s1 += term(c, n1, vNorm, p1);
      s2 += term(c, n2, vNorm, p2);
      s3 += term(c, n3, vNorm, p3);
    }
    const sums = [s0, s1, s2, s3];
    for (let r = 0; r < rows; r++) out[at + r] = sums[r];
  };
}

function dot(a: Float64Array, aStart: number, b: Float64Array, bStart: number, d: number): number {
  let s = 0;
  for (let j = 0; j < d; j++) s += a[aStart + j] * b[bStart + j];
  return s;
}

function primalWeightsOf(
  supportVectors: readonly number[][],
  dualCoef: readonly number[],
  d: number,
): number[] {
  const w = new Array<number>(d).fill(0);
  supportVectors.forEach((v, k) => {
    for (let j = 0; j < d; j++) w[j] += dualCoef[k] * v[j];
  });
  return w;
}

/** Copies row `r` into `into[at…]`, checking its width and that its values are finite. */
function copyRow(row: ArrayLike<number>, r: number, d: number, into: Float64Array, at: number): void {
  if (row.length !== d) throw new InputError(`row ${r} has ${row.length} features, expected ${d}`);
  for (let j = 0; j < d; j++) {
    const v = row[j];
    if (!Number.isFinite(v))
      throw new InputError(`row ${r}, feature ${j} is ${v}: SVM inputs must be finite`);
    into[at + j] = v;
  }
}

function checkParams(params: SvmParams): void {
  if (params.kernel !== "rbf" && params.kernel !== "linear") {
    throw new InputError(`SVM kernel must be "rbf" or "linear", got ${JSON.stringify(params.kernel)}`);
  }
  if (!isPositive(params.C)) throw new InputError(`SVM C must be a positive finite number, got ${params.C}`);
  const { gamma, classWeight } = params;
  if (gamma !== undefined && gamma !== "scale" && !isPositive(gamma)) {
    throw new InputError(
      `SVM gamma must be "scale" or a positive finite number, got ${JSON.stringify(gamma)}`,
    );
  }
  if (
    classWeight !== undefined &&
    classWeight !== "balanced" &&
    !(isPositive(classWeight.negative) && isPositive(classWeight.positive))
  ) {
    throw new InputError(
      `SVM class weights must be "balanced" or positive finite numbers, got ${JSON.stringify(classWeight)}`,
    );
  }
}

function checkTrainingSet(
  X: readonly ArrayLike<number>[],
  y: ArrayLike<number>,
): { nFeatures: number; counts: [number, number] } {
  if (X.length === 0) throw new InputError("SVM training set is empty");
  if (X.length !== y.length)
    throw new InputError(`SVM training set has ${X.length} rows but ${y.length} labels`);
  const d = X[0].length;
  if (d === 0) throw new InputError("SVM training rows have no features");
  const row = new Float64Array(d);
  for (let r = 0; r < X.length; r++) copyRow(X[r], r, d, row, 0);
  const counts: [number, number] = [0, 0];
  for (let i = 0; i < y.length; i++) {
    if (y[i] !== 0 && y[i] !== 1) throw new InputError(`SVM label of row ${i} is ${y[i]}, expected 0 or 1`);
    counts[y[i]]++;
  }
  if (counts[0] === 0 || counts[1] === 0) {
    const only = counts[0] === 0 ? 1 : 0;
    throw new InputError(
      `SVM training set has only class ${only} (${y.length} rows): both classes are needed to fit a classifier`,
    );
  }
  return { nFeatures: d, counts };
}

function resolveGamma(gamma: number | "scale", X: readonly ArrayLike<number>[], d: number): number {
  if (gamma !== "scale") return gamma;
  // Two passes (mean, then squared deviations) as numpy's var does; a constant X gets 1 like scikit-learn.
  let sum = 0;
  for (const row of X) for (let j = 0; j < d; j++) sum += row[j];
  const n = X.length * d;
  const mean = sum / n;
  let squares = 0;
  for (const row of X) {
    for (let j = 0; j < d; j++) {
      const t = row[j] - mean;
      squares += t * t;
    }
  }
  const variance = squares / n;
  return variance > 0 ? 1 / (d * variance) : 1;
}

function resolveClassWeight(weight: SvmParams["classWeight"], n0: number, n1: number): ClassWeight {
  if (weight === undefined) return { negative: 1, positive: 1 };
  if (weight === "balanced") {
    const n = n0 + n1;
    return { negative: n / (2 * n0), positive: n / (2 * n1) };
  }
  return { negative: weight.negative, positive: weight.positive };
}

function isPositive(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value) && value > 0;
}

/** Checks that `obj` (e.g. parsed from a model file) is a usable SvmModel; throws ModelFileError otherwise. */
export function validateSvmModel(obj: unknown): SvmModel {
  const fail = (message: string): never => {
    throw new ModelFileError(`invalid SVM model: ${message}`);
  };
  if (!isRecord(obj)) return fail("not an object");
  const m = obj;
  if (m.kernel !== "rbf" && m.kernel !== "linear")
    fail(`kernel must be "rbf" or "linear", got ${show(m.kernel)}`);
  if (!Number.isInteger(m.nFeatures) || (m.nFeatures as number) < 1) {
    fail(`nFeatures must be a positive integer, got ${show(m.nFeatures)}`);
  }
  const d = m.nFeatures as number;
  if (m.kernel === "rbf" && !isPositive(m.gamma))
    fail(`gamma must be a positive number, got ${show(m.gamma)}`);
  if (m.kernel === "linear" && m.gamma !== null) fail(`gamma must be null for the linear kernel`);
  if (!Array.isArray(m.supportVectors) || m.supportVectors.length === 0) {
    fail("supportVectors must be a non-empty array");
  }
  const supportVectors = m.supportVectors as unknown[];
  // An index loop, not forEach: forEach skips the holes of a sparse array.
  for (let k = 0; k < supportVectors.length; k++)
    finiteVector(supportVectors[k], d, `supportVectors[${k}]`, fail);
  finiteVector(m.dualCoef, supportVectors.length, "dualCoef", fail);
  if (typeof m.intercept !== "number" || !Number.isFinite(m.intercept)) {
    fail(`intercept must be a finite number, got ${show(m.intercept)}`);
  }
  const nSupport = m.nSupport;
  if (
    !Array.isArray(nSupport) ||
    nSupport.length !== 2 ||
    !nSupport.every((n) => Number.isInteger(n) && n >= 0) ||
    nSupport[0] + nSupport[1] !== supportVectors.length
  ) {
    fail(
      `nSupport must be two counts adding up to the ${supportVectors.length} support vectors, got ${show(nSupport)}`,
    );
  }
  if (m.kernel === "linear") {
    finiteVector(m.primalWeights, d, "primalWeights", fail);
    const expected = primalWeightsOf(supportVectors as number[][], m.dualCoef as number[], d);
    const w = m.primalWeights as number[];
    const scale = expected.reduce((s, v) => Math.max(s, Math.abs(v)), 1);
    if (expected.some((v, j) => Math.abs(v - w[j]) > 1e-9 * scale)) {
      fail("primalWeights do not match the support vectors and dual coefficients");
    }
  } else if (m.primalWeights !== null) {
    fail("primalWeights must be null for the rbf kernel");
  }
  const cw = m.classWeight;
  if (!isRecord(cw) || !isPositive(cw.negative) || !isPositive(cw.positive)) {
    fail(`classWeight must hold positive numbers "negative" and "positive", got ${show(cw)}`);
  }
  if (!isRecord(m.params)) fail("params must be an object");
  return m as unknown as SvmModel;
}

function finiteVector(value: unknown, length: number, name: string, fail: (message: string) => never): void {
  if (!Array.isArray(value)) fail(`${name} must be an array of numbers, got ${show(value)}`);
  const v = value as unknown[];
  if (v.length !== length) fail(`${name} has ${v.length} values, expected ${length}`);
  const bad = v.findIndex((x) => typeof x !== "number" || !Number.isFinite(x));
  if (bad >= 0) fail(`${name}[${bad}] is ${show(v[bad])}, expected a finite number`);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function show(value: unknown): string {
  if (typeof value === "number" && !Number.isFinite(value)) return String(value);
  const text = JSON.stringify(value);
  if (text === undefined) return String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
