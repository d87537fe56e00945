import { InputError, UsageError } from "../core/errors.ts";
import { type Fold, leaveOneGroupOut } from "../core/folds.ts";
import { expandGrid, selectBest } from "../core/grid.ts";
import { runPool, siblingModule } from "../core/pool.ts";
import { DEFAULT_GBDT_PARAMS, type GbdtParams, trainGbdt } from "../models/gbdt.ts";
import type { GbdtFoldResult, GbdtFoldTask } from "../models/gbdt-cv-worker.ts";
import type { KitnetParams } from "../models/kitnet.ts";
import type { LogisticCvResult, LogisticCvTask } from "../models/logistic-cv-worker.ts";
import { type SampleWeighting, sampleWeights } from "../models/sample-weights.ts";
import { type ClassWeightSpec, fitScaledLogistic, resolveClassWeight } from "../models/scaled-logistic.ts";
import type { FeatureTransform } from "../models/scaled-svm.ts";
import { planAnomalyPart, trainAnomalyModel } from "./anomaly.ts";
import type { FlowDataset } from "./dataset.ts";
import { DEFAULT_FLOW_TIMEOUTS, type FlowTimeouts } from "./flows/table.ts";
import { makeFolds, sourcesOf, trainingSummary } from "./folds.ts";
import type { NetworkGridConfig } from "./grid-config.ts";
import { type FlowMetrics, flowMetrics, metricsPerSource, selectionRecord } from "./metrics.ts";
import { blendScores, type NetworkModel } from "./model.ts";

export interface LogisticCandidate {
  model?: "logistic";
  penalty: "l1" | "l2";
  C: number;
  classWeight: ClassWeightSpec;
  fitIntercept: boolean;
  transform: FeatureTransform;
}

export interface GbdtCandidate {
  model: "gbdt";
  iterations: number;
  learningRate: number;
  maxLeafNodes: number;
  minSamplesLeaf: number;
  l2: number;
  weighting: SampleWeighting;
}

/** The anomaly model's settings (one candidate: without labels there is nothing to choose by). */
export type KitnetCandidate = { model: "kitnet"; targetFpr: number } & Omit<KitnetParams, "seed">;

export type Candidate = LogisticCandidate | GbdtCandidate | KitnetCandidate;

export interface CandidateResult {
  candidate: Candidate;
  metrics: FlowMetrics;
  fitMs: number;
  /** Logistic regression only: largest solver iteration count over the folds, and whether all converged. */
  maxIterations: number;
  converged: boolean;
  probability: Float64Array;
}

/** Candidates of a grid, in the config's key order. */
export function gridCandidates(config: NetworkGridConfig): Candidate[] {
  if (config.model === "kitnet") return [{ model: "kitnet", ...config.params, targetFpr: config.targetFpr }];
  if (config.model === "gbdt") {
    return expandGrid<Omit<GbdtCandidate, "model"> & Record<string, unknown>>(config.space).map((c) => ({
      model: "gbdt" as const,
      ...c,
    }));
  }
  return expandGrid<LogisticCandidate & Record<string, unknown>>(config.space);
}

export function describeCandidate(c: Candidate): string {
  if (c.model === "kitnet") {
    return `KitNET anomaly detector (benign flows only): clusters of ≤ ${c.maxClusterSize} features, hidden ${c.hiddenRatio} × inputs, ranges ≥ ${c.minRange}, learning rate ${c.learningRate}, ${c.epochs} epochs, transform ${c.transform}, threshold at ${100 * c.targetFpr} % of held-out benign flows`;
  }
  if (c.model === "gbdt") {
    return `boosted trees: ${c.iterations} trees, learning rate ${c.learningRate}, ≤ ${c.maxLeafNodes} leaves, ≥ ${c.minSamplesLeaf} flows per leaf, l2 ${c.l2}, weighting ${c.weighting}`;
  }
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
  /** Worker threads for the grid search (the anomaly model fits in process: its fits take about a second). */
  workers?: number;
  threshold?: number;
  timeouts?: Partial<FlowTimeouts>;
  inputs: string[];
  onProgress?: (done: number, total: number) => void;
  onStage?: (message: string) => void;
  /** Something the user asked for that training could not do, and what it did instead. */
  onWarning?: (message: string) => void;
}

