/**
 * Per-sample training weights for labels in groups (flows in captures). "flows": classes balanced, every sample of
 * a class weighted alike (scikit-learn's class_weight="balanced"). "captures": every group carries the same total
 * weight within its class, and the classes are balanced, so a flood of thousands of flows counts as much as a
 * capture of ten. "sqrt": between the two — a sample weighs 1/√(its group's size), so a group of n samples weighs √n,
 * and the classes are balanced.
 */
export const SAMPLE_WEIGHTINGS = ["flows", "captures", "sqrt"] as const;
export type SampleWeighting = (typeof SAMPLE_WEIGHTINGS)[number];

export function sampleWeights(
  y: ArrayLike<number>,
  groups: ArrayLike<number>,
  mode: SampleWeighting,
): Float64Array {
  const n = y.length;
  const w = new Float64Array(n).fill(1);
  if (mode !== "flows") {
    const size = new Map<number, number>();
    for (let i = 0; i < n; i++) size.set(groups[i], (size.get(groups[i]) ?? 0) + 1);
    for (let i = 0; i < n; i++) {
      const m = size.get(groups[i])!;
      w[i] = mode === "captures" ? 1 / m : 1 / Math.sqrt(m);
    }
  }
  const total = [0, 0];
  for (let i = 0; i < n; i++) total[y[i]] += w[i];
  for (let i = 0; i < n; i++) w[i] *= total[y[i]] > 0 ? n / (2 * total[y[i]]) : 0;
  return w;
}
