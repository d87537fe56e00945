/**
 * The ransomware detector's public API (`import { ransomware } from "threatlens"`): what the CLI does, as functions.
 * Paths name event logs (ebpfangel's layout or the collector's extended one), directories of them, or feature
 * tables; events can also come from memory. See docs/api.md.
 */
import { createProgress, type Progress } from "../core/progress.ts";
import {
  type EvaluateCommandOptions,
  evaluateCommand,
  type Prediction,
  type PredictSummary,
  predictCommand,
  type TrainCommandOptions,
  trainCommand,
} from "./pipeline.ts";

export { RANSOMWARE_SCHEDULE, RansomwareDetector, type RansomwareDetectorOptions } from "./detector.ts";
export type { RansomwareEvaluation } from "./evaluate.ts";
export { EVENT_COLUMNS, EXTENDED_COLUMNS, type FileEvent, readEventLog } from "./events.ts";
export { type ExtractOptions, type ExtractSummary, extractFeatures } from "./extract.ts";
export { FEATURE_NAMES, type ProcessFeatures } from "./features.ts";
export { detectInEvents, type EventInput, featuresFromEvents, toFileEvent } from "./memory.ts";
export {
  loadRansomwareModel as loadModel,
  type RansomwareModel,
  saveRansomwareModel as saveModel,
} from "./model.ts";
export { RansomwareScorer } from "./scorer.ts";
export { featuresToCsv } from "./table.ts";
export {
  DEFAULT_RANSOMWARE_MODEL as DEFAULT_MODEL,
  type WatchInput,
  type WatchOptions,
  type WatchResult,
  watchRansomware as watch,
} from "./watch.ts";
export type { Prediction, PredictSummary };

const silent = (): Progress => createProgress({ quiet: true });

/** Grid-searches an SVM with cross-validation on labelled logs and writes the model file (`ransomware train`). */
export function train(inputs: string[], options: TrainCommandOptions, progress: Progress = silent()) {
  return trainCommand(inputs, options, progress);
}

/** Measures a model on labelled logs or feature tables (`ransomware evaluate`). */
export function evaluate(inputs: string[], options: EvaluateCommandOptions, progress: Progress = silent()) {
  return evaluateCommand(inputs, options, progress);
}

/** Verdicts per process (`ransomware predict`): a process is ransomware when `watch` would alert on it. */
export function predict(
  inputs: string[],
  options: { model: string; skipInvalid?: boolean },
  progress: Progress = silent(),
) {
  return predictCommand(inputs, options, progress);
}