export interface TrainResult {
  model: NetworkModel;
  results: CandidateResult[];
  best: number;
  folds: Fold[];
  /** Out-of-fold probabilities where each fold was scored by the candidate chosen on the other folds. */
  heldOutProbability: Float64Array;
}

interface Matrix {
  X: Float64Array;
  columns: number;
  groups: Int32Array;
}

function sharedMatrix(data: FlowDataset): Matrix {
  const columns = data.featureNames.length;
  const X = new Float64Array(new SharedArrayBuffer(data.rows.length * columns * 8));
  data.rows.forEach((r, i) => {
    X.set(r, i * columns);
  });
  const codes = new Map<string, number>();
  const groups = new Int32Array(new SharedArrayBuffer(data.rows.length * 4));
  data.groups.forEach((g, i) => {
    if (!codes.has(g)) codes.set(g, codes.size);
    groups[i] = codes.get(g)!;
  });
  return { X, columns, groups };
}

/**
 * Grid search with cross-validation on the worker pool, then a refit of the best candidate on all flows. Besides
 * the chosen candidate's own cross-validated score (which chose it, so it is optimistic), two estimates that the
 * choice did not see: each fold scored by the candidate that is best on the other folds ("held out"), and, when
 * the manifest names sources, the chosen candidate cross-validated with one fold per source ("by source").
 */
