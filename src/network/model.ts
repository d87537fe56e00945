import { readFile } from "node:fs/promises";
import { z } from "zod";
import { type ArtifactSpec, parseArtifact, writeArtifact } from "../core/artifact.ts";
import { ModelFileError } from "../core/errors.ts";
import { StandardScaler } from "../core/scaling.ts";
import { type GbdtModel, gbdtProbability, gbdtSplitCounts, validateGbdt } from "../models/gbdt.ts";
import { type KitnetModel, kitnetParamsSchema, kitnetRowScorer, validateKitnet } from "../models/kitnet.ts";
import { validateLogisticModel } from "../models/logistic.ts";
import { SAMPLE_WEIGHTINGS } from "../models/sample-weights.ts";
import { probaScaledLogistic, type ScaledLogistic } from "../models/scaled-logistic.ts";
import { type FeatureSet, type FlowSource, featureNamesOf } from "./dataset.ts";
import type { FlowTimeouts } from "./flows/table.ts";

/** The network model file: one versioned JSON document (see core/artifact.ts for the envelope). */
const nullableNumber = z.number().nullable();
export const metricsSchema = z.object({
  rocAuc: nullableNumber,
  prAuc: nullableNumber,
  captureRocAuc: nullableNumber,
  recall: z.number(),
  precision: z.number(),
  f1: z.number(),
  accuracy: z.number(),
  mcc: z.number(),
  balancedAccuracy: z.number(),
  flaggedShare: z.number(),
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

const timeoutsSchema = z.object({
  idleTimeout: z.number().positive(),
  activeTimeout: z.number().positive(),
  closeLinger: z.number().nonnegative(),
  cutWindow: z.number().nonnegative().optional(),
});
/**
 * What cross-validation measured. `metrics` is the chosen candidate's out-of-fold score, the number it was chosen
 * by, so it is optimistic when there were several candidates; `heldOut` scores each fold with the candidate chosen
 * on the other folds only (an estimate not used for the choice); `bySource` re-runs the chosen candidate with one
 * fold per capture source (the manifest's `source` column), the closest to "captures from a source never seen".
 */
const crossValidationSchema = z.object({
  strategy: z.string(),
  folds: z.number().int(),
  seed: z.number().int(),
  selection: z.array(z.string()),
  candidates: z.number().int(),
  metrics: metricsSchema,
  heldOut: metricsSchema.nullable().optional(),
  bySource: metricsSchema.nullable().optional(),
  /** `bySource` source by source: each source's flows, scored by the fold model that never saw that source. */
  perSource: z
    .array(z.object({ source: z.string(), captures: z.number().int(), metrics: metricsSchema }))
    .nullable()
    .optional(),
});
const trainingSchema = z.object({
  flows: z.number().int(),
  malicious: z.number().int(),
  captures: z.number().int(),
  flowsBeforeCap: z.number().int(),
  maxFlowsPerCapture: z.number().int().nullable(),
  ambiguousExcluded: z.array(z.string()),
  nonFiniteDropped: z.number().int(),
  cutExcluded: z.number().int().optional(),
  inputs: z.array(z.string()),
});

export const networkModelSchema = z.object({
  featureSet: z.enum(["all", "flow", "flowmeter"]),
  featureNames: z.array(z.string()).nonempty(),
  timeouts: timeoutsSchema,
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
  crossValidation: crossValidationSchema,
  training: trainingSchema,
});

export const gbdtHyperparametersSchema = z.object({
  model: z.literal("gbdt"),
  iterations: z.number().int().positive(),
  learningRate: z.number().positive(),
  maxLeafNodes: z.number().int().min(2),
  minSamplesLeaf: z.number().int().positive(),
  l2: z.number().nonnegative(),
  weighting: z.enum(SAMPLE_WEIGHTINGS),
});

export const kitnetHyperparametersSchema = kitnetParamsSchema
  .omit({ seed: true })
  .extend({ model: z.literal("kitnet"), targetFpr: z.number().gt(0).lt(1) });

/**
 * How the anomaly threshold was set: `rmseThreshold` is the KitNET score (output RMSE) that `targetFpr` of the
 * held-out benign flows reach; `expected` is the share of those flows at or above it, with its exact 95 % interval,
 * and `captureFpr` the mean of that share over the benign captures (each counts once).
 */
const calibrationSchema = z.object({
  rmseThreshold: z.number().positive().refine(Number.isFinite, "must be finite"),
  targetFpr: z.number().gt(0).lt(1),
  expected: z.object({
    flagged: z.number().int().nonnegative(),
    flows: z.number().int().positive(),
    rate: z.number().min(0).max(1),
    lower: z.number().min(0).max(1),
    upper: z.number().min(0).max(1),
  }),
  captures: z.number().int().positive(),
  captureFpr: z.number().min(0).max(1),
  method: z.string(),
});

/**
 * The anomaly model file: KitNET fitted on benign flows. Its flow score is r / (r + t) for the KitNET score r and the
 * calibrated threshold t, so that scores live in (0, 1) like the supervised models' probabilities and the threshold
 * is 0.5 (the score is not a probability; it orders flows as r does).
 */
export const networkKitnetSchema = z.object({
  featureSet: z.enum(["all", "flow", "flowmeter"]),
  featureNames: z.array(z.string()).nonempty(),
  timeouts: timeoutsSchema,
  kitnet: z.unknown(),
  hyperparameters: kitnetHyperparametersSchema,
  threshold: z.literal(0.5),
  calibration: calibrationSchema,
  crossValidation: crossValidationSchema,
  training: trainingSchema,
});

/** A KitNET fitted on benign flows with its calibrated threshold, as part of a supervised model. */
const anomalyPartSchema = z.object({
  kitnet: z.unknown(),
  hyperparameters: kitnetHyperparametersSchema,
  calibration: calibrationSchema,
});

/** The boosted-trees model file: the same record as the logistic one, with trees instead of a pipeline. */
export const networkGbdtSchema = z.object({
  featureSet: z.enum(["all", "flow", "flowmeter"]),
  featureNames: z.array(z.string()).nonempty(),
  timeouts: timeoutsSchema,
  gbdt: z.unknown(),
  hyperparameters: gbdtHyperparametersSchema,
  /** The anomaly part, when the config has one: the flow score is the mean of the trees' and this part's scores. */
  anomaly: anomalyPartSchema.optional(),
  threshold: z.number().gt(0).lt(1),
  crossValidation: crossValidationSchema,
  training: trainingSchema,
});

export type LogisticNetworkModel = Omit<z.infer<typeof networkModelSchema>, "pipeline"> & {
  pipeline: ScaledLogistic;
  model?: undefined;
};
export type GbdtNetworkModel = Omit<z.infer<typeof networkGbdtSchema>, "gbdt" | "anomaly"> & {
  gbdt: GbdtModel;
  anomaly?: AnomalyPart;
};
export type KitnetNetworkModel = Omit<z.infer<typeof networkKitnetSchema>, "kitnet"> & {
  kitnet: KitnetModel;
};
export type KitnetCalibration = z.infer<typeof calibrationSchema>;
export type AnomalyPart = Omit<z.infer<typeof anomalyPartSchema>, "kitnet"> & { kitnet: KitnetModel };
/** A network model file of any kind; `hyperparameters.model` tells which ("gbdt", "kitnet", or absent for logistic). */
export type NetworkModel = LogisticNetworkModel | GbdtNetworkModel | KitnetNetworkModel;

export function isGbdt(model: NetworkModel): model is GbdtNetworkModel {
  return "gbdt" in model;
}

export function isKitnet(model: NetworkModel): model is KitnetNetworkModel {
  return "kitnet" in model;
}

export const NETWORK_MODEL: ArtifactSpec<z.infer<typeof networkModelSchema>> = {
  kind: "network-logistic",
  version: 1,
  schema: networkModelSchema,
};

export const NETWORK_GBDT_MODEL: ArtifactSpec<z.infer<typeof networkGbdtSchema>> = {
  kind: "network-gbdt",
  version: 1,
  schema: networkGbdtSchema,
};

export const NETWORK_KITNET_MODEL: ArtifactSpec<z.infer<typeof networkKitnetSchema>> = {
  kind: "network-kitnet",
  version: 1,
  schema: networkKitnetSchema,
};

export async function saveNetworkModel(path: string, model: NetworkModel): Promise<void> {
  if (isKitnet(model)) await writeArtifact(path, NETWORK_KITNET_MODEL, model);
  else if (isGbdt(model)) await writeArtifact(path, NETWORK_GBDT_MODEL, model);
  else await writeArtifact(path, NETWORK_MODEL, model);
}

/** Reads a network model file of either kind (the envelope's `kind` decides), validating every field. */
export async function loadNetworkModel(path: string): Promise<NetworkModel> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new ModelFileError(`cannot read the model file: ${(error as Error).message}`, { file: path });
  }
  return parseNetworkModel(text, path);
}

