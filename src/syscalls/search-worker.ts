import { disposeAutoencoder } from "../models/autoencoder.ts";
import type { ModelConfig } from "./config.ts";
import type { TraceSet } from "./dataset.ts";
import { evaluateModel, type SyscallEvaluation } from "./evaluate.ts";
import { type EncodedModel, encodeModel, type TrainingSummary } from "./model.ts";
import { calibrate, type TrainedNetwork, trainNetwork } from "./train.ts";

/**
 * One network of a search on a worker thread: train it on the normal training traces, then, for each configuration
 * that shares it (they differ only in settings applied after training, such as the aggregation), calibrate, score
 * the validation normal and attack traces, and hand back metrics, scores and the encoded model. The wasm backend is
 * set up once per worker (createBackend caches it); trace tokens arrive on SharedArrayBuffers, so tasks do not copy
 * them. No top-level await: piscina loads workers with require() under tsx.
 */
export interface SearchTask {
  /** Configurations with one network key; the first one's training settings are used. */
  configs: { hash: string; config: ModelConfig }[];
  inputs: string[];
  train: TraceSet;
  validation: TraceSet;
  attack: TraceSet;
  /** Shared counter of finished epochs over all workers, for live progress. */
  epochsDone: Int32Array;
}

export type SearchOutcome =
  | {
      hash: string;
      status: "ok";
      evaluation: SyscallEvaluation;
      training: TrainingSummary;
      normalScores: Float64Array;
      attackScores: Float64Array;
      model: EncodedModel;
      evaluateSeconds: number;
    }
  | { hash: string; status: "failed"; error: string };

export default async function runSearchTask(task: SearchTask): Promise<SearchOutcome[]> {
  const trainingConfig = task.configs[0].config;
  let epochs = 0;
  let trained: TrainedNetwork | undefined;
  try {
    trained = await trainNetwork(task.train, trainingConfig, task.inputs, {
      onEpoch: () => {
        epochs++;
        Atomics.add(task.epochsDone, 0, 1);
      },
    });
  } catch (error) {
    return task.configs.map(({ hash }) => ({ hash, status: "failed", error: (error as Error).message }));
  } finally {
    // Early stopping skips epochs: count them as done so the progress total stays exact.
    Atomics.add(task.epochsDone, 0, trainingConfig.epochs - epochs);
  }
  try {
    return task.configs.map(({ hash, config }): SearchOutcome => {
      try {
        const started = performance.now();
        const model = calibrate(trained, config);
        const { evaluation, normal, attack } = evaluateModel(model, task.validation, task.attack);
        return {
          hash,
          status: "ok",
          evaluation,
          training: model.training,
          normalScores: normal.traceScores,
          attackScores: attack.traceScores,
          model: encodeModel(model),
          evaluateSeconds: (performance.now() - started) / 1000,
        };
      } catch (error) {
        return { hash, status: "failed", error: (error as Error).message };
      }
    });
  } finally {
    disposeAutoencoder(trained.network);
  }
}