export async function trainNetworkModel(data: FlowDataset, options: TrainOptions): Promise<TrainResult> {
  const y = data.y;
  if (y === null) throw new UsageError("training needs labels: --manifest FILE or --label benign|malicious");
  const { config } = options;
  if (config.model === "kitnet") return trainAnomalyModel(data, { ...options, config }, y);
  if (data.rows.length === 0) throw new InputError("no flows in the inputs");
  const positives = y.reduce((a, b) => a + b, 0);
  if (positives === 0) throw new InputError("no flow is labelled malicious: a malicious capture is needed");
  if (positives === y.length)
    throw new InputError("every flow is labelled malicious: a benign capture is needed");
  const labelled = { ...data, y };
  const folds = makeFolds(labelled, config);
  const candidates = gridCandidates(config);
  const matrix = sharedMatrix(data);
  const threshold = options.threshold ?? 0.5;
  options.onStage?.(
    `grid search: ${candidates.length} candidates × ${folds.length} folds (${config.cv}) on ${data.rows.length} flows from ${new Set(data.groups).size} captures, ${positives} malicious`,
  );
  const sources = sourcesOf(data);
  const sourceFolds = sources !== null && config.cv !== "source" ? leaveOneGroupOut(sources) : null;
  let results: CandidateResult[];
  let best: number;
  let bySource: Float64Array | null = null;
  // Boosted trees' anomaly part, when the config has one and the inputs can calibrate it: its out-of-fold scores
  // blend into every candidate's (the part does not depend on the candidate).
  const anomaly = config.model === "gbdt" ? planAnomalyPart(config, data, y, options) : null;
  const keys = [...new Set([...config.selection, "captureRocAuc", "rocAuc"])];
  if (config.model === "gbdt") {
    const evaluated = await crossValidateGbdt(
      candidates as GbdtCandidate[],
      [folds, ...(sourceFolds ? [sourceFolds] : [])],
      matrix,
      y,
      options,
      (foldSet, c) => foldSet === 0 || c === -1,
    );
    const part = anomaly?.outOfFold(folds, config.cv) ?? null;
    results = evaluated.byFoldSet[0].map((trees, i) => {
      const probability = blendWith(trees, part);
      return {
        candidate: candidates[i],
        metrics: flowMetrics(y, probability, data.groups, threshold),
        fitMs: evaluated.fitMs[i],
        maxIterations: 0,
        converged: true,
        probability,
      };
    });
    best = selectBest(
      results.map((r) => selectionRecord(r.metrics)),
      keys,
    );
    if (sourceFolds) {
      options.onStage?.(`chosen candidate, one fold per source (${sourceFolds.length} sources)`);
      const trees = (
        await crossValidateGbdt(
          [candidates[best] as GbdtCandidate],
          [sourceFolds],
          matrix,
          y,
          options,
          () => true,
        )
      ).byFoldSet[0][0];
      bySource = blendWith(trees, anomaly?.outOfFold(sourceFolds, "one fold per source") ?? null);
    }
  } else {
    results = await crossValidateLogistic(
      candidates as LogisticCandidate[],
      folds,
      matrix,
      y,
      options,
      data,
      threshold,
    );
    best = selectBest(
      results.map((r) => selectionRecord(r.metrics)),
      keys,
    );
    if (sourceFolds) {
      options.onStage?.(`chosen candidate, one fold per source (${sourceFolds.length} sources)`);
      bySource = (
        await crossValidateLogistic(
          [candidates[best] as LogisticCandidate],
          sourceFolds,
          matrix,
          y,
          options,
          data,
          threshold,
        )
      )[0].probability;
    }
  }
  const heldOutProbability = heldOutScores(results, folds, y, data.groups, threshold, keys);
  const chosen = results[best].candidate;
  options.onStage?.(`best: ${describeCandidate(chosen)}; refitting on all ${data.rows.length} flows`);
  const crossValidation = {
    strategy: config.cv,
    folds: folds.length,
    seed: config.seed,
    selection: config.selection,
    candidates: candidates.length,
    metrics: results[best].metrics,
    heldOut: candidates.length > 1 ? flowMetrics(y, heldOutProbability, data.groups, threshold) : null,
    bySource: bySource ? flowMetrics(y, bySource, data.groups, threshold) : null,
    perSource: bySource && sources ? metricsPerSource(y, bySource, data.groups, sources, threshold) : null,
  };
  const common = {
    featureSet: data.featureSet,
    featureNames: [...data.featureNames],
    timeouts: { ...DEFAULT_FLOW_TIMEOUTS, ...options.timeouts },
    threshold,
    crossValidation,
    training: trainingSummary(data, positives, config, options.inputs),
  };
  let model: NetworkModel;
  if (chosen.model === "gbdt") {
    const gbdt = trainGbdt(
      matrix.X,
      matrix.columns,
      y,
      sampleWeights(y, matrix.groups, chosen.weighting),
      gbdtParams(chosen),
    );
    model = { ...common, gbdt, hyperparameters: chosen };
    if (anomaly !== null) model.anomaly = anomaly.fit();
  } else if (chosen.model === "kitnet") {
    throw new Error("unreachable: the anomaly model is trained by trainAnomalyModel");
  } else {
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
    model = { ...common, pipeline, hyperparameters: chosen };
  }
  return { model, results, best, folds, heldOutProbability };
}

/** Scores blended with the anomaly part's, when there is one (see blendScores). */
function blendWith(trees: Float64Array, part: Float64Array | null): Float64Array {
  return part === null ? trees : trees.map((p, i) => blendScores(p, part[i]));
}

export function gbdtParams(c: GbdtCandidate): GbdtParams {
  return {
    ...DEFAULT_GBDT_PARAMS,
    iterations: c.iterations,
    learningRate: c.learningRate,
    maxLeafNodes: c.maxLeafNodes,
    minSamplesLeaf: c.minSamplesLeaf,
    l2: c.l2,
  };
}

/**
 * Runs every (candidate, fold) of one or more fold sets as separate pool tasks (finer tasks keep both cores busy
 * with few candidates); `include(foldSet, candidate)` picks which. Returns out-of-fold probabilities per fold set
 * and candidate, and the fit time per candidate on fold set 0.
 */
