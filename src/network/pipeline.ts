import { mkdir, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { UsageError } from "../core/errors.ts";
import { countProgress, type Progress } from "../core/progress.ts";
import {
  describeInputs,
  type FeatureSet,
  type FlowDataset,
  type LoadFlowsOptions,
  loadFlows,
} from "./dataset.ts";
import { evaluateFlows, type NetworkEvaluation } from "./evaluate.ts";
import { exportFlowMeterParams, loadFlowMeterParams } from "./flowmeter/params.ts";
import { loadPortNames } from "./flowmeter/ports.ts";
import type { FlowTimeouts } from "./flows/table.ts";
import { resolvePortNames } from "./flows-command.ts";
import {
  DEFAULT_NETWORK_GRID,
  type NetworkGridConfig,
  REFERENCE_NETWORK_GRID,
  readNetworkGrid,
} from "./grid-config.ts";
import { type LabelSource, mergeManifests, parseLabelOption, readManifest } from "./labels/manifest.ts";
import { type FlowScorer, loadNetworkModel, modelScorer, saveNetworkModel } from "./model.ts";
import { type TrainResult, trainNetworkModel } from "./train.ts";

export { formatCaptureWarning } from "./capture/types.ts";
export { captureBreakdown } from "./evaluate.ts";
export { DEFAULT_PORT_NAMES, flowsCommand, resolvePortNames } from "./flows-command.ts";
export { fitSummary } from "./model.ts";
export { describeCandidate } from "./train.ts";

/**
 * The network detector's commands as library calls: what `threatlens network …` runs, minus argument parsing and
 * printing. Long steps report through a Progress (stderr); results are returned for the caller to print.
 */

export interface LabelOptions {
  /** One manifest or several (combined; a file listed twice is an error). */
  manifest?: string | readonly string[];
  label?: string;
}

export async function labelSource(options: LabelOptions): Promise<LabelSource> {
  const manifests = options.manifest === undefined ? [] : [options.manifest].flat();
  if (manifests.length > 0 && options.label) throw new UsageError("give --manifest or --label, not both");
  if (manifests.length > 0) {
    return { manifest: mergeManifests(await Promise.all(manifests.map((file) => readManifest(file)))) };
  }
  if (options.label) return { label: parseLabelOption(options.label) };
  throw new UsageError(
    "labels are required: --manifest manifest.tsv (columns file, label) or --label benign|malicious",
  );
}

async function load(inputs: string[], options: LoadFlowsOptions, progress: Progress): Promise<FlowDataset> {
  const data = await loadFlows(inputs, {
    ...options,
    onInput: (index, total) => {
      if (index === 0) progress.start("reading inputs", total, "files");
      progress.update(index);
    },
    onWarning: (message) => progress.info(`warning: ${message}`),
  });
  progress.stop();
  progress.info(`read ${describeInputs(data)}`);
  return data;
}

export interface TrainCommandOptions extends LabelOptions {
  output: string;
  config?: string;
  referenceGrid?: boolean;
  overrides?: Partial<Pick<NetworkGridConfig, "folds" | "cv" | "selection" | "seed" | "maxFlowsPerCapture">>;
  features?: FeatureSet | "auto";
  threshold?: number;
  workers?: number;
  report?: string;
  timeouts?: Partial<FlowTimeouts>;
}

export async function trainCommand(
  inputs: string[],
  options: TrainCommandOptions,
  progress: Progress,
): Promise<TrainResult & { data: FlowDataset; reportPath?: string }> {
  if (options.config && options.referenceGrid)
    throw new UsageError("give --config or --reference-grid, not both");
  if (options.threshold !== undefined && !(options.threshold > 0 && options.threshold < 1)) {
    throw new UsageError("--threshold must be a probability strictly between 0 and 1");
  }
  const base = await readNetworkGrid(
    options.config ?? (options.referenceGrid ? REFERENCE_NETWORK_GRID : DEFAULT_NETWORK_GRID),
  );
  const config: NetworkGridConfig = { ...base, ...stripUndefined(options.overrides ?? {}) };
  const labels = await labelSource(options);
  const data = await load(
    inputs,
    {
      labels,
      featureSet: options.features,
      maxFlowsPerCapture: config.maxFlowsPerCapture,
      seed: config.seed,
      timeouts: options.timeouts,
    },
    progress,
  );
  const result = await trainNetworkModel(data, {
    config,
    workers: options.workers,
    threshold: options.threshold,
    timeouts: options.timeouts,
    inputs,
    onStage: (m) => progress.info(m),
    onWarning: (m) => progress.warn(m),
    onProgress:
      config.model === "kitnet"
        ? countProgress(progress, "calibration folds and final fit", "fits")
        : countProgress(progress, "grid search", config.model === "gbdt" ? "fits" : "candidates"),
  });
  await mkdir(dirname(options.output), { recursive: true });
  await saveNetworkModel(options.output, result.model);
  let reportPath: string | undefined;
  if (options.report) {
    reportPath = await (await import("./report.ts")).writeTrainingReport(
      options.report,
      result.model,
      result.results,
      result.best,
      data,
    );
  }
  return { ...result, data, reportPath };
}

export interface ModelOptions {
  model?: string;
  /** Score flows cut short by the end of their capture too (unanswered attempts of the last second). */
  includeCut?: boolean;
  flowmeterParams?: string;
  /** Cut captures into flows as FlowMeter does (default only for FlowMeter's own parameter sets). */
  flowmeterFlows?: boolean;
  portNames?: string;
}

export async function loadScorer(options: ModelOptions): Promise<FlowScorer> {
  if (options.model && options.flowmeterParams)
    throw new UsageError("give --model or --flowmeter-params, not both");
  let scorer: FlowScorer;
  if (options.model) scorer = modelScorer(await loadNetworkModel(options.model), options.model);
  else if (options.flowmeterParams) scorer = await loadFlowMeterParams(options.flowmeterParams);
  else throw new UsageError("a model is required: --model MODEL.json or --flowmeter-params DIR");
  if (options.flowmeterFlows) {
    if (scorer.featureSet !== "flowmeter") {
      throw new UsageError(
        "--flowmeter-flows needs a model of FlowMeter's 39 features (trained with --features flowmeter)",
      );
    }
    scorer = { ...scorer, flowSource: "flowmeter" };
  }
  return scorer;
}

function scoringLoad(scorer: FlowScorer, options: ModelOptions): LoadFlowsOptions {
  return {
    featureSet: scorer.featureSet,
    flowSource: scorer.flowSource,
    timeouts: scorer.timeouts,
    portNames: () => loadPortNames(resolvePortNames(options.portNames)),
    includeCut: options.includeCut,
    purpose: "score",
  };
}

export async function evaluateCommand(
  inputs: string[],
  options: ModelOptions & LabelOptions & { report?: string },
  progress: Progress,
): Promise<{ evaluation: NetworkEvaluation; reportPath?: string }> {
  const scorer = await loadScorer(options);
  const labels = await labelSource(options);
  const data = await load(inputs, { ...scoringLoad(scorer, options), labels }, progress);
  const { evaluation, probability } = evaluateFlows(scorer, data);
  let reportPath: string | undefined;
  if (options.report) {
    reportPath = await (await import("./report.ts")).writeEvaluationReport(
      options.report,
      evaluation,
      data,
      probability,
    );
  }
  return { evaluation, reportPath };
}

export interface FlowPrediction {
  capture: string;
  srcIp: string;
  srcPort: string;
  dstIp: string;
  dstPort: string;
  protocol: string;
  startTime: string;
  label: "malicious" | "benign";
  probability: number;
}

export interface CaptureSummary {
  capture: string;
  flows: number;
  malicious: number;
  share: number;
  maxProbability: number;
}

export async function classifyCommand(
  inputs: string[],
  options: ModelOptions,
  progress: Progress,
): Promise<{
  predictions: FlowPrediction[];
  summary: CaptureSummary[];
  scorer: FlowScorer;
  data: FlowDataset;
}> {
  const scorer = await loadScorer(options);
  const data = await load(inputs, scoringLoad(scorer, options), progress);
  const p = scorer.probability(data.rows);
  const predictions = data.meta.map((m, i) => ({
    ...m,
    label: p[i] >= scorer.threshold ? ("malicious" as const) : ("benign" as const),
    probability: p[i],
  }));
  const byCapture = new Map<string, CaptureSummary>();
  for (const input of data.inputs) {
    byCapture.set(input.path, { capture: input.path, flows: 0, malicious: 0, share: 0, maxProbability: 0 });
  }
  for (const pr of predictions) {
    let s = byCapture.get(pr.capture);
    if (!s) {
      s = { capture: pr.capture, flows: 0, malicious: 0, share: 0, maxProbability: 0 };
      byCapture.set(pr.capture, s);
    }
    s.flows++;
    if (pr.label === "malicious") s.malicious++;
    s.maxProbability = Math.max(s.maxProbability, pr.probability);
  }
  const summary = [...byCapture.values()].map((s) => ({
    ...s,
    share: s.flows > 0 ? s.malicious / s.flows : 0,
  }));
  return { predictions, summary, scorer, data };
}

export async function exportCommand(modelPath: string, dir: string): Promise<string[]> {
  return exportFlowMeterParams(await loadNetworkModel(modelPath), dir);
}

export async function writeText(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, text);
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
