import { InputError, UsageError } from "../core/errors.ts";
import type { Fold } from "../core/folds.ts";
import { thresholdAtFpr } from "../core/metrics.ts";
import { clopperPearson } from "../core/tail.ts";
import { type KitnetParams, kitnetScores, trainKitnet } from "../models/kitnet.ts";
import { type FlowDataset, subsetFlows } from "./dataset.ts";
import { DEFAULT_FLOW_TIMEOUTS } from "./flows/table.ts";
import { makeFolds, trainingSummary } from "./folds.ts";
import type { GbdtGridConfig, KitnetGridConfig } from "./grid-config.ts";
import { flowMetrics } from "./metrics.ts";
import {
  type AnomalyPart,
  anomalyScore,
  type KitnetCalibration,
  type KitnetNetworkModel,
  thresholdScore,
} from "./model.ts";
import type { CandidateResult, KitnetCandidate, TrainOptions, TrainResult } from "./train.ts";

/**
 * The anomaly mode of `network train`: KitNET (src/models/kitnet.ts) fitted on the benign flows only.
 *
 * Calibration, as the syscalls detector does it: the captures are split into folds grouped by capture (the config's
 * `cv` and `folds`), and each fold is scored by a model fitted on the benign flows of the other folds (cross-fitting).
 * Every benign flow thus gets a score from a model that never saw its capture; the threshold t is the score that
 * `targetFpr` of them reach, and the rate actually reached is reported with its exact binomial 95 % interval (flows
 * are not independent — flows of one capture share hosts and context — so the interval is narrower than the truth;
 * the mean rate over benign captures is reported beside it). The shipped model is then fitted on all benign flows.
 * Its scores are compared with t although t came from models fitted on (k − 1)/k of the flows: a model fitted on
 * more data reconstructs benign flows at least as well, so if anything the stated rate errs high.
 *
 * Malicious captures in the inputs are never fitted on: they are scored in their fold with the others, which gives
 * the cross-validated ROC AUCs (pooled and per capture) of the report.
 */
export function trainAnomalyModel(
  data: FlowDataset,
  options: TrainOptions & { config: KitnetGridConfig },
  y: Uint8Array,
): TrainResult {
  const { config } = options;
  if (options.threshold !== undefined) {
    throw new UsageError(
      "--threshold does not apply to the anomaly model: its threshold is set on held-out benign flows at the config's targetFpr",
    );
  }
  if (data.rows.length === 0) throw new InputError("no flows in the inputs");
  const part = fitCalibratedKitnet(data, y, config, options);
  const { probability, folds } = part;
  const metrics = flowMetrics(y, probability, data.groups, 0.5);
  const model: KitnetNetworkModel = {
    featureSet: data.featureSet,
    featureNames: [...data.featureNames],
    timeouts: { ...DEFAULT_FLOW_TIMEOUTS, ...options.timeouts },
    kitnet: part.kitnet,
    hyperparameters: part.hyperparameters,
    threshold: 0.5,
    calibration: part.calibration,
    crossValidation: {
      strategy: config.cv,
      folds: folds.length,
      seed: config.seed,
      selection: [],
      candidates: 1,
      metrics,
      heldOut: null,
      bySource: null,
    },
    training: trainingSummary(data, y.length - part.calibration.expected.flows, config, options.inputs),
  };
  const result: CandidateResult = {
    candidate: part.hyperparameters,
    metrics,
    fitMs: part.fitMs,
    maxIterations: 0,
    converged: true,
    probability,
  };
  return { model, results: [result], best: 0, folds, heldOutProbability: probability };
}

/**
 * Cross-fits KitNET over the config's folds to calibrate its threshold, then fits it on all benign flows (see
 * trainAnomalyModel). `probability` is every flow's out-of-fold score r / (r + t).
 */
