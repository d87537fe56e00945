import { InputError, UsageError } from "../core/errors.ts";
import { type Fold, leaveOneGroupOut, stratifiedGroupKFold, stratifiedKFold } from "../core/folds.ts";
import { expandGrid, selectBest } from "../core/grid.ts";
import { scoreSummary } from "../core/metrics.ts";
import { runPool, siblingModule } from "../core/pool.ts";
import { type FeatureTransform, fitScaledSvm } from "../models/scaled-svm.ts";
import type { Kernel, SvmParams } from "../models/svm.ts";
import type { SvmCvResult, SvmCvTask } from "../models/svm-cv-worker.ts";
import {
  DEFAULT_WINDOW_MS,
  FEATURE_NAMES,
  gatedScore,
  HARM_GATE,
  MIN_CREATED_FOR_HARM,
  MIN_DESTROYED_FOR_HARM,
  type ProcessFeatures,
  rowKey,
  showsHarm,
} from "./features.ts";
import { excludedFeatures, type GridConfig } from "./grid-config.ts";
import { type Labels, processKey } from "./labels.ts";
import type { CvMetrics, RansomwareModel } from "./model.ts";

export interface Candidate {
  kernel: Kernel;
  C: number;
  gamma: "scale" | number;
  classWeight: number | "balanced" | null;
  transform: FeatureTransform;
}

export interface CandidateResult {
  candidate: Candidate;
  metrics: CvMetrics;
  fitMs: number;
  decision: Float64Array;
}

export interface LabelledRows {
  rows: ProcessFeatures[];
  y: Uint8Array;
  groups: string[];
  /**
   * The process each row belongs to (rows are a process's snapshots and its whole life); every metric is taken per
   * process, on its highest score, as `watch` alerts on a process whose score crosses the threshold at any time.
   */
  process: Int32Array;
  processes: number;
  /** Labels for an input log that name no process in it (reported, not fatal: the authors' file has 18). */
  unmatchedLabels: string[];
  /** Logs the labels name that are not among the inputs (reported: often a wrong path or file name). */
  otherLogs: string[];
}

export function attachLabels(rows: ProcessFeatures[], labels: Labels): LabelledRows {
  const y = new Uint8Array(rows.length);
  const matched = new Set<string>();
  rows.forEach((r, i) => {
    if (r.children) {
      // The children of a parent, taken together, are ransomware when the parent or any child is labelled so.
      y[i] = [r.pid, ...r.children].some((pid) => labels.get(processKey(r.log, pid)) === 1) ? 1 : 0;
      return;
    }
    const key = processKey(r.log, r.pid);
    const label = labels.get(key);
    if (label !== undefined) {
      y[i] = label;
      matched.add(key);
    }
  });
  // Labels of logs that are not among the inputs are simply not needed; a label for a log that IS an input but
  // naming no process of it points at a mistake (wrong PID or log index) and is reported.
  const inputLogs = new Set(rows.map((r) => r.log));
  const unmatchedLabels = [...labels.keys()]
    .filter((k) => !matched.has(k) && inputLogs.has(k.slice(0, k.indexOf("\0"))))
    .map((k) => k.replace("\0", " pid "));
  const ids = new Map<string, number>();
  const process = Int32Array.from(rows, (r) => {
    const key = rowKey(r.log, r.pid, r.firstTs, r.children ? (r.generation ?? 1) : 0);
    let id = ids.get(key);
    if (id === undefined) ids.set(key, (id = ids.size));
    return id;
  });
  const otherLogs = [...new Set([...labels.keys()].map((k) => k.slice(0, k.indexOf("\0"))))].filter(
    (log) => !inputLogs.has(log),
  );
  return {
    rows,
    y,
    groups: rows.map((r) => r.log),
    process,
    processes: ids.size,
    unmatchedLabels,
    otherLogs,
  };
}

/**
 * The rows training learns from, when it trains for live scoring: every benign row, and the ransomware rows that
 * already show harm (`showsHarm`). A ransomware process's first events (loading libraries, reading a few documents)
 * and a helper that deletes one file (the `rm` a shell loop runs per document) look like any process's; labelled
 * ransomware they teach the model to flag every short `rm` and every process's start. They are left out, not
 * relabelled: the group of the loop's children, and the process itself once it has destroyed a few documents, carry
 * the label.
 */
