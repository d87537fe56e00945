import { z } from "zod";
import {
  type ArtifactSpec,
  DIRECTORY_METADATA_FILE,
  readArtifactDirectory,
  writeArtifactDirectory,
} from "../core/artifact.ts";
import { ModelFileError } from "../core/errors.ts";
import { autoencoderModule, loadAutoencoder } from "./autoencoder-module.ts";
import { AutoencoderSignal } from "./autoencoder-signal.ts";
import { type ModelConfig, modelConfigSchema, SIGNALS } from "./config.ts";
import type { Calibration, Detector } from "./detector.ts";
import { decodeProfile, type EncodedProfile, encodeProfile, type Profile } from "./profile.ts";
import { networkVocabularySize, scoringMismatch, scoringStateSchema } from "./scoring.ts";
import { Vocabulary } from "./vocabulary.ts";

/**
 * The syscall model directory: `model.json` (versioned metadata: configuration, vocabulary, profiles' sizes,
 * calibration, threshold, training summary, and the manifest of the binary arrays) and `weights.bin` (the profiles'
 * n-gram counts and repertoires, then the autoencoder's float32 weights when it is a signal; little-endian; length and
 * SHA-256 recorded in model.json). See core/artifact.ts for the envelope. Loading rebuilds and cross-checks every
 * part and refuses, naming the file, anything that does not fit.
 */
const finite = z.number().refine(Number.isFinite, "must be finite");
const rate = z.object({
  flagged: z.number().int().nonnegative(),
  traces: z.number().int().positive(),
  rate: z.number().min(0).max(1),
  lower: z.number().min(0).max(1),
  upper: z.number().min(0).max(1),
});
const sortedFinite = z
  .array(finite)
  .min(1)
  .refine((v) => v.every((x, i) => i === 0 || v[i - 1] <= x), "must be sorted ascending");

const signalValues = z.partialRecord(z.enum(SIGNALS), sortedFinite);
const calibrationSchema = z.object({
  normal: signalValues,
  profiles: z.record(z.string(), signalValues),
  scores: sortedFinite,
  threshold: finite,
  expectedFpr: rate,
  liveThreshold: finite,
  liveExpectedFpr: rate,
  method: z.object({
    folds: z.number().int().min(2),
    sessions: z.number().int().min(2),
    sessionLength: z.number().int().positive(),
    grouping: z.literal("sessions"),
    description: z.string(),
  }),
  warnings: z.array(z.string()),
});

export const trainingSummarySchema = z.object({
  inputs: z.array(z.string()),
  traces: z.number().int(),
  syscalls: z.number().int(),
  /** Programs with a profile of their own, and their training traces. */
  programs: z.record(z.string(), z.number().int()),
  /** Autoencoder epochs of the final fit (empty without the autoencoder signal). */
  history: z.array(
    z.object({ epoch: z.number(), trainLoss: z.number(), validLoss: z.number().nullable(), ms: z.number() }),
  ),
  bestEpoch: z.number().int().nullable(),
  trainSeconds: z.number(),
  /** What reading the training input skipped or could not map (see ReadStats), and its warnings. */
  skipped: z.record(z.string(), z.number().int()),
  warnings: z.array(z.string()),
});
export type TrainingSummary = z.infer<typeof trainingSummarySchema>;

const arrayEntry = z.object({
  name: z.string(),
  dtype: z.enum(["int32", "uint32", "float64"]),
  length: z.number().int().nonnegative(),
  byteOffset: z.number().int().nonnegative(),
});

const payloadSchema = z.object({
  config: modelConfigSchema,
  vocabulary: z.unknown(),
  profiles: z.array(
    z.object({
      program: z.string().min(1).nullable(),
      traces: z.number().int().positive(),
      syscalls: z.number().int().nonnegative(),
      grams: z.number().int().nonnegative(),
      sets: z.number().int().nonnegative(),
    }),
  ),
  arrays: z.array(arrayEntry),
  /** Byte range of the autoencoder's weights in the binary, its metadata and scoring state. */
  autoencoder: z
    .object({ byteOffset: z.number().int().nonnegative(), network: z.unknown(), scoring: scoringStateSchema })
    .nullable(),
  calibration: calibrationSchema,
  training: trainingSummarySchema,
});
type Payload = z.infer<typeof payloadSchema>;

export const SYSCALL_MODEL: ArtifactSpec<Payload> = {
  kind: "syscall-detector",
  // 2: the configuration names its timing syscalls (timingSyscalls), which change what the profiles count.
  version: 2,
  schema: payloadSchema,
};