function fitCalibratedKitnet(
  data: FlowDataset,
  y: Uint8Array,
  config: KitnetGridConfig,
  options: Pick<TrainOptions, "onStage" | "onProgress"> = {},
): AnomalyPart & { probability: Float64Array; folds: Fold[]; fitMs: number } {
  const benign = indexesWhere(y, 0);
  if (benign.length === 0) {
    throw new InputError(
      "the anomaly model is fitted on benign flows and no input is labelled benign: give benign captures (--label benign, or a manifest)",
    );
  }
  const benignCaptures = new Set(benign.map((i) => data.groups[i])).size;
  if (config.cv === "grouped" && benignCaptures < config.folds) {
    throw new UsageError(
      `calibrating the threshold on captures the model did not see needs at least ${config.folds} benign captures (--folds), the inputs have ${benignCaptures}; lower --folds or use --cv stratified (folds of flows: an optimistic threshold, since flows of one capture are alike)`,
    );
  }
  const hyperparameters: KitnetCandidate = { model: "kitnet", ...config.params, targetFpr: config.targetFpr };
  const params: KitnetParams = { ...config.params, seed: config.seed };
  const width = data.featureNames.length;
  const folds = makeFolds({ ...data, y }, config);
  options.onStage?.(
    `anomaly model (KitNET) on ${benign.length} benign flows from ${benignCaptures} captures; threshold calibrated over ${folds.length} folds (${config.cv})${benign.length < y.length ? `; ${y.length - benign.length} flows of malicious captures only scored` : ""}`,
  );
  const rmse = new Float64Array(y.length);
  const started = performance.now();
  folds.forEach((fold, f) => {
    const fit = fold.train.filter((i) => y[i] === 0);
    if (fit.length < 2) {
      throw new InputError(
        `fold ${f + 1} of ${folds.length} has ${fit.length} benign training flow(s): more benign captures are needed`,
      );
    }
    const model = trainKitnet(matrixOf(data, fit), fit.length, width, params);
    const scores = kitnetScores(model, matrixOf(data, fold.test), fold.test.length);
    fold.test.forEach((i, k) => {
      rmse[i] = scores[k];
    });
    options.onProgress?.(f + 1, folds.length + 1);
  });
  const calibrationScores = benign.map((i) => rmse[i]);
  const rmseThreshold = thresholdAtFpr(calibrationScores, config.targetFpr);
  if (!(rmseThreshold > 0 && Number.isFinite(rmseThreshold))) {
    throw new InputError(
      `the calibrated threshold is ${rmseThreshold}: the benign flows are too few or all alike for a false-positive rate of ${config.targetFpr}`,
    );
  }
  const probability = Float64Array.from(rmse, (r) => thresholdScore(r, rmseThreshold));
  const fitMs = performance.now() - started;
  options.onStage?.(`fitting the anomaly model on all ${benign.length} benign flows`);
  const kitnet = trainKitnet(matrixOf(data, benign), benign.length, width, params);
  options.onProgress?.(folds.length + 1, folds.length + 1);

  const flagged = calibrationScores.filter((r) => r >= rmseThreshold).length;
  const { lower, upper } = clopperPearson(flagged, benign.length);
  const benignMetrics = flowMetrics(
    benign.map(() => 0),
    benign.map((i) => probability[i]),
    benign.map((i) => data.groups[i]),
    0.5,
  );
  const calibration: KitnetCalibration = {
    rmseThreshold,
    targetFpr: config.targetFpr,
    expected: { flagged, flows: benign.length, rate: flagged / benign.length, lower, upper },
    captures: benignCaptures,
    captureFpr: benignMetrics.captureFpr ?? 0,
    method: `${folds.length} folds (${config.cv}), each scored by KitNET fitted on the benign flows of the other folds`,
  };
  return { kitnet, hyperparameters, calibration, probability, folds, fitMs };
}

/**
 * Out-of-fold anomaly scores for the outer folds of a supervised search with an anomaly part: each fold is scored by
 * a KitNET fitted and calibrated (inner folds) on the benign flows of the other folds only, as the shipped part is on
 * all of them. A fold whose other folds hold too few benign captures to calibrate on (one source held out, the rest
 * all attacks) is scored 0.5, the threshold: neutral, so the blend flags there exactly what the trees flag. `neutral`
 * counts those folds.
 */
