/**
 * Weighted logistic regression with l1 or l2 penalty, class weights and an optional unpenalised intercept. The
 * objective is exactly scikit-learn's, so models and grid-search results can be compared with it:
 *
 *   minimise  C · Σ_i cw[y_i] · logloss_i + penalty(w),   penalty = ½‖w‖² (l2) or ‖w‖₁ (l1), intercept free.
 *
 * No npm package offers this combination, hence the solver in ./logisticSolver.ts.
 */
import { InputError, ModelFileError } from "../core/errors.ts";
import { type ColumnMajor, solveLogistic } from "./logisticSolver.ts";

export interface LogisticParams {
  penalty: "l1" | "l2";
  /** Inverse regularisation strength (> 0): weight of the data term against the penalty. */
  C: number;
  /** Per-class multipliers of the loss; "balanced" uses n / (2 · n_class) as scikit-learn does. */
  classWeight?: { negative: number; positive: number } | "balanced";
  fitIntercept: boolean;
  /**
   * Stop when every coordinate of the objective's minimum-norm (sub)gradient is ≤ tol times the sum of the absolute
   * values of the terms it is made of (so the test is independent of C, n and feature scale). Default 1e-8.
   */
  tol?: number;
  /** Maximum number of Newton iterations. Default 100. */
  maxIter?: number;
}

export interface LogisticModel {
  weights: number[];
  intercept: number;
  /** The parameters of the fit, with tol and maxIter filled in. */
  params: LogisticParams;
  iterations: number;
  /** Euclidean norm of the objective's minimum-norm (sub)gradient at the returned solution. */
  gradientNorm: number;
  /** Whether the tol test passed; false when maxIter ran out or the line search could not decrease the objective. */
  converged: boolean;
}

export const DEFAULT_TOL = 1e-8;
export const DEFAULT_MAX_ITER = 100;

export function fitLogistic(
  X: ArrayLike<number>[],
  y: ArrayLike<number>,
  params: LogisticParams,
): LogisticModel {
  const problem = paramsProblem(params);
  if (problem !== undefined) throw new InputError(`logistic regression: ${problem}`);
  const resolved = resolveParams(params);
  const n = X.length;
  if (n === 0) throw new InputError("logistic regression: no training rows");
  if (y.length !== n) throw new InputError(`logistic regression: ${n} rows but ${y.length} labels`);
  const d = X[0].length;
  if (d === 0) throw new InputError("logistic regression: rows have no features");

  const labels = new Uint8Array(n);
  let positives = 0;
  for (let i = 0; i < n; i++) {
    const v = y[i];
    if (v !== 0 && v !== 1) throw new InputError(`logistic regression: label ${i} is ${v}, expected 0 or 1`);
    labels[i] = v;
    positives += v;
  }
  // With one class only the loss has no minimiser (the intercept would run to ±∞); scikit-learn refuses too.
  if (positives === 0 || positives === n) {
    throw new InputError("logistic regression: training labels must contain both classes (0 and 1)");
  }

  const design = toColumnMajor(X, d, resolved.fitIntercept);
  const [negativeWeight, positiveWeight] = classWeights(resolved.classWeight, n, positives);
  const sampleWeight = new Float64Array(n);
  for (let i = 0; i < n; i++)
    sampleWeight[i] = resolved.C * (labels[i] === 1 ? positiveWeight : negativeWeight);

  const result = solveLogistic({
    design,
    y: labels,
    sampleWeight,
    penalised: d,
    penalty: resolved.penalty,
    tol: resolved.tol!,
    maxIter: resolved.maxIter!,
  });
  return {
    weights: Array.from(result.beta.subarray(0, d)),
    intercept: resolved.fitIntercept ? result.beta[d] : 0,
    params: resolved,
    iterations: result.iterations,
    gradientNorm: result.gradientNorm,
    converged: result.converged,
  };
}

/** Margins w·x + b, one per row. */
export function decisionLogistic(model: LogisticModel, X: ArrayLike<number>[]): Float64Array {
  const { weights, intercept } = model;
  const out = new Float64Array(X.length);
  for (let i = 0; i < X.length; i++) {
    const row = X[i];
    if (row.length !== weights.length) {
      throw new InputError(
        `logistic regression: row ${i} has ${row.length} features, the model ${weights.length}`,
      );
    }
    let z = intercept;
    for (let j = 0; j < weights.length; j++) z += weights[j] * row[j];
    out[i] = z;
  }
  return out;
}

/** P(y = 1 | x) per row. */
export function predictProba(model: LogisticModel, X: ArrayLike<number>[]): Float64Array {
  const z = decisionLogistic(model, X);
  for (let i = 0; i < z.length; i++) z[i] = sigmoid(z[i]);
  return z;
}

/** 1 / (1 + e^{−z}) evaluated through e^{−|z|}, which neither overflows nor rounds small probabilities to 0. */
function sigmoid(z: number): number {
  if (z >= 0) return 1 / (1 + Math.exp(-z));
  const e = Math.exp(z);
  return e / (1 + e);
}

