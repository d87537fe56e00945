import { type ScalerJSON, StandardScaler } from "../core/scaling.ts";
import { decisionFunction, rowDecision, type SvmModel, type SvmParams, trainSvm } from "./svm.ts";

/**
 * The full SVM pipeline applied to raw feature rows: an optional signed log1p transform (event counts are
 * heavy-tailed, and without it a few huge processes dominate the RBF distances), standard scaling fitted on the
 * training rows only, dropping the columns that are constant in training (they carry no information, and the
 * kernel runs faster without them), clipping each column to the range it had in training, then the SVM. Used
 * identically in cross-validation folds and the final fit.
 *
 * Why clip: an RBF kernel's similarity to every training row fades with distance, so a row beyond the training range
 * in the direction of the positives (ransomware faster than any seen) would score as nothing at all — the bias —
 * instead of as the most extreme positive it resembles. Clipped, it scores like the edge of what was learned, as a
 * tree would.
 */
export type FeatureTransform = "log1p" | "none";

export interface ScaledSvm extends Preprocessing {
  svm: SvmModel;
}

/** What is learned from the training rows before the SVM sees them. */
export interface Preprocessing {
  transform: FeatureTransform;
  scaler: ScalerJSON;
  /** Indices of the input columns that reach the SVM. */
  activeColumns: number[];
  /** Per active column, the scaled values' range in training; rows are clipped to it (absent in older models). */
  bounds?: { lower: number[]; upper: number[] };
}

export function applyTransform(
  rows: readonly ArrayLike<number>[],
  transform: FeatureTransform,
): Float64Array[] {
  return rows.map((row) => {
    const out = Float64Array.from(row as ArrayLike<number>);
    if (transform === "log1p") {
      for (let i = 0; i < out.length; i++) out[i] = Math.sign(out[i]) * Math.log1p(Math.abs(out[i]));
    }
    return out;
  });
}

/** Learns the preprocessing on training rows and returns it with the rows as the SVM sees them. */
export function fitPreprocessing(
  rows: readonly ArrayLike<number>[],
  transform: FeatureTransform,
): { preprocessing: Preprocessing; prepared: Float64Array[] } {
  const transformed = applyTransform(rows, transform);
  const scaler = new StandardScaler().fit(transformed);
  const activeColumns = activeColumnsOf(transformed);
  const prepared = scaler.transform(transformed).map((row) => pick(row, activeColumns));
  const lower = activeColumns.map(() => Number.POSITIVE_INFINITY);
  const upper = activeColumns.map(() => Number.NEGATIVE_INFINITY);
  for (const row of prepared) {
    for (let j = 0; j < row.length; j++) {
      if (row[j] < lower[j]) lower[j] = row[j];
      if (row[j] > upper[j]) upper[j] = row[j];
    }
  }
  return {
    preprocessing: { transform, scaler: scaler.toJSON(), activeColumns, bounds: { lower, upper } },
    prepared,
  };
}

/** Rows as the SVM sees them, with preprocessing learned elsewhere. */
export function applyPreprocessing(
  preprocessing: Preprocessing,
  rows: readonly ArrayLike<number>[],
): Float64Array[] {
  const scaler = StandardScaler.fromJSON(preprocessing.scaler);
  const bounds = preprocessing.bounds;
  return scaler.transform(applyTransform(rows, preprocessing.transform)).map((row) => {
    const picked = pick(row, preprocessing.activeColumns);
    if (bounds) {
      for (let j = 0; j < picked.length; j++)
        picked[j] = Math.min(bounds.upper[j], Math.max(bounds.lower[j], picked[j]));
    }
    return picked;
  });
}

export async function fitScaledSvm(
  rows: readonly ArrayLike<number>[],
  y: ArrayLike<number>,
  params: SvmParams,
  transform: FeatureTransform,
): Promise<ScaledSvm> {
  const { preprocessing, prepared } = fitPreprocessing(rows, transform);
  return { ...preprocessing, svm: await trainSvm(prepared, y, params) };
}

export function decisionScaledSvm(model: ScaledSvm, rows: readonly ArrayLike<number>[]): Float64Array {
  return decisionFunction(model.svm, applyPreprocessing(model, rows));
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

/**
 * The pipeline compiled for one row at a time: transform, scaling and column selection into a reused buffer, then the
 * SVM. `prepared` holds the last row as the SVM saw it (for explanations).
 */
export function compileScaledSvm(model: ScaledSvm): {
  decision(row: ArrayLike<number>): number;
  readonly prepared: Float64Array;
} {
  const columns = Int32Array.from(model.activeColumns);
  const mean = Float64Array.from(columns, (c) => model.scaler.mean[c]);
  const scale = Float64Array.from(columns, (c) => model.scaler.scale[c]);
  const log = model.transform === "log1p";
  const prepared = new Float64Array(columns.length);
  const lower = model.bounds
    ? Float64Array.from(model.bounds.lower)
    : new Float64Array(columns.length).fill(Number.NEGATIVE_INFINITY);
  const upper = model.bounds
    ? Float64Array.from(model.bounds.upper)
    : new Float64Array(columns.length).fill(Number.POSITIVE_INFINITY);
  const svm = rowDecision(model.svm);
  return {
    prepared,
    decision(row) {
      for (let i = 0; i < columns.length; i++) {
        let v = row[columns[i]];
        if (log) v = Math.sign(v) * Math.log1p(Math.abs(v));
        prepared[i] = Math.min(upper[i], Math.max(lower[i], (v - mean[i]) / scale[i]));
      }
      return svm(prepared);
    },
  };
}
