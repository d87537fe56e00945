import { InputError, UsageError } from "../core/errors.ts";
import { type Fold, stratifiedGroupKFold, stratifiedKFold } from "../core/folds.ts";
import { expandGrid, selectBest } from "../core/grid.ts";
import { runPool, siblingModule } from "../core/pool.ts";
import type { LogisticCvResult, LogisticCvTask } from "../models/logistic-cv-worker.ts";
import { type ClassWeightSpec, fitScaledLogistic, resolveClassWeight } from "../models/scaled-logistic.ts";
import type { FeatureTransform } from "../models/scaled-svm.ts";
import type { FlowDataset } from "./dataset.ts";
import { DEFAULT_FLOW_TIMEOUTS, type FlowTimeouts } from "./flows/table.ts";
import type { NetworkGridConfig } from "./grid-config.ts";
import { type FlowMetrics, flowMetrics, selectionRecord } from "./metrics.ts";
import type { NetworkModel } from "./model.ts";

export interface Candidate {
  penalty: "l1" | "l2";
  C: number;
  classWeight: ClassWeightSpec;
  fitIntercept: boolean;
  transform: FeatureTransform;
}

export interface CandidateResult {
  candidate: Candidate;
  metrics: FlowMetrics;
  fitMs: number;
  maxIterations: number;
  converged: boolean;
  probability: Float64Array;
}

/** Candidates of a grid, in the config's key order (penalty, C, classWeight, fitIntercept, transform). */
export function gridCandidates(config: NetworkGridConfig): Candidate[] {
  return expandGrid<Candidate & Record<string, unknown>>(config.space);
}

export function makeFolds(data: FlowDataset & { y: Uint8Array }, config: NetworkGridConfig): Fold[] {
  if (config.cv === "stratified") return stratifiedKFold(data.y, config.folds, config.seed);
  const captures = new Set(data.groups).size;
  if (captures < config.folds) {
    throw new UsageError(
      `grouped ${config.folds}-fold cross-validation needs at least ${config.folds} captures, the inputs have ${captures}; lower --folds or use --cv stratified`,
    );
  }
  return stratifiedGroupKFold(data.y, data.groups, config.folds, config.seed);
}

export function describeCandidate(c: Candidate): string {
  const cw =
    c.classWeight === null
      ? "none"
      : typeof c.classWeight === "string"
        ? c.classWeight
        : `{0: ${c.classWeight.negative}, 1: ${c.classWeight.positive}}`;
  return `${c.penalty} C=${c.C} classWeight=${cw} intercept=${c.fitIntercept ? "on" : "off"} transform=${c.transform}`;
}

export interface TrainOptions {
  config: NetworkGridConfig;
  workers?: number;
  threshold?: number;
  timeouts?: Partial<FlowTimeouts>;
  inputs: string[];
  onProgress?: (done: number, total: number) => void;
  onStage?: (message: string) => void;
}

export interface TrainResult {
  model: NetworkModel;
  results: CandidateResult[];
  best: number;
  folds: Fold[];
}

/** Grid search with cross-validation on the worker pool, then a refit of the best candidate on all flows. */
export async function trainNetworkModel(data: FlowDataset, options: TrainOptions): Promise<TrainResult> {
  const y = data.y;
  if (y === null) throw new UsageError("training needs labels: --manifest FILE or --label benign|malicious");
  if (data.rows.length === 0) throw new InputError("no flows in the inputs");
  const positives = y.reduce((a, b) => a + b, 0);
  if (positives === 0) throw new InputError("no flow is labelled malicious: a malicious capture is needed");
  if (positives === y.length)
    throw new InputError("every flow is labelled malicious: a benign capture is needed");
  const { config } = options;
  const labelled = { ...data, y };
  const folds = makeFolds(labelled, config);
  const candidates = gridCandidates(config);
  const columns = data.featureNames.length;
  const X = new Float64Array(new SharedArrayBuffer(data.rows.length * columns * 8));
  data.rows.forEach((r, i) => {
    X.set(r, i * columns);
  });
  const tasks: LogisticCvTask[] = candidates.map((c) => ({
    X,
    columns,
    y,
    folds,
    params: { penalty: c.penalty, C: c.C, fitIntercept: c.fitIntercept },
    classWeight: c.classWeight,
    transform: c.transform,
  }));
  const threshold = options.threshold ?? 0.5;
  options.onStage?.(
    `grid search: ${candidates.length} candidates × ${folds.length} folds (${config.cv}) on ${data.rows.length} flows from ${new Set(data.groups).size} captures, ${positives} malicious`,
  );
  const outcomes = await runPool<LogisticCvTask, LogisticCvResult>(
    siblingModule(import.meta.url, "../models/logistic-cv-worker"),
    tasks,
    { workers: options.workers, onResult: (_r, _i, done) => options.onProgress?.(done, tasks.length) },
  );
  const results: CandidateResult[] = outcomes.map((o, i) => ({
    candidate: candidates[i],
    metrics: flowMetrics(y, o.probability, data.groups, threshold),
    fitMs: o.fitMs,
    maxIterations: o.maxIterations,
    converged: o.converged,
    probability: o.probability,
  }));
  const keys = [...new Set([...config.selection, "captureRocAuc", "rocAuc"])];
  const best = selectBest(
    results.map((r) => selectionRecord(r.metrics)),
    keys,
  );
  const chosen = results[best].candidate;
  options.onStage?.(`best: ${describeCandidate(chosen)}; refitting on all ${data.rows.length} flows`);
  const pipeline = fitScaledLogistic(
    data.rows,
    y,
    {
      penalty: chosen.penalty,
      C: chosen.C,
      fitIntercept: chosen.fitIntercept,
      classWeight: resolveClassWeight(chosen.classWeight, y),
    },
    chosen.transform,
  );
  const model: NetworkModel = {
    featureSet: data.featureSet,
    featureNames: [...data.featureNames],
    timeouts: { ...DEFAULT_FLOW_TIMEOUTS, ...options.timeouts },
    pipeline,
    hyperparameters: chosen,
    threshold,
    crossValidation: {
      strategy: config.cv,
      folds: folds.length,
      seed: config.seed,
      selection: config.selection,
      candidates: candidates.length,
      metrics: results[best].metrics,
    },
    training: {
      flows: data.rows.length,
      malicious: positives,
      captures: new Set(data.groups).size,
      flowsBeforeCap: data.inputs.reduce((a, i) => a + i.flows, 0),
      maxFlowsPerCapture: config.maxFlowsPerCapture,
      ambiguousExcluded: data.ambiguous,
      nonFiniteDropped: data.nonFinite,
      inputs: options.inputs,
    },
  };
  return { model, results, best, folds };
}
