import { z } from "zod";
import { type ArtifactSpec, readArtifact, writeArtifact } from "../core/artifact.ts";
import { ModelFileError } from "../core/errors.ts";
import { StandardScaler } from "../core/scaling.ts";
import { validateLogisticModel } from "../models/logistic.ts";
import { probaScaledLogistic, type ScaledLogistic } from "../models/scaled-logistic.ts";
import { type FeatureSet, type FlowSource, featureNamesOf } from "./dataset.ts";
import type { FlowTimeouts } from "./flows/table.ts";

/** The network model file: one versioned JSON document (see core/artifact.ts for the envelope). */
const nullableNumber = z.number().nullable();
const metricsSchema = z.object({
  rocAuc: nullableNumber,
  prAuc: nullableNumber,
  captureRocAuc: nullableNumber,
  recall: z.number(),
  precision: z.number(),
  f1: z.number(),
  accuracy: z.number(),
  mcc: z.number(),
  balancedAccuracy: z.number(),
  dataReduction: z.number(),
  captureRecall: nullableNumber,
  captureFpr: nullableNumber,
  confusion: z.object({ tp: z.number(), fp: z.number(), tn: z.number(), fn: z.number() }),
});
const finiteArray = z.array(z.number().refine(Number.isFinite, "must be finite"));
const classWeight = z.union([
  z.object({ negative: z.number().positive(), positive: z.number().positive() }),
  z.literal("balanced"),
  z.literal("shares"),
  z.null(),
]);

export const networkModelSchema = z.object({
  featureSet: z.enum(["all", "flowmeter"]),
  featureNames: z.array(z.string()).nonempty(),
  timeouts: z.object({
    idleTimeout: z.number().positive(),
    activeTimeout: z.number().positive(),
    closeLinger: z.number().nonnegative(),
  }),
  pipeline: z.object({
    transform: z.enum(["log1p", "none"]),
    scaler: z.object({ mean: finiteArray, scale: finiteArray }),
    logistic: z.unknown(),
  }),
  hyperparameters: z.object({
    penalty: z.enum(["l1", "l2"]),
    C: z.number().positive(),
    classWeight,
    fitIntercept: z.boolean(),
    transform: z.enum(["log1p", "none"]),
  }),
  threshold: z.number().gt(0).lt(1),
  crossValidation: z.object({
    strategy: z.string(),
    folds: z.number().int(),
    seed: z.number().int(),
    selection: z.array(z.string()),
    candidates: z.number().int(),
    metrics: metricsSchema,
  }),
  training: z.object({
    flows: z.number().int(),
    malicious: z.number().int(),
    captures: z.number().int(),
    flowsBeforeCap: z.number().int(),
    maxFlowsPerCapture: z.number().int().nullable(),
    ambiguousExcluded: z.array(z.string()),
    nonFiniteDropped: z.number().int(),
    inputs: z.array(z.string()),
  }),
});

export type NetworkModel = Omit<z.infer<typeof networkModelSchema>, "pipeline"> & {
  pipeline: ScaledLogistic;
};

export const NETWORK_MODEL: ArtifactSpec<z.infer<typeof networkModelSchema>> = {
  kind: "network-logistic",
  version: 1,
  schema: networkModelSchema,
};

export async function saveNetworkModel(path: string, model: NetworkModel): Promise<void> {
  await writeArtifact(path, NETWORK_MODEL, model);
}

export async function loadNetworkModel(path: string): Promise<NetworkModel> {
  const payload = await readArtifact(path, NETWORK_MODEL);
  const fail = (message: string): never => {
    throw new ModelFileError(message, { file: path });
  };
  const expected = featureNamesOf(payload.featureSet);
  if (
    payload.featureNames.length !== expected.length ||
    payload.featureNames.some((name, i) => name !== expected[i])
  ) {
    fail(
      `the model's ${payload.featureNames.length} features are not this version's "${payload.featureSet}" feature set (${expected.length} features); retrain it`,
    );
  }
  const width = expected.length;
  StandardScaler.fromJSON(payload.pipeline.scaler, path);
  if (payload.pipeline.scaler.mean.length !== width) {
    fail(
      `the scaler has ${payload.pipeline.scaler.mean.length} columns but the model names ${width} features`,
    );
  }
  if (payload.pipeline.transform !== payload.hyperparameters.transform) {
    fail("pipeline.transform differs from hyperparameters.transform");
  }
  const logistic = validateLogisticModel(payload.pipeline.logistic, { file: path, features: width });
  return { ...payload, pipeline: { ...payload.pipeline, logistic } };
}

/** What evaluate and classify need from a model, whether a threatlens model file or FlowMeter parameters. */
export interface FlowScorer {
  /** "model" (a threatlens JSON file) or "flowmeter-params" (a mean/std/weights/intercept directory). */
  kind: "model" | "flowmeter-params";
  source: string;
  featureSet: FeatureSet;
  featureNames: readonly string[];
  /** Flows with P(malicious) ≥ threshold are flagged. */
  threshold: number;
  /** How captures are cut into flows for this model. */
  flowSource: FlowSource;
  timeouts: Partial<FlowTimeouts>;
  /** Weights on the standardised features, largest |weight| first. */
  rankedWeights: { feature: string; weight: number }[];
  probability(rows: readonly Float64Array[]): Float64Array;
}

export function rankWeights(
  names: readonly string[],
  weights: readonly number[],
): FlowScorer["rankedWeights"] {
  return names
    .map((feature, i) => ({ feature, weight: weights[i] }))
    .sort((a, b) => Math.abs(b.weight) - Math.abs(a.weight) || a.feature.localeCompare(b.feature));
}

export function modelScorer(model: NetworkModel, source: string): FlowScorer {
  return {
    kind: "model",
    source,
    featureSet: model.featureSet,
    featureNames: model.featureNames,
    threshold: model.threshold,
    flowSource: "threatlens",
    timeouts: model.timeouts,
    rankedWeights: rankWeights(model.featureNames, model.pipeline.logistic.weights),
    probability: (rows) => probaScaledLogistic(model.pipeline, rows),
  };
}
