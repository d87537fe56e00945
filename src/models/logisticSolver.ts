/**
 * Solver for weighted, penalised logistic regression on a dense column-major design matrix:
 *
 *   minimise  Σ_i sw_i · logloss(y_i, x_i·β) + penalty(β_0 … β_{m-1})
 *
 * where sw_i already contains C · class_weight[y_i] and only the first `penalised` coefficients carry the penalty
 * (½‖·‖² or ‖·‖₁); the columns after them (the intercept's column of ones) are free.
 *
 * Both penalties share one outer loop, a (proximal) Newton method in the spirit of liblinear's newGLMNET: the smooth
 * part (loss, plus the ridge term for l2) gets its exact Hessian, which is cheap because there are few columns (≤ ~50)
 * and costs one pass over the data per iteration. For l2 the step solves H·d = −g; for l1 an active-set method
 * minimises the quadratic model plus ‖·‖₁, which yields exact zeros and, unlike coordinate descent, does not stall on
 * collinear features. A backtracking line search on the true objective keeps every iterate finite even when
 * the data are separable and the loss alone has no minimiser.
 */
import { solveSymmetric } from "./symmetricSolve.ts";

/** Column j occupies data[j·n, (j+1)·n): the per-column passes below then run over contiguous memory. */
export interface ColumnMajor {
  n: number;
  p: number;
  data: Float64Array;
}

export interface SolverProblem {
  design: ColumnMajor;
  y: Uint8Array;
  sampleWeight: Float64Array;
  penalised: number;
  penalty: "l1" | "l2";
  /**
   * Converged when every coordinate of the minimum-norm (sub)gradient is ≤ tol times the magnitude of the terms it
   * sums (Σ_i |∂loss_i/∂β_j| plus the penalty's own term): a test that does not depend on C, n or column scale.
   */
  tol: number;
  maxIter: number;
}

export interface SolverResult {
  beta: Float64Array;
  iterations: number;
  /** Euclidean norm of the minimum-norm (sub)gradient at `beta`. */
  gradientNorm: number;
  converged: boolean;
}

const ARMIJO = 0.01;
const MAX_HALVINGS = 60;
/** Near the optimum, true decreases fall below the rounding error of a sum over n rows; accept those steps. */
const ROUNDING_ALLOWANCE = 1e-12;
/** The l1 model is solved until its stationarity is this fraction of the outer one (inexact proximal Newton). */
const INNER_RELATIVE_TOL = 1e-6;

export function solveLogistic(problem: SolverProblem): SolverResult {
  const { design, y, sampleWeight, penalised, penalty } = problem;
  const { n, p } = design;
  const beta = new Float64Array(p);
  const target = new Float64Array(p);
  const direction = new Float64Array(p);
  const gradient = new Float64Array(p);
  const termScale = new Float64Array(p);
  const hessian = new Float64Array(p * p);
  const z = new Float64Array(n);
  const dz = new Float64Array(n);
  const residual = new Float64Array(n);
  const curvature = new Float64Array(n);
  const scratch = new Float64Array(n);

  let loss = lossAndDerivatives(z, y, sampleWeight, residual, curvature);
  let iterations = 0;
  let kkt = { norm: 0, worst: 0 };
  for (;;) {
    smoothGradient(design, residual, beta, penalised, penalty, gradient, termScale);
    kkt = stationarity(gradient, beta, penalised, penalty, termScale);
    if (kkt.worst <= problem.tol || iterations >= problem.maxIter) break;

    smoothHessian(design, curvature, penalised, penalty, scratch, hessian);
    // Only absurd magnitudes (|x|² · C beyond 1e308) get here; stop with converged = false rather than produce NaN.
    if (!hessian.every(Number.isFinite)) break;
    if (penalty === "l2") newtonTarget(hessian, gradient, beta, target);
    else l1ModelTarget(hessian, gradient, beta, penalised, INNER_RELATIVE_TOL * kkt.norm, target);
    for (let j = 0; j < p; j++) direction[j] = target[j] - beta[j];
    multiply(design, direction, dz);

    const before = loss + penaltyValue(beta, penalised, penalty);
    const predicted = dot(gradient, direction) + nonsmoothChange(beta, target, penalised, penalty);
    if (!(predicted < 0)) break;
    const step = lineSearch(problem, z, dz, beta, direction, before, predicted);
    if (step === 0) break;

    // A full step takes the model's solution verbatim, so coefficients it put at exactly zero stay exactly zero.
    for (let j = 0; j < p; j++) beta[j] = step === 1 ? target[j] : beta[j] + step * direction[j];
    multiply(design, beta, z);
    loss = lossAndDerivatives(z, y, sampleWeight, residual, curvature);
    iterations++;
  }
  return { beta, iterations, gradientNorm: kkt.norm, converged: kkt.worst <= problem.tol };
}