async function crossValidateGbdt(
  candidates: GbdtCandidate[],
  foldSets: Fold[][],
  matrix: Matrix,
  y: Uint8Array,
  options: TrainOptions,
  include: (foldSet: number, candidate: number) => boolean,
): Promise<{ byFoldSet: Float64Array[][]; fitMs: number[] }> {
  const shared = new Uint8Array(new SharedArrayBuffer(y.length));
  shared.set(y);
  const tasks: (GbdtFoldTask & { set: number; candidate: number })[] = [];
  foldSets.forEach((folds, set) => {
    candidates.forEach((c, ci) => {
      if (!include(set, ci)) return;
      for (const fold of folds) {
        tasks.push({
          X: matrix.X,
          columns: matrix.columns,
          y: shared,
          groups: matrix.groups,
          train: fold.train,
          test: fold.test,
          params: gbdtParams(c),
          weighting: c.weighting,
          set,
          candidate: ci,
        });
      }
    });
  });
  const outcomes = await runPool<GbdtFoldTask, GbdtFoldResult>(
    siblingModule(import.meta.url, "../models/gbdt-cv-worker"),
    tasks,
    { workers: options.workers, onResult: (_r, _i, done) => options.onProgress?.(done, tasks.length) },
  );
  const byFoldSet = foldSets.map(() => candidates.map(() => new Float64Array(y.length)));
  const fitMs = candidates.map(() => 0);
  tasks.forEach((task, k) => {
    const p = byFoldSet[task.set][task.candidate];
    task.test.forEach((i, j) => {
      p[i] = outcomes[k].probability[j];
    });
    if (task.set === 0) fitMs[task.candidate] += outcomes[k].fitMs;
  });
  return { byFoldSet, fitMs };
}

async function crossValidateLogistic(
  candidates: LogisticCandidate[],
  folds: Fold[],
  matrix: Matrix,
  y: Uint8Array,
  options: TrainOptions,
  data: FlowDataset,
  threshold: number,
): Promise<CandidateResult[]> {
  const tasks: LogisticCvTask[] = candidates.map((c) => ({
    X: matrix.X,
    columns: matrix.columns,
    y,
    folds,
    params: { penalty: c.penalty, C: c.C, fitIntercept: c.fitIntercept },
    classWeight: c.classWeight,
    transform: c.transform,
  }));
  const outcomes = await runPool<LogisticCvTask, LogisticCvResult>(
    siblingModule(import.meta.url, "../models/logistic-cv-worker"),
    tasks,
    { workers: options.workers, onResult: (_r, _i, done) => options.onProgress?.(done, tasks.length) },
  );
  return outcomes.map((o, i) => ({
    candidate: candidates[i],
    metrics: flowMetrics(y, o.probability, data.groups, threshold),
    fitMs: o.fitMs,
    maxIterations: o.maxIterations,
    converged: o.converged,
    probability: o.probability,
  }));
}

/**
 * Each fold's flows scored by the candidate ranked best on the other folds' out-of-fold scores: the choice never
 * sees the fold it is measured on (the other folds' models did train on it, so this is not a fully nested estimate,
 * but it costs no extra fit).
 */
function heldOutScores(
  results: CandidateResult[],
  folds: Fold[],
  y: Uint8Array,
  groups: string[],
  threshold: number,
  keys: string[],
): Float64Array {
  const out = new Float64Array(y.length);
  for (const fold of folds) {
    const others = fold.train;
    const oy = others.map((i) => y[i]);
    const og = others.map((i) => groups[i]);
    const choice = selectBest(
      results.map((r) =>
        selectionRecord(
          flowMetrics(
            oy,
            others.map((i) => r.probability[i]),
            og,
            threshold,
          ),
        ),
      ),
      keys,
    );
    for (const i of fold.test) out[i] = results[choice].probability[i];
  }
  return out;
}