export interface SyscallModel extends Detector {
  training: TrainingSummary;
}

/** The model as plain JSON plus its binary bytes (what a worker thread hands back to be written). */
export interface EncodedModel {
  payload: Payload;
  weights: Uint8Array;
}

const BYTES = { int32: 4, uint32: 4, float64: 8 } as const;
type Dtype = keyof typeof BYTES;

export function encodeModel(model: SyscallModel): EncodedModel {
  const arrays: z.infer<typeof arrayEntry>[] = [];
  const parts: Uint8Array[] = [];
  let offset = 0;
  const put = (name: string, dtype: Dtype, values: ArrayLike<number>) => {
    const bytes = new Uint8Array(values.length * BYTES[dtype]);
    const view = new DataView(bytes.buffer);
    for (let i = 0; i < values.length; i++) {
      if (dtype === "int32") view.setInt32(i * 4, values[i], true);
      else if (dtype === "uint32") view.setUint32(i * 4, values[i], true);
      else view.setFloat64(i * 8, values[i], true);
    }
    arrays.push({ name, dtype, length: values.length, byteOffset: offset });
    parts.push(bytes);
    offset += bytes.length;
  };
  const profiles = [model.global, ...model.programs.values()].map((profile, p) => {
    const encoded = encodeProfile(profile);
    put(`profiles/${p}/gramTokens`, "int32", encoded.gramTokens);
    put(`profiles/${p}/gramCounts`, "float64", encoded.gramCounts);
    put(`profiles/${p}/setBits`, "uint32", encoded.setBits);
    put(`profiles/${p}/setSizes`, "int32", encoded.setSizes);
    return encoded.meta;
  });
  let autoencoder: Payload["autoencoder"] = null;
  if (model.network !== null && model.autoencoder instanceof AutoencoderSignal) {
    const { meta, weights } = autoencoderModule().serializeAutoencoder(model.network);
    autoencoder = { byteOffset: offset, network: meta, scoring: model.autoencoder.state };
    parts.push(weights);
    offset += weights.length;
  }
  const weights = new Uint8Array(offset);
  let at = 0;
  for (const part of parts) {
    weights.set(part, at);
    at += part.length;
  }
  return {
    payload: {
      config: model.config,
      vocabulary: model.vocabulary.toJSON(),
      profiles,
      arrays,
      autoencoder,
      calibration: model.calibration,
      training: model.training,
    },
    weights,
  };
}

export async function writeModelDirectory(dir: string, encoded: EncodedModel): Promise<void> {
  await writeArtifactDirectory(dir, SYSCALL_MODEL, encoded.payload, encoded.weights);
}

export async function saveSyscallModel(dir: string, model: SyscallModel): Promise<void> {
  await writeModelDirectory(dir, encodeModel(model));
}

/** Loads and cross-checks a model directory; anything inconsistent is a ModelFileError naming the file. */
export async function loadSyscallModel(dir: string): Promise<SyscallModel> {
  const { payload, binary, metadataFile } = await readArtifactDirectory(dir, SYSCALL_MODEL);
  return decodeModel(payload, binary, metadataFile);
}