/**
 * Weighted loss at margins z, and per row the loss derivative sw·(σ(z) − y) and curvature sw·σ(z)·σ(−z). Both are
 * formed from e^{−|z|} so that neither cancels to 0 for well-classified rows (|z| up to ~700).
 */
function lossAndDerivatives(
  z: Float64Array,
  y: Uint8Array,
  sw: Float64Array,
  residual: Float64Array,
  curvature: Float64Array,
): number {
  let loss = 0;
  for (let i = 0; i < z.length; i++) {
    const zi = z[i];
    const e = Math.exp(-Math.abs(zi));
    const big = 1 / (1 + e);
    const small = e * big;
    const w = sw[i];
    if (y[i] === 1) {
      loss += w * (Math.max(-zi, 0) + Math.log1p(e));
      residual[i] = -w * (zi >= 0 ? small : big);
    } else {
      loss += w * (Math.max(zi, 0) + Math.log1p(e));
      residual[i] = w * (zi >= 0 ? big : small);
    }
    curvature[i] = w * small * big;
  }
  return loss;
}

/** Weighted loss at margins z + step·dz. */
function lossAlong(z: Float64Array, dz: Float64Array, step: number, y: Uint8Array, sw: Float64Array): number {
  let loss = 0;
  for (let i = 0; i < z.length; i++) {
    const t = y[i] === 1 ? -(z[i] + step * dz[i]) : z[i] + step * dz[i];
    loss += sw[i] * (Math.max(t, 0) + Math.log1p(Math.exp(-Math.abs(t))));
  }
  return loss;
}

function lineSearch(
  problem: SolverProblem,
  z: Float64Array,
  dz: Float64Array,
  beta: Float64Array,
  direction: Float64Array,
  before: number,
  predicted: number,
): number {
  const { y, sampleWeight, penalised, penalty } = problem;
  const trial = new Float64Array(beta.length);
  const allowance = ROUNDING_ALLOWANCE * Math.abs(before);
  let step = 1;
  for (let k = 0; k < MAX_HALVINGS; k++) {
    for (let j = 0; j < beta.length; j++) trial[j] = beta[j] + step * direction[j];
    const after = lossAlong(z, dz, step, y, sampleWeight) + penaltyValue(trial, penalised, penalty);
    if (after <= before + ARMIJO * step * predicted + allowance) return step;
    step /= 2;
  }
  return 0;
}

function penaltyValue(beta: Float64Array, penalised: number, penalty: "l1" | "l2"): number {
  let sum = 0;
  if (penalty === "l2") {
    for (let j = 0; j < penalised; j++) sum += beta[j] * beta[j];
    return sum / 2;
  }
  for (let j = 0; j < penalised; j++) sum += Math.abs(beta[j]);
  return sum;
}

/** Change in the part of the objective the Newton model leaves exact: ‖·‖₁ for l1, nothing for l2. */
function nonsmoothChange(
  beta: Float64Array,
  target: Float64Array,
  penalised: number,
  penalty: "l1" | "l2",
): number {
  if (penalty === "l2") return 0;
  let change = 0;
  for (let j = 0; j < penalised; j++) change += Math.abs(target[j]) - Math.abs(beta[j]);
  return change;
}

/**
 * Gradient of the loss, plus the ridge term for l2 (the l1 term is handled as a subgradient), and per coordinate
 * the sum of the absolute values of the terms, which sets the precision the gradient can be computed to.
 */
function smoothGradient(
  design: ColumnMajor,
  residual: Float64Array,
  beta: Float64Array,
  penalised: number,
  penalty: "l1" | "l2",
  out: Float64Array,
  termScale: Float64Array,
): void {
  const { n, p, data } = design;
  for (let j = 0; j < p; j++) {
    const offset = j * n;
    let sum = 0;
    let magnitude = 0;
    for (let i = 0; i < n; i++) {
      const term = residual[i] * data[offset + i];
      sum += term;
      magnitude += Math.abs(term);
    }
    if (j < penalised && penalty === "l2") {
      sum += beta[j];
      magnitude += Math.abs(beta[j]);
    } else if (j < penalised) {
      magnitude += 1;
    }
    out[j] = sum;
    termScale[j] = magnitude;
  }
}

/**
 * The minimum-norm subgradient of the full objective (the gradient for l2; for l1 a zero coefficient contributes
 * only the amount by which its loss gradient exceeds the penalty's subdifferential [−1, 1]): its Euclidean norm and,
 * with `termScale`, its largest coordinate relative to the magnitude of the terms behind it.
 */
