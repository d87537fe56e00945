import { type ScalerJSON, StandardScaler } from "../core/scaling.ts";
import { fitLogistic, type LogisticModel, type LogisticParams, predictProba } from "./logistic.ts";
import { applyTransform, type FeatureTransform } from "./scaled-svm.ts";

/**
 * Logistic regression on raw feature rows: an optional signed log1p transform, standard scaling fitted on the
 * training rows only, then the weighted logistic regression. Used identically in cross-validation folds and the
 * final fit, so the cross-validated numbers describe the model that is saved.
 */
export interface ScaledLogistic {
  transform: FeatureTransform;
  scaler: ScalerJSON;
  logistic: LogisticModel;
}

/**
 * Class weights as a grid names them: explicit multipliers, scikit-learn's "balanced", "shares" (FlowMeter's
 * script: {0: 100 · share of malicious, 1: 100 · share of benign} of the training rows), or none.
 */
export type ClassWeightSpec = { negative: number; positive: number } | "balanced" | "shares" | null;

export function resolveClassWeight(
  spec: ClassWeightSpec,
  y: ArrayLike<number>,
): LogisticParams["classWeight"] {
  if (spec === null) return undefined;
  if (spec !== "shares") return spec;
  let positives = 0;
  for (let i = 0; i < y.length; i++) positives += y[i];
  return { negative: (100 * positives) / y.length, positive: (100 * (y.length - positives)) / y.length };
}

export function fitScaledLogistic(
  rows: readonly ArrayLike<number>[],
  y: ArrayLike<number>,
  params: LogisticParams,
  transform: FeatureTransform,
): ScaledLogistic {
  const transformed = applyTransform(rows, transform);
  const scaler = new StandardScaler().fit(transformed);
  const logistic = fitLogistic(scaler.transform(transformed), y, params);
  return { transform, scaler: scaler.toJSON(), logistic };
}

/** P(malicious) per row. */
export function probaScaledLogistic(model: ScaledLogistic, rows: readonly ArrayLike<number>[]): Float64Array {
  const scaler = StandardScaler.fromJSON(model.scaler);
  return predictProba(model.logistic, scaler.transform(applyTransform(rows, model.transform)));
}