export function learnableRows(data: LabelledRows): LabelledRows {
  // Only training for live scoring (event logs with snapshots) has early rows; a feature table's rows are whole
  // processes or windows measured otherwise, and are learned as labelled.
  if (!data.rows.some((r) => r.snapshot)) return data;
  const keep = data.rows.map((r, i) => data.y[i] === 0 || showsHarm(r.values));
  if (keep.every(Boolean)) return data;
  const ids = new Map<number, number>();
  const process: number[] = [];
  data.process.forEach((p, i) => {
    if (!keep[i]) return;
    let id = ids.get(p);
    if (id === undefined) ids.set(p, (id = ids.size));
    process.push(id);
  });
  return {
    ...data,
    rows: data.rows.filter((_, i) => keep[i]),
    y: data.y.filter((_, i) => keep[i]),
    groups: data.groups.filter((_, i) => keep[i]),
    process: Int32Array.from(process),
    processes: ids.size,
  };
}

/** Per process: its label and the highest of its rows' scores. */
export function perProcess(
  data: LabelledRows,
  scores: ArrayLike<number>,
): { y: Uint8Array; scores: Float64Array } {
  const y = new Uint8Array(data.processes);
  const best = new Float64Array(data.processes).fill(Number.NEGATIVE_INFINITY);
  for (let i = 0; i < data.rows.length; i++) {
    const p = data.process[i];
    y[p] = data.y[i];
    if (scores[i] > best[p]) best[p] = scores[i];
  }
  return { y, scores: best };
}

export function makeFolds(data: LabelledRows, config: Pick<GridConfig, "cv" | "folds" | "seed">): Fold[] {
  if (config.cv === "stratified") {
    // Snapshots of one process must stay on one side of every fold.
    if (data.processes < data.rows.length)
      return stratifiedGroupKFold(data.y, Array.from(data.process, String), config.folds, config.seed);
    return stratifiedKFold(data.y, config.folds, config.seed);
  }
  if (config.cv === "leave-one-log-out") return leaveOneGroupOut(data.groups);
  const logs = new Set(data.groups).size;
  if (logs < config.folds) {
    throw new UsageError(
      `grouped ${config.folds}-fold cross-validation needs at least ${config.folds} logs, the inputs have ${logs}; lower --folds or use --cv stratified`,
    );
  }
  return stratifiedGroupKFold(data.y, data.groups, config.folds, config.seed);
}

export function metricsAt(y: ArrayLike<number>, decision: ArrayLike<number>, threshold: number): CvMetrics {
  const s = scoreSummary(y, decision, threshold);
  return {
    recall: s.recall,
    precision: s.precision,
    f1: s.f1,
    mcc: s.mcc,
    balancedAccuracy: s.balancedAccuracy,
    rocAuc: Number.isNaN(s.rocAuc) ? null : s.rocAuc,
    prAuc: Number.isNaN(s.prAuc) ? null : s.prAuc,
    confusion: s.confusion,
  };
}

export function toSvmParams(c: Candidate): SvmParams {
  return {
    kernel: c.kernel,
    C: c.C,
    gamma: c.gamma,
    classWeight:
      c.classWeight === null
        ? undefined
        : c.classWeight === "balanced"
          ? "balanced"
          : { negative: 1, positive: c.classWeight },
  };
}

