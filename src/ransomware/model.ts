import { z } from "zod";
import { type ArtifactSpec, parseArtifact, readArtifact, writeArtifact } from "../core/artifact.ts";
import { ModelFileError } from "../core/errors.ts";
import type { ScaledSvm } from "../models/scaled-svm.ts";
import { validateSvmModel } from "../models/svm.ts";
import { FEATURE_NAMES } from "./features.ts";

/** The ransomware model file: one versioned JSON document (see core/artifact.ts for the envelope). */
const metricsSchema = z.object({
  recall: z.number(),
  precision: z.number(),
  f1: z.number(),
  mcc: z.number(),
  balancedAccuracy: z.number(),
  rocAuc: z.number().nullable(),
  prAuc: z.number().nullable(),
  confusion: z.object({ tp: z.number(), fp: z.number(), tn: z.number(), fn: z.number() }),
});

const finiteArray = z.array(z.number().refine(Number.isFinite, "must be finite"));

export const ransomwareModelSchema = z.object({
  featureNames: z.array(z.string()).nonempty(),
  /** Features of this version the training config left out of the SVM on purpose (not a version mismatch). */
  excludedFeatures: z.array(z.string()).optional(),
  windowMs: z.number().positive(),
  pipeline: z.object({
    transform: z.enum(["log1p", "none"]),
    scaler: z.object({ mean: finiteArray, scale: finiteArray }),
    activeColumns: z.array(z.number().int().nonnegative()).nonempty(),
    bounds: z.object({ lower: finiteArray, upper: finiteArray }).optional(),
    svm: z.unknown(),
  }),
  hyperparameters: z.object({
    kernel: z.enum(["rbf", "linear"]),
    C: z.number().positive(),
    gamma: z.union([z.literal("scale"), z.number().positive()]),
    classWeight: z.union([z.number().positive(), z.literal("balanced"), z.null()]),
    transform: z.enum(["log1p", "none"]),
  }),
  threshold: z.number().refine(Number.isFinite, "must be finite"),
  /** Scores stay below the threshold until a process shows harm (features.ts `showsHarm`); absent: no gate. */
  harmGate: z
    .object({ minDestroyed: z.number().int().nonnegative(), minCreated: z.number().int().nonnegative() })
    .optional(),
  crossValidation: z.object({
    strategy: z.string(),
    folds: z.number().int(),
    seed: z.number().int(),
    selection: z.array(z.string()),
    candidates: z.number().int(),
    metrics: metricsSchema,
  }),
  training: z.object({
    processes: z.number().int(),
    /** Rows taken part-way through processes' lives (0 for models trained on whole processes only). */
    snapshots: z.number().int().default(0),
    ransomware: z.number().int(),
    logs: z.number().int(),
    inputs: z.array(z.string()),
    missingColumns: z.array(z.string()),
    ignoredColumns: z.array(z.string()),
  }),
});

export type RansomwareModel = Omit<z.infer<typeof ransomwareModelSchema>, "pipeline"> & {
  pipeline: ScaledSvm;
};
export type CvMetrics = z.infer<typeof metricsSchema>;

export const RANSOMWARE_MODEL: ArtifactSpec<z.infer<typeof ransomwareModelSchema>> = {
  kind: "ransomware-svm",
  version: 1,
  schema: ransomwareModelSchema,
};

export async function saveRansomwareModel(path: string, model: RansomwareModel): Promise<void> {
  await writeArtifact(path, RANSOMWARE_MODEL, model);
}

export async function loadRansomwareModel(path: string): Promise<RansomwareModel> {
  return checkRansomwareModel(await readArtifact(path, RANSOMWARE_MODEL), path);
}

/** A model from its file's text (a model taken from the fleet's object store); `file` names it in errors. */
export function parseRansomwareModel(text: string, file: string): RansomwareModel {
  return checkRansomwareModel(parseArtifact(text, RANSOMWARE_MODEL, file), file);
}

function checkRansomwareModel(payload: z.infer<typeof ransomwareModelSchema>, path: string): RansomwareModel {
  const fail = (message: string): never => {
    throw new ModelFileError(message, { file: path });
  };
  const { featureNames, pipeline } = payload;
  const width = featureNames.length;
  if (pipeline.scaler.mean.length !== width || pipeline.scaler.scale.length !== width) {
    fail(`the scaler has ${pipeline.scaler.mean.length} columns but the model names ${width} features`);
  }
  if (pipeline.activeColumns.some((c) => c >= width))
    fail(`activeColumns refers to a column beyond the features`);
  const { bounds } = pipeline;
  if (
    bounds &&
    (bounds.lower.length !== pipeline.activeColumns.length ||
      bounds.upper.length !== pipeline.activeColumns.length ||
      bounds.lower.some((l, j) => l > bounds.upper[j]))
  )
    fail(`the clipping bounds do not match the ${pipeline.activeColumns.length} active columns`);
  let svm: ScaledSvm["svm"];
  try {
    svm = validateSvmModel(pipeline.svm);
  } catch (error) {
    return fail(`invalid SVM: ${(error as Error).message}`);
  }
  if (svm.supportVectors.length > 0 && svm.supportVectors[0].length !== pipeline.activeColumns.length) {
    fail(
      `the SVM expects ${svm.supportVectors[0].length} inputs but the pipeline feeds it ${pipeline.activeColumns.length}`,
    );
  }
  return { ...payload, pipeline: { ...pipeline, svm } };
}

/**
 * Maps feature rows in the detector's current schema onto the model's feature list by name. Model features the
 * schema no longer has are filled with 0; both directions are reported so a mismatch is visible, not silent.
 */
export function alignToModel(
  model: RansomwareModel,
  rows: readonly Float64Array[],
): { rows: Float64Array[]; missing: string[]; extra: string[] } {
  const index = new Map(FEATURE_NAMES.map((n, i) => [n, i]));
  const sources = model.featureNames.map((n) => index.get(n) ?? -1);
  const missing = model.featureNames.filter((_, i) => sources[i] < 0);
  const modelNames = new Set([...model.featureNames, ...(model.excludedFeatures ?? [])]);
  const extra = FEATURE_NAMES.filter((n) => !modelNames.has(n));
  const identical = missing.length === 0 && extra.length === 0 && sources.every((s, i) => s === i);
  if (identical) return { rows: rows as Float64Array[], missing, extra };
  const aligned = rows.map((row) => {
    const out = new Float64Array(sources.length);
    for (let i = 0; i < sources.length; i++) out[i] = sources[i] >= 0 ? row[sources[i]] : 0;
    return out;
  });
  return { rows: aligned, missing, extra };
}