/**
 * Checks a deserialised model (e.g. from JSON) and returns a clean copy. `file` names the source in error messages;
 * `features`, when given, is the number of weights the caller's feature set requires.
 */
export function validateLogisticModel(
  obj: unknown,
  options: { file?: string; features?: number } = {},
): LogisticModel {
  const fail = (message: string): never => {
    throw new ModelFileError(`logistic model: ${message}`, { file: options.file });
  };
  if (!isRecord(obj)) return fail("not an object");
  const { weights, intercept, params, iterations, gradientNorm, converged } = obj;
  if (!Array.isArray(weights) || weights.length === 0) return fail("weights must be a non-empty array");
  weights.forEach((w, j) => {
    if (!isFiniteNumber(w)) fail(`weights[${j}] is ${JSON.stringify(w)}, not a finite number`);
  });
  if (options.features !== undefined && weights.length !== options.features) {
    fail(`has ${weights.length} weights, expected ${options.features} (one per feature)`);
  }
  if (!isFiniteNumber(intercept)) return fail("intercept is not a finite number");
  if (!isRecord(params)) return fail("params must be an object");
  const problem = paramsProblem(params as unknown as LogisticParams);
  if (problem !== undefined) return fail(`params: ${problem}`);
  if (params.fitIntercept === false && intercept !== 0)
    fail("intercept must be 0 when fitIntercept is false");
  if (!Number.isInteger(iterations) || (iterations as number) < 0) {
    fail("iterations must be a non-negative integer");
  }
  if (!isFiniteNumber(gradientNorm) || gradientNorm < 0) fail("gradientNorm must be a finite number ≥ 0");
  if (typeof converged !== "boolean") fail("converged must be true or false");
  return {
    weights: (weights as number[]).slice(),
    intercept,
    params: resolveParams(params as unknown as LogisticParams),
    iterations: iterations as number,
    gradientNorm: gradientNorm as number,
    converged: converged as boolean,
  };
}

/** Describes what is wrong with the parameters, or undefined when they are valid. */
function paramsProblem(params: LogisticParams): string | undefined {
  if (params.penalty !== "l1" && params.penalty !== "l2") return `penalty must be "l1" or "l2"`;
  if (!isFiniteNumber(params.C) || params.C <= 0) return "C must be a finite number > 0";
  if (typeof params.fitIntercept !== "boolean") return "fitIntercept must be true or false";
  const cw: unknown = params.classWeight;
  if (cw !== undefined && cw !== "balanced") {
    if (!isRecord(cw)) return `classWeight must be "balanced" or { negative, positive }`;
    for (const key of ["negative", "positive"]) {
      const v = cw[key];
      if (!isFiniteNumber(v) || v <= 0) return `classWeight.${key} must be a finite number > 0`;
    }
  }
  if (params.tol !== undefined && (!isFiniteNumber(params.tol) || params.tol <= 0)) {
    return "tol must be a finite number > 0";
  }
  if (params.maxIter !== undefined && (!Number.isInteger(params.maxIter) || params.maxIter < 1)) {
    return "maxIter must be an integer ≥ 1";
  }
  return undefined;
}

function resolveParams(params: LogisticParams): LogisticParams {
  const { penalty, C, classWeight, fitIntercept } = params;
  return {
    penalty,
    C,
    classWeight:
      classWeight === undefined || classWeight === "balanced"
        ? classWeight
        : { negative: classWeight.negative, positive: classWeight.positive },
    fitIntercept,
    tol: params.tol ?? DEFAULT_TOL,
    maxIter: params.maxIter ?? DEFAULT_MAX_ITER,
  };
}

function classWeights(cw: LogisticParams["classWeight"], n: number, positives: number): [number, number] {
  if (cw === undefined) return [1, 1];
  if (cw === "balanced") return [n / (2 * (n - positives)), n / (2 * positives)];
  return [cw.negative, cw.positive];
}

/** Copies rows into column-major storage, with a trailing column of ones standing for the intercept. */
function toColumnMajor(X: ArrayLike<number>[], d: number, fitIntercept: boolean): ColumnMajor {
  const n = X.length;
  const p = fitIntercept ? d + 1 : d;
  const data = new Float64Array(n * p);
  for (let i = 0; i < n; i++) {
    const row = X[i];
    if (row.length !== d)
      throw new InputError(`logistic regression: row ${i} has ${row.length} features, row 0 has ${d}`);
    for (let j = 0; j < d; j++) {
      const v = row[j];
      if (!Number.isFinite(v)) throw new InputError(`logistic regression: row ${i}, feature ${j} is ${v}`);
      data[j * n + i] = v;
    }
  }
  if (fitIntercept) data.fill(1, d * n);
  return { n, p, data };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isFiniteNumber(v: unknown): v is number {
  return typeof v === "number" && Number.isFinite(v);
}
