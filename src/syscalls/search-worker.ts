import { type ModelConfig, progressUnits, type SignalName } from "./config.ts";
import type { TraceSet } from "./dataset.ts";
import { evaluateModel, type SyscallEvaluation } from "./evaluate.ts";
import { disposeModel, type EncodedModel, encodeModel, type TrainingSummary } from "./model.ts";
import { trainSyscallModel } from "./train.ts";

/**
 * One configuration of a search on a worker thread: train the detector on the normal training traces, score the
 * validation normal and attack traces, and hand back metrics, scores and the encoded model. The wasm backend (when
 * the autoencoder is a signal) is set up once per worker; trace tokens arrive on SharedArrayBuffers, so tasks do
 * not copy them. No top-level await: piscina loads workers with require() under tsx.
 */
export interface SearchTask {
  hash: string;
  config: ModelConfig;
  inputs: string[];
  train: TraceSet;
  validation: TraceSet;
  attack: TraceSet;
  /** Shared counter of progress units (fits, epochs) over all workers, for live progress. */
  epochsDone: Int32Array;
}

export type SearchOutcome =
  | {
      hash: string;
      status: "ok";
      evaluation: SyscallEvaluation;
      training: TrainingSummary;
      normalScores: number[];
      attackScores: number[];
      signalScores: Partial<Record<SignalName, { normal: number[]; attack: number[] }>>;
      model: EncodedModel;
      evaluateSeconds: number;
    }
  | { hash: string; status: "failed"; error: string };

export default async function runSearchTask(task: SearchTask): Promise<SearchOutcome> {
  const { hash, config } = task;
  let units = 0;
  try {
    const model = await trainSyscallModel(task.train, config, task.inputs, {
      onProgress: (done) => {
        const whole = Math.floor(done);
        if (whole > units) {
          Atomics.add(task.epochsDone, 0, whole - units);
          units = whole;
        }
      },
    });
    try {
      const started = performance.now();
      const { evaluation, normal, attack } = evaluateModel(model, task.validation, task.attack);
      const signalScores: Partial<Record<SignalName, { normal: number[]; attack: number[] }>> = {};
      for (const signal of config.signals) {
        signalScores[signal] = {
          normal: normal.map((t) => t.signals[signal] as number),
          attack: attack.map((t) => t.signals[signal] as number),
        };
      }
      return {
        hash,
        status: "ok",
        evaluation,
        training: model.training,
        normalScores: normal.map((t) => t.score),
        attackScores: attack.map((t) => t.score),
        signalScores,
        model: encodeModel(model),
        evaluateSeconds: (performance.now() - started) / 1000,
      };
    } finally {
      disposeModel(model);
    }
  } catch (error) {
    return { hash, status: "failed", error: (error as Error).message };
  } finally {
    // Early stopping skips epochs: count them as done so the progress total stays exact.
    Atomics.add(task.epochsDone, 0, progressUnits(config) - units);
  }
}
