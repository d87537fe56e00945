import { InputError, UsageError } from "../core/errors.ts";
import { thresholdAtFpr } from "../core/metrics.ts";
import { type EpochReport, type TrainedAutoencoder, trainAutoencoder } from "../models/autoencoder.ts";
import { type ModelConfig, networkKey } from "./config.ts";
import {
  type EncodedWindows,
  encodeWindows,
  namesPerTrace,
  splitByTrace,
  subset,
  type TraceSet,
  traceCount,
} from "./dataset.ts";
import type { SyscallModel, TrainingSummary } from "./model.ts";
import { autoencoderConfigFor, fitScoring, scoreTraces, scoreWindows } from "./scoring.ts";
import { Vocabulary } from "./vocabulary.ts";

export interface TrainHooks {
  onEpoch?: (report: EpochReport) => void;
  onStage?: (message: string) => void;
}

/** A trained network with what calibration needs: its vocabulary and the held-out windows. */
export interface TrainedNetwork {
  config: ModelConfig;
  vocabulary: Vocabulary;
  network: TrainedAutoencoder;
  heldOut: EncodedWindows;
  summary: Omit<TrainingSummary, "heldOutFpr">;
}

/**
 * Trains the network on normal traces only. A seeded share of whole traces is held out; the vocabulary and the
 * network see only the rest, so held-out traces meet unknown syscalls the way new normal traces will, and the
 * threshold chosen on them (see calibrate) already pays for that.
 */
export async function trainNetwork(
  normal: TraceSet,
  config: ModelConfig,
  inputs: string[],
  hooks: TrainHooks = {},
): Promise<TrainedNetwork> {
  const started = performance.now();
  const split = splitByTrace(traceCount(normal), config.heldOutFraction, config.seed);
  const fit = subset(normal, split.fit);
  const vocabulary = Vocabulary.fit(namesPerTrace(fit), { minCount: config.minCount });
  const fitWindows = encodeWindows(fit, vocabulary, config.windowLength, config.stride);
  const heldOut = encodeWindows(subset(normal, split.heldOut), vocabulary, config.windowLength, 1);
  const fitCount = fitWindows.offsets.at(-1)!;
  const heldCount = heldOut.offsets.at(-1)!;
  if (fitCount === 0) throw new InputError("the normal training traces contain no syscalls");
  hooks.onStage?.(
    `training on ${split.fit.length} traces (${fitCount} windows of ${config.windowLength}), holding out ${split.heldOut.length} traces (${heldCount} windows); vocabulary ${vocabulary.names.length} syscalls`,
  );
  const network = await trainAutoencoder(
    fitWindows.windows,
    heldOut.windows,
    autoencoderConfigFor(config, vocabulary.size),
    hooks.onEpoch,
  );
  const best = network.history.find((h) => h.epoch === network.bestEpoch);
  return {
    config,
    vocabulary,
    network,
    heldOut,
    summary: {
      inputs,
      traces: traceCount(normal),
      fitTraces: split.fit.length,
      heldOutTraces: split.heldOut.length,
      fitWindows: fitCount,
      heldOutWindows: heldCount,
      epochs: network.history.length,
      bestEpoch: network.bestEpoch,
      heldOutLoss: best && Number.isFinite(best.validLoss) ? best.validLoss : null,
      trainSeconds: (performance.now() - started) / 1000,
      heldOutTracesWithUnknown: heldOut.unknown.reduce((n, u) => n + (u > 0 ? 1 : 0), 0),
      history: network.history.map((h) => ({
        ...h,
        validLoss: Number.isFinite(h.validLoss) ? h.validLoss : null,
      })),
    },
  };
}

/**
 * The model for `config` on a trained network: scoring fitted on the held-out windows and the threshold that
 * `targetFpr` of held-out trace scores reach. `config` may differ from the network's only in settings applied after
 * training (aggregation, normalisation, target FPR), so a search trains once for all of those.
 */
export function calibrate(trained: TrainedNetwork, config: ModelConfig): SyscallModel {
  if (networkKey(config) !== networkKey(trained.config)) {
    throw new UsageError("calibrate: the config differs from the network's in a training setting");
  }
  const { network, heldOut } = trained;
  const scoring = fitScoring(network, config, heldOut.windows);
  const heldScores = scoreTraces(scoreWindows(network, scoring, heldOut.windows), heldOut.offsets, scoring);
  const threshold = thresholdAtFpr(heldScores, config.targetFpr);
  let flagged = 0;
  for (const s of heldScores) if (s >= threshold) flagged++;
  return {
    config,
    vocabulary: trained.vocabulary,
    network,
    scoring,
    threshold,
    training: { ...trained.summary, heldOutFpr: flagged / heldScores.length },
  };
}

export async function trainSyscallModel(
  normal: TraceSet,
  config: ModelConfig,
  inputs: string[],
  hooks: TrainHooks = {},
): Promise<SyscallModel> {
  return calibrate(await trainNetwork(normal, config, inputs, hooks), config);
}
