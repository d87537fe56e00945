/**
 * Per-sample training weights for labels in groups (flows in captures). "flows": classes balanced, every sample of
 * a class weighted alike (scikit-learn's class_weight="balanced"). "captures": every group carries the same total
 * weight within its class, and the classes are balanced, so a flood of thousands of flows counts as much as a
 * capture of ten.
 */
export type SampleWeighting = "flows" | "captures";
export const SAMPLE_WEIGHTINGS: readonly SampleWeighting[] = ["flows", "captures"];

export function sampleWeights(
  y: ArrayLike<number>,
  groups: ArrayLike<number>,
  mode: SampleWeighting,
): Float64Array {
  const n = y.length;
  const w = new Float64Array(n).fill(1);
  if (mode === "captures") {
    const size = new Map<number, number>();
    for (let i = 0; i < n; i++) size.set(groups[i], (size.get(groups[i]) ?? 0) + 1);
    for (let i = 0; i < n; i++) w[i] = 1 / size.get(groups[i])!;
  }
  const total = [0, 0];
  for (let i = 0; i < n; i++) total[y[i]] += w[i];
  for (let i = 0; i < n; i++) w[i] *= total[y[i]] > 0 ? n / (2 * total[y[i]]) : 0;
  return w;
}