export async function decodeModel(payload: Payload, binary: Uint8Array, file: string): Promise<SyscallModel> {
  const fail = (message: string): never => {
    throw new ModelFileError(message, { file });
  };
  const { config } = payload;
  const vocabulary = Vocabulary.fromJSON(payload.vocabulary, file);
  const view = new DataView(binary.buffer, binary.byteOffset, binary.byteLength);
  const byName = new Map(payload.arrays.map((a) => [a.name, a]));
  if (byName.size !== payload.arrays.length) fail("an array is listed twice in the manifest");
  let expectedOffset = 0;
  for (const a of payload.arrays) {
    if (a.byteOffset !== expectedOffset)
      fail(`array ${a.name} starts at byte ${a.byteOffset}, expected ${expectedOffset}`);
    expectedOffset += a.length * BYTES[a.dtype];
  }
  const aeStart = payload.autoencoder?.byteOffset ?? binary.length;
  if (expectedOffset !== aeStart)
    fail(`the arrays end at byte ${expectedOffset}, the next part starts at ${aeStart}`);
  if (aeStart > binary.length) fail(`the binary holds ${binary.length} bytes, the arrays need ${aeStart}`);
  const read = (name: string, dtype: Dtype): number[] => {
    const a = byName.get(name) ?? fail(`array ${name} is missing from the manifest`);
    if (a.dtype !== dtype) fail(`array ${name} is ${a.dtype}, expected ${dtype}`);
    const out = new Array<number>(a.length);
    for (let i = 0; i < a.length; i++) {
      const at = a.byteOffset + i * BYTES[dtype];
      out[i] =
        dtype === "int32"
          ? view.getInt32(at, true)
          : dtype === "uint32"
            ? view.getUint32(at, true)
            : view.getFloat64(at, true);
    }
    return out;
  };
  if (payload.profiles.length === 0 || payload.profiles[0].program !== null)
    fail("the first profile must be the global one (program null)");
  const profiles: Profile[] = payload.profiles.map((meta, p) => {
    if (p > 0 && meta.program === null) fail(`profile ${p} has no program name`);
    const encoded: EncodedProfile = {
      meta,
      gramTokens: Int32Array.from(read(`profiles/${p}/gramTokens`, "int32")),
      gramCounts: Float64Array.from(read(`profiles/${p}/gramCounts`, "float64")),
      setBits: Uint32Array.from(read(`profiles/${p}/setBits`, "uint32")),
      setSizes: Int32Array.from(read(`profiles/${p}/setSizes`, "int32")),
    };
    if (encoded.gramCounts.length !== meta.grams || encoded.setSizes.length !== meta.sets)
      fail(
        `profile ${p}: the arrays hold ${encoded.gramCounts.length} grams and ${encoded.setSizes.length} sets, the metadata says ${meta.grams} and ${meta.sets}`,
      );
    return decodeProfile(encoded, vocabulary.size, config, file);
  });
  const programs = new Map<string, Profile>();
  for (const profile of profiles.slice(1)) {
    if (programs.has(profile.program!)) fail(`two profiles for program ${profile.program}`);
    programs.set(profile.program!, profile);
  }
  const usesAutoencoder = config.signals.includes("autoencoder");
  if (usesAutoencoder !== (payload.autoencoder !== null))
    fail(
      usesAutoencoder ? "the autoencoder signal has no network" : "a network without the autoencoder signal",
    );
  for (const signal of config.signals)
    if (payload.calibration.normal[signal] === undefined)
      fail(`no calibration scores for the ${signal} signal`);
  for (const [profile, values] of [
    ["global", payload.calibration.normal] as const,
    ...Object.entries(payload.calibration.profiles),
  ]) {
    for (const signal of Object.keys(values))
      if (!config.signals.includes(signal as ModelConfig["signals"][number]))
        fail(`calibration scores for ${signal}, which is not a signal of this model`);
    if (profile !== "global") {
      if (!programs.has(profile)) fail(`calibration scores for program ${profile}, which has no profile`);
      for (const signal of config.signals)
        if (values[signal] === undefined)
          fail(`no calibration scores for the ${signal} signal of ${profile}`);
    }
  }
  let network = null;
  let autoencoder: AutoencoderSignal | null = null;
  if (payload.autoencoder !== null) {
    const { deserializeAutoencoder, disposeAutoencoder } = await loadAutoencoder();
    network = await deserializeAutoencoder(payload.autoencoder.network, binary.subarray(aeStart), file);
    try {
      if (network.config.vocabSize !== networkVocabularySize(config, vocabulary.size))
        fail(`the network takes ${network.config.vocabSize} tokens, the vocabulary gives ${vocabulary.size}`);
      if (network.config.windowLength !== config.windowLength)
        fail(
          `window length differs between the network (${network.config.windowLength}) and the config (${config.windowLength})`,
        );
      if (network.config.scoring !== config.objective)
        fail(
          `the network was trained for "${network.config.scoring}", the config says "${config.objective}"`,
        );
      const mismatch = scoringMismatch(payload.autoencoder.scoring, network);
      if (mismatch !== undefined) fail(mismatch);
    } catch (error) {
      disposeAutoencoder(network);
      throw error;
    }
    autoencoder = new AutoencoderSignal(network, payload.autoencoder.scoring);
  }
  return {
    config,
    vocabulary,
    global: profiles[0],
    programs,
    autoencoder,
    network,
    calibration: payload.calibration as Calibration,
    training: payload.training,
  };
}

export function disposeModel(model: SyscallModel): void {
  if (model.network !== null) autoencoderModule().disposeAutoencoder(model.network);
}

export { DIRECTORY_METADATA_FILE };