function stationarity(
  gradient: Float64Array,
  beta: Float64Array,
  penalised: number,
  penalty: "l1" | "l2",
  termScale?: Float64Array,
): { norm: number; worst: number } {
  const v = new Float64Array(gradient.length);
  let largest = 0;
  let worst = 0;
  for (let j = 0; j < gradient.length; j++) {
    v[j] = penalty === "l1" && j < penalised ? l1Subgradient(gradient[j], beta[j]) : gradient[j];
    largest = Math.max(largest, Math.abs(v[j]));
    if (termScale !== undefined && v[j] !== 0) worst = Math.max(worst, Math.abs(v[j]) / termScale[j]);
  }
  if (largest === 0) return { norm: 0, worst };
  // Scaled so that squaring cannot overflow with huge C or feature values.
  let sum = 0;
  for (let j = 0; j < v.length; j++) sum += (v[j] / largest) ** 2;
  return { norm: largest * Math.sqrt(sum), worst };
}

function l1Subgradient(g: number, b: number): number {
  if (b > 0) return g + 1;
  if (b < 0) return g - 1;
  return Math.sign(g) * Math.max(Math.abs(g) - 1, 0);
}

/** Xᵀ·diag(curvature)·X (+ I on penalised columns for l2), full symmetric p × p. */
function smoothHessian(
  design: ColumnMajor,
  curvature: Float64Array,
  penalised: number,
  penalty: "l1" | "l2",
  weighted: Float64Array,
  out: Float64Array,
): void {
  const { n, p, data } = design;
  for (let j = 0; j < p; j++) {
    const oj = j * n;
    for (let i = 0; i < n; i++) weighted[i] = curvature[i] * data[oj + i];
    let k = j;
    // Four columns per pass: `weighted` is read once for four dot products, which roughly halves memory traffic.
    for (; k + 3 < p; k += 4) {
      const o0 = k * n;
      const o1 = o0 + n;
      const o2 = o1 + n;
      const o3 = o2 + n;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      for (let i = 0; i < n; i++) {
        const w = weighted[i];
        s0 += w * data[o0 + i];
        s1 += w * data[o1 + i];
        s2 += w * data[o2 + i];
        s3 += w * data[o3 + i];
      }
      out[j * p + k] = out[k * p + j] = s0;
      out[j * p + k + 1] = out[(k + 1) * p + j] = s1;
      out[j * p + k + 2] = out[(k + 2) * p + j] = s2;
      out[j * p + k + 3] = out[(k + 3) * p + j] = s3;
    }
    for (; k < p; k++) {
      const ok = k * n;
      let s = 0;
      for (let i = 0; i < n; i++) s += weighted[i] * data[ok + i];
      out[j * p + k] = out[k * p + j] = s;
    }
  }
  if (penalty === "l2") for (let j = 0; j < penalised; j++) out[j * p + j] += 1;
}

/** β − H⁻¹g. */
function newtonTarget(
  hessian: Float64Array,
  gradient: Float64Array,
  beta: Float64Array,
  out: Float64Array,
): void {
  const p = beta.length;
  const all = Int32Array.from({ length: p }, (_, j) => j);
  const step = solveSymmetric(
    hessian,
    p,
    all,
    gradient.map((g) => -g),
  );
  for (let j = 0; j < p; j++) out[j] = beta[j] + step[j];
}

/**
 * Minimises the proximal Newton model q(t) = g·(t − β) + ½(t − β)ᵀH(t − β) + ‖t_penalised‖₁ by feature-sign search
 * (Lee et al., NIPS 2006), starting at t = β. On the active set with signs held, q is a quadratic solved by one Newton
 * step; the step stops at whichever sign change along it lowers q most (that coefficient leaves at exactly zero);
 * once the active set is optimal, the zero coefficient violating optimality most joins it. Coordinate descent, the
 * usual choice (glmnet, liblinear), crawls on collinear features, which flow statistics have plenty of
 * (totals = forward + backward); it remains here as the fallback when rounding spoils a Newton step.
 */
