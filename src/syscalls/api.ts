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
import { type SyscallWatchOptions, watchSyscalls } from "./watch.ts";

// Models stay behind these functions: their optional autoencoder is a TensorFlow.js network whose types would
// become part of this API.
export { readTraces } from "./traces/index.ts";
export { SYSCALL_RULE, type SyscallWatchInput as WatchInput } from "./watch.ts";
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

export type WatchOptions = Omit<SyscallWatchOptions, "onEnded">;

/**
 * The live detector (`syscalls watch`): a running process (`{ kind: "pid", pid }`, through strace), a command, the
 * eBPF collector, logs or a stream; alerts go to `stdout` (default process.stdout; null for none) and `onAlert`.
 */
export async function watch(options: WatchOptions) {
  const { summary, model } = await watchSyscalls(options);
  const liveThreshold = model.calibration.liveThreshold;
  disposeModel(model);
  return { summary, liveThreshold };
}

/** A verdict per trace (`syscalls score`). */
export function score(
  inputs: string[],
  options: ReadOptions & { model: string },
  progress: Progress = silent(),
) {
  return scoreCommand(inputs, options, progress);
}
