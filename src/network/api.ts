/**
 * The network detector's public API (`import { network } from "threatlens"`): what the CLI does, as functions.
 * Inputs are pcap/pcapng captures (files or streams) or flow CSVs; models are versioned JSON files. See docs/api.md.
 */
import { createProgress, type Progress } from "../core/progress.ts";
import { type FlowsCommandOptions, flowsCommand } from "./flows-command.ts";
import {
  classifyCommand,
  evaluateCommand,
  type LabelOptions,
  type ModelOptions,
  type TrainCommandOptions,
  trainCommand,
} from "./pipeline.ts";

export { CaptureReader, type PacketRecord, type ReadCaptureOptions, readCapture } from "./index.ts";
export {
  DEFAULT_NETWORK_MODEL as DEFAULT_MODEL,
  type FlowScore,
  NETWORK_RULE,
  type NetworkWatchInput as WatchInput,
  type NetworkWatchOptions as WatchOptions,
  type NetworkWatchResult as WatchResult,
  watchNetwork as watch,
} from "./live/watch.ts";
export { loadNetworkModel as loadModel, type NetworkModel } from "./model.ts";
export type {
  FlowsCommandOptions as FlowsOptions,
  LabelOptions,
  ModelOptions,
  TrainCommandOptions as TrainOptions,
};

const silent = (): Progress => createProgress({ quiet: true });

/** Captures → bidirectional flows written as CSV (`network flows`); FlowMeter's exact output with flowmeterCompat. */
export function flows(captures: string[], options: FlowsCommandOptions, progress: Progress = silent()) {
  return flowsCommand(captures, options, progress);
}

/** Trains a flow classifier on labelled captures or flow CSVs and writes the model (`network train`). */
export async function train(inputs: string[], options: TrainCommandOptions, progress: Progress = silent()) {
  const { model, results, best } = await trainCommand(inputs, options, progress);
  return { model, results, best };
}

/** Pooled, per-capture and per-category metrics of a model on labelled inputs (`network evaluate`). */
export async function evaluate(
  inputs: string[],
  options: ModelOptions & LabelOptions & { report?: string },
  progress: Progress = silent(),
) {
  return evaluateCommand(inputs, options, progress);
}

/** A probability and a verdict per flow (`network classify`). */
export async function classify(inputs: string[], options: ModelOptions, progress: Progress = silent()) {
  const { predictions, summary } = await classifyCommand(inputs, options, progress);
  return { predictions, summary };
}
