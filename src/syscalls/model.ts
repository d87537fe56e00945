import { z } from "zod";
import {
  type ArtifactSpec,
  DIRECTORY_METADATA_FILE,
  readArtifactDirectory,
  writeArtifactDirectory,
} from "../core/artifact.ts";
import { ModelFileError } from "../core/errors.ts";
import {
  deserializeAutoencoder,
  disposeAutoencoder,
  serializeAutoencoder,
  type TrainedAutoencoder,
} from "../models/autoencoder.ts";
import { type ModelConfig, modelConfigSchema } from "./config.ts";
import { networkVocabularySize, type ScoringState, scoringMismatch, scoringStateSchema } from "./scoring.ts";
import { Vocabulary } from "./vocabulary.ts";

/**
 * The syscall model directory: `model.json` (versioned metadata: configuration, vocabulary, window, network
 * architecture and weight manifest, scoring state, threshold, training metrics) and `weights.bin` (float32 weights,
 * length and SHA-256 recorded in model.json). See core/artifact.ts for the envelope.
 */
const finite = z.number().refine(Number.isFinite, "must be finite");

export const trainingSummarySchema = z.object({
  inputs: z.array(z.string()),
  traces: z.number().int(),
  fitTraces: z.number().int(),
  heldOutTraces: z.number().int(),
  fitWindows: z.number().int(),
  heldOutWindows: z.number().int(),
  epochs: z.number().int(),
  bestEpoch: z.number().int(),
  heldOutLoss: z.number().nullable(),
  trainSeconds: z.number(),
  /** FPR the threshold gives on the held-out normal traces (at most the target). */
  heldOutFpr: z.number(),
  /** Held-out normal traces with at least one syscall outside the vocabulary. */
  heldOutTracesWithUnknown: z.number().int(),
  history: z.array(
    z.object({ epoch: z.number(), trainLoss: z.number(), validLoss: z.number().nullable(), ms: z.number() }),
  ),
});
export type TrainingSummary = z.infer<typeof trainingSummarySchema>;

const payloadSchema = z.object({
  config: modelConfigSchema,
  vocabulary: z.unknown(),
  window: z.object({ length: z.number().int().min(1), scoringStride: z.literal(1) }),
  network: z.unknown(),
  scoring: scoringStateSchema,
  threshold: finite,
  targetFpr: z.number().gt(0).lt(1),
  training: trainingSummarySchema,
});
type Payload = z.infer<typeof payloadSchema>;

export const SYSCALL_MODEL: ArtifactSpec<Payload> = {
  kind: "syscall-autoencoder",
  version: 1,
  schema: payloadSchema,
};

export interface SyscallModel {
  config: ModelConfig;
  vocabulary: Vocabulary;
  network: TrainedAutoencoder;
  scoring: ScoringState;
  /** Trace scores at or above this are anomalous. */
  threshold: number;
  training: TrainingSummary;
}

/** The model as plain JSON plus its weight bytes (what a worker thread hands back to be written). */
export interface EncodedModel {
  payload: Payload;
  weights: Uint8Array;
}

export function encodeModel(model: SyscallModel): EncodedModel {
  const { meta, weights } = serializeAutoencoder(model.network);
  // NaN (no held-out windows) is not JSON; the schema stores it as null.
  const history = model.training.history.map((h) => ({
    ...h,
    validLoss: Number.isFinite(h.validLoss) ? h.validLoss : null,
  }));
  return {
    payload: {
      config: model.config,
      vocabulary: model.vocabulary.toJSON(),
      window: { length: model.config.windowLength, scoringStride: 1 },
      network: { ...meta, history },
      scoring: model.scoring,
      threshold: model.threshold,
      targetFpr: model.config.targetFpr,
      training: { ...model.training, history },
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
  const fail = (message: string): never => {
    throw new ModelFileError(message, { file: metadataFile });
  };
  const vocabulary = Vocabulary.fromJSON(payload.vocabulary, metadataFile);
  const network = await deserializeAutoencoder(payload.network, binary, metadataFile);
  try {
    const { config } = payload;
    const expectedTokens = networkVocabularySize(config, vocabulary.size);
    if (network.config.vocabSize !== expectedTokens) {
      fail(`the network takes ${network.config.vocabSize} tokens, the vocabulary gives ${expectedTokens}`);
    }
    if (
      network.config.windowLength !== config.windowLength ||
      payload.window.length !== config.windowLength
    ) {
      fail(
        `window length differs between the network (${network.config.windowLength}) and the config (${config.windowLength})`,
      );
    }
    if (network.config.scoring !== config.objective) {
      fail(`the network was trained for "${network.config.scoring}", the config says "${config.objective}"`);
    }
    if (
      payload.scoring.aggregation !== config.aggregation ||
      payload.scoring.normalisation !== config.normalisation
    ) {
      fail("the scoring state does not match the config's aggregation and normalisation");
    }
    const mismatch = scoringMismatch(payload.scoring, network);
    if (mismatch !== undefined) fail(mismatch);
    if (payload.targetFpr !== config.targetFpr) fail("targetFpr differs from the config's");
  } catch (error) {
    disposeAutoencoder(network);
    throw error;
  }
  return {
    config: payload.config,
    vocabulary,
    network,
    scoring: payload.scoring,
    threshold: payload.threshold,
    training: {
      ...payload.training,
      history: payload.training.history,
    },
  };
}

export { DIRECTORY_METADATA_FILE };
