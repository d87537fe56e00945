/**
 * The syscall detector's public API (`import { syscalls } from "threatlens"`): what the CLI does, as functions.
 * Trace paths name files or directories of ADFA-LD traces, syscall-name lists, `strace -f` logs or the collector's
 * syscall CSV (detected per file). A model is a directory (metadata JSON + binary weights). See docs/api.md.
 */
import { createProgress, type Progress } from "../core/progress.ts";
import {
  type EvaluateCommandOptions,
  evaluateCommand,
  type ReadReport,
  scoreCommand,
  type TraceVerdict,
  type TrainCommandOptions,
  trainCommand,
} from "./pipeline.ts";
import type { ReadOptions } from "./traces/index.ts";

export { DEFAULT_MODEL_CONFIG, type ModelConfig } from "./config.ts";
export type { SyscallEvaluation } from "./evaluate.ts";

import { disposeModel } from "./model.ts";

export { disposeModel, loadSyscallModel as loadModel, type SyscallModel } from "./model.ts";
export {
  SYSCALL_SCHEDULE,
  SyscallProcess,
  type SyscallRecord,
  SyscallScorer,
  SyscallStreamDetector,
} from "./stream.ts";
export { readTraces } from "./traces/index.ts";
export {
  SYSCALL_RULE,
  type SyscallWatchInput as WatchInput,
  type SyscallWatchOptions as WatchOptions,
  type SyscallWatchResult as WatchResult,
  watchSyscalls as watch,
} from "./watch.ts";
export type {
  EvaluateCommandOptions as EvaluateOptions,
  ReadOptions,
  ReadReport,
  TraceVerdict,
  TrainCommandOptions as TrainOptions,
};

const silent = (): Progress => createProgress({ quiet: true });

/** Learns normal behaviour from normal traces only, calibrates the threshold and writes the model directory. */
export async function train(inputs: string[], options: TrainCommandOptions, progress: Progress = silent()) {
  const { model, read } = await trainCommand(inputs, options, progress);
  const summary = { threshold: model.calibration.threshold, training: model.training, read };
  disposeModel(model);
  return summary;
}

/** Ranking and detection metrics of a model on normal and attack traces (`syscalls evaluate`). */
export function evaluate(options: EvaluateCommandOptions, progress: Progress = silent()) {
  return evaluateCommand(options, progress);
}

/** A verdict per trace (`syscalls score`). */
export function score(
  inputs: string[],
  options: ReadOptions & { model: string },
  progress: Progress = silent(),
) {
  return scoreCommand(inputs, options, progress);
}
