import { type ScalerJSON, StandardScaler } from "../core/scaling.ts";
import { decisionFunction, type SvmModel, type SvmParams, trainSvm } from "./svm.ts";

/**
 * The full SVM pipeline applied to raw feature rows: an optional signed log1p transform (event counts are
 * heavy-tailed, and without it a few huge processes dominate the RBF distances), standard scaling fitted on the
 * training rows only, dropping the columns that are constant in training (they carry no information, and the
 * kernel runs faster without them), then the SVM. Used identically in cross-validation folds and the final fit.
 */
export type FeatureTransform = "log1p" | "none";

export interface ScaledSvm {
  transform: FeatureTransform;
  scaler: ScalerJSON;
  /** Indices of the input columns that reach the SVM. */
  activeColumns: number[];
  svm: SvmModel;
}

export function applyTransform(
  rows: readonly ArrayLike<number>[],
  transform: FeatureTransform,
): Float64Array[] {
  return rows.map((row) => {
    const out = Float64Array.from(row as ArrayLike<number>);
    if (transform === "log1p")
      for (let i = 0; i < out.length; i++) out[i] = Math.sign(out[i]) * Math.log1p(Math.abs(out[i]));
    return out;
  });
}

export async function fitScaledSvm(
  rows: readonly ArrayLike<number>[],
  y: ArrayLike<number>,
  params: SvmParams,
  transform: FeatureTransform,
): Promise<ScaledSvm> {
  const transformed = applyTransform(rows, transform);
  const scaler = new StandardScaler().fit(transformed);
  const scalerJson = scaler.toJSON();
  const activeColumns = activeColumnsOf(transformed);
  const scaled = scaler.transform(transformed).map((row) => pick(row, activeColumns));
  const svm = await trainSvm(scaled, y, params);
  return { transform, scaler: scalerJson, activeColumns, svm };
}

export function decisionScaledSvm(model: ScaledSvm, rows: readonly ArrayLike<number>[]): Float64Array {
  const scaler = StandardScaler.fromJSON(model.scaler);
  const scaled = scaler
    .transform(applyTransform(rows, model.transform))
    .map((row) => pick(row, model.activeColumns));
  return decisionFunction(model.svm, scaled);
}

function activeColumnsOf(rows: readonly Float64Array[]): number[] {
  const columns = rows[0]?.length ?? 0;
  const active: number[] = [];
  for (let c = 0; c < columns; c++) {
    const first = rows[0][c];
    if (rows.some((row) => row[c] !== first)) active.push(c);
  }
  // An SVM needs at least one input; a fully constant table keeps its first column (it predicts one class anyway).
  return active.length > 0 ? active : [0];
}

function pick(row: Float64Array, columns: readonly number[]): Float64Array {
  const out = new Float64Array(columns.length);
  for (let i = 0; i < columns.length; i++) out[i] = row[columns[i]];
  return out;
}