export function outOfFoldAnomaly(
  data: FlowDataset,
  y: Uint8Array,
  folds: readonly Fold[],
  config: KitnetGridConfig,
): { scores: Float64Array; neutral: number } {
  const scores = new Float64Array(y.length);
  let neutral = 0;
  for (const fold of folds) {
    if (!canCalibrate(data, y, fold.train, config)) {
      for (const i of fold.test) scores[i] = 0.5;
      neutral++;
      continue;
    }
    const part = fitCalibratedKitnet(
      subsetFlows(data, fold.train),
      Uint8Array.from(fold.train, (i) => y[i]),
      config,
    );
    const score = anomalyScore(part);
    for (const i of fold.test) scores[i] = score(data.rows[i]);
  }
  return { scores, neutral };
}

/** Boosted trees' anomaly part during a search: out-of-fold scores for any fold set, then the fit on all flows. */
export interface AnomalyPartPlan {
  outOfFold(folds: readonly Fold[], what: string): Float64Array;
  fit(): AnomalyPart;
}

/**
 * The anomaly part of a boosted-trees config, or null when it has none or the inputs cannot calibrate it (then a
 * warning says so and the trees are trained alone). Its KitNET is calibrated over the search's folds grouped by
 * capture — by capture, not by source, also when the search's folds are by source: a fold of the outer search holds
 * too few sources to calibrate on.
 */
export function planAnomalyPart(
  gbdt: GbdtGridConfig,
  data: FlowDataset,
  y: Uint8Array,
  options: Pick<TrainOptions, "onStage" | "onWarning">,
): AnomalyPartPlan | null {
  if (gbdt.anomaly === undefined) return null;
  const config: KitnetGridConfig = {
    model: "kitnet",
    ...gbdt.anomaly,
    folds: gbdt.folds,
    cv: gbdt.cv === "source" ? "grouped" : gbdt.cv,
    seed: gbdt.seed,
    maxFlowsPerCapture: gbdt.maxFlowsPerCapture,
  };
  if (!canCalibrate(data, y, [...y.keys()], config)) {
    const needs =
      config.cv === "grouped"
        ? `at least ${config.folds} benign captures, the inputs have ${new Set(data.groups.filter((_, i) => y[i] === 0)).size}`
        : `at least ${2 * config.folds} benign flows`;
    options.onWarning?.(
      `the config's anomaly part is left out: calibrating its threshold on ${config.folds} folds needs ${needs}; the model is the boosted trees alone (give more benign captures, or lower --folds)`,
    );
    return null;
  }
  return {
    outOfFold(folds, what) {
      options.onStage?.(
        `anomaly part (KitNET on the benign flows), ${what}: ${folds.length} folds, each calibrated on ${config.folds} inner folds`,
      );
      const { scores, neutral } = outOfFoldAnomaly(data, y, folds, config);
      if (neutral > 0) {
        options.onStage?.(
          `anomaly part: ${neutral} of ${folds.length} folds (${what}) had too few benign captures outside them to calibrate on: the anomaly part scores them 0.5, so the trees alone decide there`,
        );
      }
      return scores;
    },
    fit() {
      options.onStage?.("fitting the anomaly part on all benign flows");
      const { kitnet, hyperparameters, calibration } = fitCalibratedKitnet(data, y, config);
      return { kitnet, hyperparameters, calibration };
    },
  };
}

/** Whether the flows at `rows` hold enough benign ones to fit KitNET and calibrate its threshold on inner folds. */
function canCalibrate(
  data: FlowDataset,
  y: Uint8Array,
  rows: readonly number[],
  config: KitnetGridConfig,
): boolean {
  const benign = rows.filter((i) => y[i] === 0);
  return config.cv === "grouped"
    ? new Set(benign.map((i) => data.groups[i])).size >= config.folds
    : benign.length >= 2 * config.folds;
}

function indexesWhere(y: Uint8Array, label: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < y.length; i++) if (y[i] === label) out.push(i);
  return out;
}

function matrixOf(data: FlowDataset, rows: readonly number[]): Float64Array {
  const width = data.featureNames.length;
  const X = new Float64Array(rows.length * width);
  rows.forEach((r, k) => {
    X.set(data.rows[r].subarray(0, width), k * width);
  });
  return X;
}