export function parseNetworkModel(text: string, path: string): NetworkModel {
  let kind: unknown;
  try {
    kind = (JSON.parse(text) as { kind?: unknown } | null)?.kind;
  } catch {
    kind = undefined; // parseArtifact below reports the JSON error
  }
  if (kind === NETWORK_GBDT_MODEL.kind) {
    const payload = parseArtifact(text, NETWORK_GBDT_MODEL, path);
    checkFeatureNames(payload.featureSet, payload.featureNames, path);
    const gbdt = validateGbdt(payload.gbdt, { file: path, features: payload.featureNames.length });
    const { anomaly, ...rest } = payload;
    if (anomaly === undefined) return { ...rest, gbdt };
    return {
      ...rest,
      gbdt,
      anomaly: validateAnomalyPart(anomaly, "anomaly.", payload.featureNames.length, path),
    };
  }
  if (kind === NETWORK_KITNET_MODEL.kind) {
    const payload = parseArtifact(text, NETWORK_KITNET_MODEL, path);
    checkFeatureNames(payload.featureSet, payload.featureNames, path);
    return { ...payload, ...validateAnomalyPart(payload, "", payload.featureNames.length, path) };
  }
  const payload = parseArtifact(text, NETWORK_MODEL, path);
  const fail = (message: string): never => {
    throw new ModelFileError(message, { file: path });
  };
  const expected = checkFeatureNames(payload.featureSet, payload.featureNames, path);
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

function validateAnomalyPart(
  part: z.infer<typeof anomalyPartSchema>,
  prefix: string,
  features: number,
  path: string,
): AnomalyPart {
  const kitnet = validateKitnet(part.kitnet, { file: path, features });
  if (part.calibration.targetFpr !== part.hyperparameters.targetFpr) {
    throw new ModelFileError(
      `${prefix}calibration.targetFpr differs from ${prefix}hyperparameters.targetFpr`,
      {
        file: path,
      },
    );
  }
  return { ...part, kitnet };
}

function checkFeatureNames(set: FeatureSet, names: readonly string[], path: string): readonly string[] {
  const expected = featureNamesOf(set);
  if (names.length !== expected.length || names.some((name, i) => name !== expected[i])) {
    throw new ModelFileError(
      `the model's ${names.length} features are not this version's "${set}" feature set (${expected.length} features); retrain it`,
      { file: path },
    );
  }
  return expected;
}

/** What evaluate and classify need from a model, whether a threatlens model file or FlowMeter parameters. */
export interface FlowScorer {
  /** "model" (a threatlens JSON file) or "flowmeter-params" (a mean/std/weights/intercept directory). */
  kind: "model" | "flowmeter-params";
  source: string;
  featureSet: FeatureSet;
  featureNames: readonly string[];
  /** Flows with P(malicious) ≥ threshold are flagged (the anomaly model: score ≥ 0.5, see anomalyScore). */
  threshold: number;
  /** How captures are cut into flows for this model. */
  flowSource: FlowSource;
  timeouts: Partial<FlowTimeouts>;
  /**
   * Features ranked by what the model makes of them, largest first: |weight| on the standardised features for a
   * logistic regression ("weight"), the number of tree splits on the feature for boosted trees ("splits"); none for
   * the anomaly model, which has no per-feature weight ("none", empty list).
   */
  rankedWeights: { feature: string; weight: number }[];
  importance: "weight" | "splits" | "none";
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

/** The largest double below 0.5. */
const BELOW_HALF = 0.5 - 2 ** -54;

/**
 * A KitNET score r as a flow score: r / (r + t), 0.5 at the calibrated threshold t, increasing with r — clamped so
 * that rounding cannot move a flow across the threshold: the score is ≥ 0.5 exactly when r ≥ t, as calibrated.
 */
export function thresholdScore(r: number, t: number): number {
  // Only absurd weights (a hand-edited file within the schema's finite bounds) overflow: flag such a score.
  if (!Number.isFinite(r)) return 1;
  const s = r / (r + t);
  return r >= t ? Math.max(s, 0.5) : Math.min(s, BELOW_HALF);
}

/** A fitted KitNET's flow score (see thresholdScore): the anomaly model's, or a supervised model's anomaly part. */
export function anomalyScore(model: AnomalyPart): (row: Float64Array) => number {
  const rmse = kitnetRowScorer(model.kitnet);
  const t = model.calibration.rmseThreshold;
  return (row) => thresholdScore(rmse(row), t);
}

/**
 * The flow score of boosted trees with an anomaly part: the mean of the trees' probability and the anomaly score,
 * each 0.5 at its own threshold. A flow is flagged when the two together pass 0.5: either part alone must be far past
 * its threshold, so a new kind of benign traffic (anomalous, but unlike any labelled attack) or an attack that looks
 * ordinary flow by flow (but not to the trees) needs the other part's support.
 */
export function blendScores(probability: number, anomaly: number): number {
  return (probability + anomaly) / 2;
}

export function modelScorer(model: NetworkModel, source: string): FlowScorer {
  const common = {
    kind: "model" as const,
    source,
    featureSet: model.featureSet,
    featureNames: model.featureNames,
    threshold: model.threshold,
    flowSource: "threatlens" as const,
    timeouts: model.timeouts,
  };
  if (isKitnet(model)) {
    const score = anomalyScore(model);
    return {
      ...common,
      rankedWeights: [],
      importance: "none",
      probability: (rows) => Float64Array.from(rows, score),
    };
  }
  if (isGbdt(model)) {
    const width = model.featureNames.length;
    const anomaly = model.anomaly === undefined ? null : anomalyScore(model.anomaly);
    return {
      ...common,
      rankedWeights: rankWeights(model.featureNames, gbdtSplitCounts(model.gbdt)),
      importance: "splits",
      probability: (rows) => {
        const X = new Float64Array(rows.length * width);
        rows.forEach((r, i) => {
          X.set(r.subarray(0, width), i * width);
        });
        const p = gbdtProbability(model.gbdt, X, rows.length);
        if (anomaly === null) return p;
        return p.map((v, i) => blendScores(v, anomaly(rows[i])));
      },
    };
  }
  return {
    ...common,
    rankedWeights: rankWeights(model.featureNames, model.pipeline.logistic.weights),
    importance: "weight",
    probability: (rows) => probaScaledLogistic(model.pipeline, rows),
  };
}

function kitnetSummary({ kitnet: k, calibration: c }: AnomalyPart) {
  return `${k.clusters.length} autoencoders of ≤ ${Math.max(...k.clusters.map((x) => x.length))} features + an output autoencoder; threshold ${c.rmseThreshold.toPrecision(4)} (RMSE) flags ${(100 * c.expected.rate).toFixed(2)} % of ${c.expected.flows} held-out benign flows (95 % interval ${(100 * c.expected.lower).toFixed(2)}–${(100 * c.expected.upper).toFixed(2)} %)`;
}

/** How the final fit went, in one line. */
export function fitSummary(model: NetworkModel): string {
  if (isKitnet(model)) return kitnetSummary(model);
  if (isGbdt(model)) {
    const nodes = model.gbdt.trees.reduce((a, t) => a + t.feature.length, 0);
    const trees = `${model.gbdt.trees.length} trees, ${nodes} nodes`;
    return model.anomaly === undefined
      ? trees
      : `${trees}; anomaly part (scores averaged with the trees'): ${kitnetSummary(model.anomaly)}`;
  }
  const lr = model.pipeline.logistic;
  return `solver ${lr.iterations} iterations, gradient norm ${lr.gradientNorm.toExponential(2)}, ${lr.converged ? "converged" : "NOT converged"}`;
}
