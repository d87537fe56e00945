import { type Importance, permutationImportance } from "../core/importance.ts";
import { averagePrecision, perGroupMetrics, prCurve, rocCurve } from "../core/metrics.ts";
import { decisionScaledSvm } from "../models/scaled-svm.ts";
import { gatedScore, type ProcessFeatures } from "./features.ts";
import { alignToModel, type CvMetrics, type RansomwareModel } from "./model.ts";
import { metricsAt } from "./train.ts";

/** Scores processes with a model: the SVM decision value (positive side = ransomware) and the verdict. */
export interface ScoredProcesses {
  scores: Float64Array;
  /** Features the model expects that the current schema lacks (filled with 0). */
  missingFeatures: string[];
  /** Current schema features the model does not use. */
  extraFeatures: string[];
  alignedRows: Float64Array[];
}

export function scoreProcesses(model: RansomwareModel, rows: readonly ProcessFeatures[]): ScoredProcesses {
  const aligned = alignToModel(
    model,
    rows.map((r) => r.values),
  );
  const scores = decisionScaledSvm(model.pipeline, aligned.rows);
  const gate = model.harmGate;
  if (gate) {
    rows.forEach((r, i) => {
      if (!r.ungated) scores[i] = gatedScore(scores[i], r.values, model.threshold, gate);
    });
  }
  return {
    scores,
    missingFeatures: aligned.missing,
    extraFeatures: aligned.extra,
    alignedRows: aligned.rows,
  };
}

export interface RansomwareEvaluation extends CvMetrics {
  threshold: number;
  processes: number;
  ransomware: number;
  roc: { fpr: number[]; tpr: number[] };
  pr: { recall: number[]; precision: number[] };
  perLog: { log: string; processes: number; ransomware: number; tp: number; fp: number; fn: number }[];
  importance: { feature: string; mean: number; std: number }[];
  importanceMetric: string;
  /** What the verdicts and curves score. */
  scoring: string;
  missingFeatures: string[];
  extraFeatures: string[];
}

export interface EvaluateOptions {
  /**
   * The scores the verdicts and curves use, one per row, when they are not the rows' own: for processes replayed from
   * logs, the highest score the live detector gave each over its life (what `watch` alerts on).
   */
  liveScores?: Float64Array;
  importanceRepeats?: number;
  seed?: number;
  onImportanceProgress?: (done: number, total: number) => void;
}

export function evaluateRansomwareModel(
  model: RansomwareModel,
  rows: readonly ProcessFeatures[],
  y: Uint8Array,
  options: EvaluateOptions = {},
): { evaluation: RansomwareEvaluation; scores: Float64Array } {
  const scored = scoreProcesses(model, rows);
  const scores = options.liveScores ?? scored.scores;
  const metrics = metricsAt(y, scores, model.threshold);
  const roc = rocCurve(y, scores);
  const pr = prCurve(y, scores);
  const groups = perGroupMetrics(
    y,
    scores,
    rows.map((r) => r.log),
    model.threshold,
  );
  let importance: Importance[] = [];
  const hasBothClasses = metrics.rocAuc !== null;
  if (hasBothClasses && (options.importanceRepeats ?? 5) > 0) {
    // Columns the SVM never reads cannot matter; skipping them saves most of the work.
    importance = permutationImportance(
      scored.alignedRows,
      y,
      (permuted) => decisionScaledSvm(model.pipeline, permuted),
      averagePrecision,
      {
        repeats: options.importanceRepeats ?? 5,
        seed: options.seed ?? 0,
        columns: model.pipeline.activeColumns,
        onProgress: options.onImportanceProgress,
      },
    ).importances;
  }
  const evaluation: RansomwareEvaluation = {
    ...metrics,
    threshold: model.threshold,
    processes: rows.length,
    ransomware: y.reduce((a, b) => a + b, 0),
    roc: { fpr: roc.fpr, tpr: roc.tpr },
    pr: { recall: pr.recall, precision: pr.precision },
    perLog: groups.groups.map((g) => ({
      log: g.group,
      processes: g.size,
      ransomware: g.positives,
      tp: g.confusion.tp,
      fp: g.confusion.fp,
      fn: g.confusion.fn,
    })),
    importance: importance
      .map((imp) => ({ feature: model.featureNames[imp.column], mean: imp.mean, std: imp.std }))
      .filter((imp) => imp.mean !== 0 || imp.std !== 0)
      .sort((a, b) => b.mean - a.mean),
    importanceMetric:
      "drop in average precision (PR AUC) of whole-process scores when the feature is permuted",
    scoring: options.liveScores
      ? "the highest score over each process's life, on the live schedule (as ransomware watch scores it)"
      : "whole-process features",
    missingFeatures: scored.missingFeatures,
    extraFeatures: scored.extraFeatures,
  };
  return { evaluation, scores };
}
