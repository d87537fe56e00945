/**
 * How the syscall detector turns the autoencoder into anomaly scores — the one module that knows the model's
 * training objective, corruption and scoring details, so that a better scoring method replaces this file only.
 *
 * - objective "masked-center": the window's centre syscall is hidden by a reserved mask token and the window's score
 *   is the cross-entropy of the true centre given its context; "reconstruction": the mean cross-entropy of the clean
 *   window through the bottleneck. Both are cross-entropy over vocabulary logits, which cannot collapse the way an
 *   MSE against a jointly trained embedding does.
 * - noise: share of input positions hidden while training (denoising).
 * - normalisation "token": each position's loss minus the mean loss of its syscall on held-out normal windows, so that
 *   rare-but-normal syscalls stop dominating the score.
 *
 * A trace's autoencoder signal is the mean of its window scores (ProcessScorer): the mean beats max and top-k
 * aggregations on ADFA-LD, where the highest window losses come from rare but normal syscalls.
 */
import { z } from "zod";
import { UsageError } from "../core/errors.ts";
import type { AutoencoderConfig, TrainedAutoencoder } from "../models/autoencoder.ts";
import { fitTokenBaseline, normalisedWindowScores } from "../models/sequence-scores.ts";
import { autoencoderModule } from "./autoencoder-module.ts";
import type { ModelConfig } from "./config.ts";

export const scoringConfigShape = {
  objective: z.enum(["masked-center", "reconstruction"]),
  noise: z.number().min(0).lt(1),
  normalisation: z.enum(["none", "token"]),
};
export type ScoringConfig = {
  [K in keyof typeof scoringConfigShape]: z.infer<(typeof scoringConfigShape)[K]>;
};

export const DEFAULT_SCORING: ScoringConfig = {
  objective: "masked-center",
  noise: 0.2,
  normalisation: "none",
};

/** What scoring learned from held-out normal data, stored with the model. */
export const scoringStateSchema = z.object({
  normalisation: z.enum(["none", "token"]),
  /** Per-token mean held-out loss (normalisation "token"), indexed by model token id. */
  tokenMean: z.array(z.number()).nullable(),
});
export type ScoringState = z.infer<typeof scoringStateSchema>;

/** Token ids the network sees: the vocabulary's, plus a mask token after them when the objective hides positions. */
export function networkVocabularySize(config: ModelConfig, vocabularySize: number): number {
  return config.objective === "masked-center" ? vocabularySize + 1 : vocabularySize;
}

export function autoencoderConfigFor(config: ModelConfig, vocabularySize: number): AutoencoderConfig {
  const masked = config.objective === "masked-center";
  return {
    vocabSize: networkVocabularySize(config, vocabularySize),
    windowLength: config.windowLength,
    embeddingDim: config.embeddingDim,
    hiddenLayers: [...config.hiddenLayers],
    latentDim: config.latentDim,
    learningRate: config.learningRate,
    batchSize: config.batchSize,
    epochs: config.epochs,
    patience: config.patience,
    noise: config.noise,
    maskToken: masked ? vocabularySize : null,
    scoring: config.objective,
    seed: config.seed,
  };
}

/** Fits the scoring state on held-out normal windows (n × windowLength tokens). */
export function fitScoring(
  network: TrainedAutoencoder,
  config: ModelConfig,
  heldOut: Int32Array,
): ScoringState {
  if (config.normalisation === "none") {
    return { normalisation: "none", tokenMean: null };
  }
  if (heldOut.length === 0) throw new UsageError('normalisation "token" needs held-out windows');
  const losses = autoencoderModule().reconstructionLosses(network, heldOut);
  const baseline = fitTokenBaseline(heldOut, losses.positions, network.config.vocabSize);
  return {
    normalisation: "token",
    tokenMean: Array.from(baseline.tokenMean),
  };
}

/** One anomaly score per window (n × windowLength tokens, row-major). */
export function scoreWindows(
  network: TrainedAutoencoder,
  state: ScoringState,
  windows: Int32Array,
): Float32Array {
  const losses = autoencoderModule().reconstructionLosses(network, windows);
  if (state.tokenMean === null) return losses.windows;
  const baseline = { globalMean: 0, tokenMean: Float64Array.from(state.tokenMean) };
  return normalisedWindowScores(windows, losses.positions, network.config.windowLength, baseline);
}

/** Checks a loaded scoring state against the network it goes with; returns a reason when they do not fit. */
export function scoringMismatch(state: ScoringState, network: TrainedAutoencoder): string | undefined {
  if (state.normalisation === "token" && state.tokenMean?.length !== network.config.vocabSize) {
    return `the token baseline has ${state.tokenMean?.length ?? 0} entries, the network ${network.config.vocabSize} tokens`;
  }
  if (state.normalisation === "none" && state.tokenMean !== null)
    return "a token baseline without normalisation";
  return undefined;
}
