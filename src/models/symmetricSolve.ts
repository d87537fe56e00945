/**
 * Solves H_SS · x = b for a symmetric positive semi-definite H (dense, row-major p × p) restricted to the index set S.
 *
 * Features in threatlens mix scales (bytes, nanoseconds, counts) and are often exactly collinear (totals = forward +
 * backward). Scaling to unit diagonal first makes the factorisation independent of column scale, and a small relative
 * diagonal shift (Levenberg–Marquardt) keeps it defined on singular systems; directions along which H is singular
 * then come out long but finite, and the caller's line search bounds them.
 */

const MAX_ATTEMPTS = 12;

/** `shift` is relative to the unit diagonal; larger values shorten the step towards a scaled gradient step. */
export function solveSymmetric(
  h: Float64Array,
  p: number,
  subset: Int32Array,
  b: Float64Array,
  shift = 1e-10,
): Float64Array {
  const k = subset.length;
  const scale = new Float64Array(k);
  for (let a = 0; a < k; a++) {
    const d = h[subset[a] * p + subset[a]];
    scale[a] = d > 0 ? 1 / Math.sqrt(d) : 1;
  }
  const scaled = new Float64Array(k * k);
  for (let a = 0; a < k; a++) {
    for (let c = 0; c < k; c++) scaled[a * k + c] = h[subset[a] * p + subset[c]] * scale[a] * scale[c];
  }
  const factor = new Float64Array(k * k);
  for (let attempt = 0; !cholesky(scaled, k, shift, factor); attempt++) {
    if (attempt === MAX_ATTEMPTS) throw new Error("symmetric solve: matrix is not positive semi-definite");
    shift *= 10;
  }
  const x = new Float64Array(k);
  for (let a = 0; a < k; a++) x[a] = b[a] * scale[a];
  // L·Lᵀ·x = rhs: forward, then back substitution.
  for (let i = 0; i < k; i++) {
    let s = x[i];
    for (let j = 0; j < i; j++) s -= factor[i * k + j] * x[j];
    x[i] = s / factor[i * k + i];
  }
  for (let i = k - 1; i >= 0; i--) {
    let s = x[i];
    for (let j = i + 1; j < k; j++) s -= factor[j * k + i] * x[j];
    x[i] = s / factor[i * k + i];
  }
  for (let a = 0; a < k; a++) x[a] *= scale[a];
  return x;
}

/** Lower Cholesky factor of a + shift·I into `out`; false when a pivot is not positive. */
function cholesky(a: Float64Array, k: number, shift: number, out: Float64Array): boolean {
  for (let i = 0; i < k; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * k + j];
      for (let m = 0; m < j; m++) s -= out[i * k + m] * out[j * k + m];
      if (i === j) {
        s += shift;
        if (!(s > 0) || !Number.isFinite(s)) return false;
        out[i * k + i] = Math.sqrt(s);
      } else {
        out[i * k + j] = s / out[j * k + j];
      }
    }
  }
  return true;
}