/** Candidates of a grid; a linear kernel ignores gamma, so its duplicates over gamma are dropped. */
export function gridCandidates(config: GridConfig): Candidate[] {
  const seen = new Set<string>();
  return expandGrid<Candidate & Record<string, unknown>>(config.space).filter((c) => {
    const key = JSON.stringify({ ...c, gamma: c.kernel === "linear" ? null : c.gamma });
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

export interface TrainOptions {
  config: GridConfig;
  workers?: number;
  windowMs?: number;
  inputs: string[];
  missingColumns?: string[];
  ignoredColumns?: string[];
  onProgress?: (done: number, total: number) => void;
  onStage?: (message: string) => void;
}

export interface TrainResult {
  model: RansomwareModel;
  results: CandidateResult[];
  best: number;
  folds: Fold[];
  /** Per-process labels, aligned with each candidate's `decision`. */
  y: Uint8Array;
}

/** Grid search with cross-validation on a worker pool, then a refit of the best candidate on all rows. */
export async function trainRansomwareModel(all: LabelledRows, options: TrainOptions): Promise<TrainResult> {
  const data = learnableRows(all);
  if (data.rows.length < all.rows.length)
    options.onStage?.(
      `left out ${all.rows.length - data.rows.length} ransomware rows that had not yet destroyed ${MIN_DESTROYED_FOR_HARM} files that existed before them or created ${MIN_CREATED_FOR_HARM} files (a process's first events, a one-file rm)`,
    );
  const positives = data.y.reduce((a, b) => a + b, 0);
  const processLabels = perProcess(data, data.y).y;
  const positiveProcesses = processLabels.reduce((a, b) => a + b, 0);
  if (data.rows.length === 0) throw new InputError("no processes in the inputs");
  if (positives === 0)
    throw new InputError("no process is labelled ransomware: check the labels file and log names");
  if (positives === data.rows.length)
    throw new InputError("every process is labelled ransomware: a benign class is needed");
  const { config } = options;
  const folds = makeFolds(data, config);
  const candidates = gridCandidates(config);
  // The SVM sees the features the config does not exclude; the harm gate still reads every feature.
  const excluded = new Set(excludedFeatures(config));
  const featureNames = FEATURE_NAMES.filter((n) => !excluded.has(n));
  const picked = Int32Array.from(featureNames, (n) => FEATURE_NAMES.indexOf(n));
  const svmRows = data.rows.map((r) => Float64Array.from(picked, (c) => r.values[c]));
  const columns = featureNames.length;
  // Shared memory: every task reads the same matrix without a copy per task.
  const X = new Float64Array(new SharedArrayBuffer(data.rows.length * columns * 8));
  svmRows.forEach((r, i) => {
    X.set(r, i * columns);
  });
  const searchId = `${process.pid}-${Date.now()}-${Math.random()}`;
  const tasks: SvmCvTask[] = candidates.map((c) => ({
    searchId,
    X,
    columns,
    y: data.y,
    folds,
    params: toSvmParams(c),
    transform: c.transform,
  }));
  const snapshots = data.rows.length - data.processes;
  options.onStage?.(
    `grid search: ${candidates.length} candidates × ${folds.length} folds (${config.cv}) on ${data.processes} processes, ${positiveProcesses} ransomware${snapshots > 0 ? ` (with ${snapshots} snapshots part-way through their lives; each process scored by its highest score)` : ""}`,
  );
  const outcomes = await runPool<SvmCvTask, SvmCvResult>(
    siblingModule(import.meta.url, "../models/svm-cv-worker"),
    tasks,
    {
      workers: options.workers,
      onResult: (_r, _i, done) => options.onProgress?.(done, tasks.length),
    },
  );
  // Trained for live scoring, the model carries the harm gate, and its cross-validation scores pass the same gate.
  const harmGate = data.rows.some((r) => r.snapshot) ? HARM_GATE : undefined;
  const results: CandidateResult[] = outcomes.map((o, i) => {
    const decision = harmGate
      ? o.decision.map((d, r) => gatedScore(d, data.rows[r].values, 0, harmGate))
      : o.decision;
    const p = perProcess(data, decision);
    return {
      candidate: candidates[i],
      metrics: metricsAt(p.y, p.scores, 0),
      fitMs: o.fitMs,
      decision: p.scores,
    };
  });
  // Ties on the configured metrics are common (several candidates reach recall and MCC 1 on separable data): the
  // threshold-free ranking metrics break them before grid order does.
  const keys = [...new Set([...config.selection, "prAuc", "rocAuc"])];
  const best = selectBest(
    results.map((r) => flatMetrics(r.metrics)),
    keys,
  );
  const chosen = results[best].candidate;
  options.onStage?.(`best: ${describeCandidate(chosen)}; refitting on all ${data.rows.length} rows`);
  const pipeline = await fitScaledSvm(svmRows, data.y, toSvmParams(chosen), chosen.transform);
  const model: RansomwareModel = {
    featureNames,
    ...(excluded.size > 0 ? { excludedFeatures: [...excluded] } : {}),
    windowMs: options.windowMs ?? DEFAULT_WINDOW_MS,
    pipeline,
    hyperparameters: chosen,
    threshold: 0,
    ...(harmGate ? { harmGate } : {}),
    crossValidation: {
      strategy: config.cv,
      folds: folds.length,
      seed: config.seed,
      selection: config.selection,
      candidates: candidates.length,
      metrics: results[best].metrics,
    },
    training: {
      processes: data.processes,
      snapshots,
      ransomware: positiveProcesses,
      logs: new Set(data.groups).size,
      inputs: options.inputs,
      missingColumns: options.missingColumns ?? [],
      ignoredColumns: options.ignoredColumns ?? [],
    },
  };
  return { model, results, best, folds, y: processLabels };
}

function flatMetrics(m: CvMetrics): Record<string, number> {
  return {
    recall: m.recall,
    precision: m.precision,
    f1: m.f1,
    mcc: m.mcc,
    balancedAccuracy: m.balancedAccuracy,
    rocAuc: m.rocAuc ?? Number.NaN,
    prAuc: m.prAuc ?? Number.NaN,
  };
}

export function describeCandidate(c: Candidate): string {
  const gamma = c.kernel === "linear" ? "" : ` gamma=${c.gamma}`;
  return `${c.kernel} C=${c.C}${gamma} classWeight=${c.classWeight ?? "none"} transform=${c.transform}`;
}