function l1ModelTarget(
  hessian: Float64Array,
  gradient: Float64Array,
  beta: Float64Array,
  penalised: number,
  goal: number,
  t: Float64Array,
): void {
  const p = beta.length;
  t.set(beta);
  // Model gradient g + H·(t − β), kept current as t moves.
  const m = Float64Array.from(gradient);
  const sign = new Float64Array(p);
  for (let j = 0; j < penalised; j++) sign[j] = Math.sign(t[j]);
  // The warm start's active set is not optimal for this model: first re-solve it, activating only when it is empty.
  let activeSetOptimal = !sign.some((v) => v !== 0) && penalised === p;
  const maxRounds = 10 * p + 50;
  for (let round = 0; round < maxRounds; round++) {
    if (stationarity(m, t, penalised, "l1").norm <= goal) return;
    if (activeSetOptimal) {
      let entering = -1;
      let violation = 1;
      for (let j = 0; j < penalised; j++) {
        if (sign[j] === 0 && Math.abs(m[j]) > violation) {
          entering = j;
          violation = Math.abs(m[j]);
        }
      }
      if (entering >= 0) sign[entering] = -Math.sign(m[entering]);
    }
    const activeList: number[] = [];
    for (let j = 0; j < p; j++) if (j >= penalised || sign[j] !== 0) activeList.push(j);
    const active = Int32Array.from(activeList);
    const rhs = new Float64Array(active.length);
    for (let a = 0; a < active.length; a++) rhs[a] = -(m[active[a]] + sign[active[a]]);
    const step = featureSignStep(hessian, active, solveSymmetric(hessian, p, active, rhs), t, m, penalised);
    if (step === undefined) {
      // Rounding on a nearly singular H can spoil the Newton step; a coordinate sweep always makes progress.
      if (!coordinateSweep(hessian, penalised, t, m)) return;
      activeSetOptimal = false;
    } else {
      const { lambda, delta, hDelta, crossing } = step;
      for (let j = 0; j < p; j++) {
        t[j] += lambda * delta[j];
        m[j] += lambda * hDelta[j];
      }
      // t + λ·δ at the crossing is zero only up to rounding; the coefficient leaves the active set at exactly zero.
      if (crossing >= 0) t[crossing] = 0;
      activeSetOptimal = crossing < 0;
    }
    for (let j = 0; j < penalised; j++) {
      const s = Math.sign(t[j]);
      // A full step that flipped a sign solved the model for the old signs, not the new ones.
      if (s !== sign[j] && sign[j] !== 0) activeSetOptimal = false;
      sign[j] = s;
    }
  }
}

/** One cyclic pass of exact coordinate minimisation of q (soft-threshold for penalised coordinates). */
function coordinateSweep(
  hessian: Float64Array,
  penalised: number,
  t: Float64Array,
  m: Float64Array,
): boolean {
  const p = t.length;
  let moved = false;
  for (let j = 0; j < p; j++) {
    const h = hessian[j * p + j];
    if (!(h > 0)) continue;
    const old = t[j];
    const next = j < penalised ? softThreshold(h * old - m[j], 1) / h : old - m[j] / h;
    const delta = next - old;
    if (delta === 0) continue;
    moved = true;
    t[j] = next;
    for (let k = 0; k < p; k++) m[k] += delta * hessian[k * p + j];
  }
  return moved;
}

function softThreshold(v: number, lambda: number): number {
  if (v > lambda) return v - lambda;
  if (v < -lambda) return v + lambda;
  return 0;
}

interface FeatureSignStep {
  lambda: number;
  delta: Float64Array;
  hDelta: Float64Array;
  /** The coefficient that reaches zero at `lambda`, or −1 for the full step. */
  crossing: number;
}

/** Along t + λ·δ, the λ ∈ {1} ∪ {sign changes in (0, 1)} that lowers q most; undefined when none lowers it. */
function featureSignStep(
  hessian: Float64Array,
  active: Int32Array,
  stepActive: Float64Array,
  t: Float64Array,
  m: Float64Array,
  penalised: number,
): FeatureSignStep | undefined {
  const p = t.length;
  const delta = new Float64Array(p);
  for (let a = 0; a < active.length; a++) delta[active[a]] = stepActive[a];
  const hDelta = new Float64Array(p);
  for (let j = 0; j < p; j++) {
    let s = 0;
    for (let a = 0; a < active.length; a++) s += hessian[j * p + active[a]] * stepActive[a];
    hDelta[j] = s;
  }
  const slope = dot(m, delta);
  const curvature = dot(delta, hDelta);
  const change = (lambda: number): number => {
    let c = lambda * slope + 0.5 * lambda * lambda * curvature;
    for (let j = 0; j < penalised; j++) c += Math.abs(t[j] + lambda * delta[j]) - Math.abs(t[j]);
    return c;
  };
  let lambda = 1;
  let best = change(1);
  let crossing = -1;
  for (let j = 0; j < penalised; j++) {
    if (t[j] === 0 || delta[j] === 0 || Math.sign(delta[j]) === Math.sign(t[j])) continue;
    const candidate = -t[j] / delta[j];
    if (candidate >= 1) continue;
    const c = change(candidate);
    if (c < best) {
      lambda = candidate;
      best = c;
      crossing = j;
    }
  }
  return best < 0 ? { lambda, delta, hDelta, crossing } : undefined;
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** out = X·v. */
function multiply(design: ColumnMajor, v: Float64Array, out: Float64Array): void {
  const { n, p, data } = design;
  out.fill(0);
  for (let j = 0; j < p; j++) {
    const c = v[j];
    if (c === 0) continue;
    const offset = j * n;
    for (let i = 0; i < n; i++) out[i] += c * data[offset + i];
  }
}
