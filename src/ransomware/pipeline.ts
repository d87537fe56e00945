import { mkdir, writeFile } from "node:fs/promises";
import { basename, dirname, resolve, sep } from "node:path";
import { readArtifactIdentity } from "../core/artifact.ts";
import { UsageError } from "../core/errors.ts";
import { countProgress, type Progress } from "../core/progress.ts";
import { evaluateRansomwareModel, type RansomwareEvaluation, scoreProcesses } from "./evaluate.ts";
import { logName } from "./extract.ts";
import { FEATURE_NAMES, type ProcessFeatures, rowKey } from "./features.ts";
import { DEFAULT_GRID_FILE, type GridConfig, REFERENCE_GRID_FILE, readGridConfig } from "./grid-config.ts";
import { classifyInputs, type LoadedInputs, loadProcessFeatures } from "./inputs.ts";
import { type Labels, readAuthorsLabels, readLabels } from "./labels.ts";
import { alignToModel, loadRansomwareModel, type RansomwareModel, saveRansomwareModel } from "./model.ts";
import { RansomwareScorer } from "./scorer.ts";
import { readFeatureTable } from "./table.ts";
import { attachLabels, type LabelledRows, type TrainResult, trainRansomwareModel } from "./train.ts";
import { watchRansomware } from "./watch.ts";

/**
 * The ransomware detector's commands as library calls: what `threatlens ransomware …` runs, minus argument
 * parsing and printing. Each reports long steps through a Progress and returns data for the caller to print.
 */
export interface InputOptions {
  windowMs?: number;
  skipInvalid?: boolean;
  /** Snapshots of processes part-way through their lives, besides whole processes (training for live scoring). */
  snapshots?: boolean;
  /** Rows for the children of each parent taken together, as `watch` tracks them (logs with a PPID column). */
  groups?: boolean;
}

export async function loadInputs(
  inputs: string[],
  options: InputOptions,
  progress: Progress,
): Promise<LoadedInputs> {
  let started = false;
  const loaded = await loadProcessFeatures(inputs, {
    windowMs: options.windowMs,
    skipInvalid: options.skipInvalid,
    snapshots: options.snapshots,
    groups: options.groups,
    onProgress: (done, total) => {
      if (!started) {
        progress.start("reading event logs", Math.ceil(total / 1048576), "MiB");
        started = true;
      }
      progress.update(Math.floor(done / 1048576));
    },
  });
  if (started) progress.stop();
  if (loaded.extract) {
    const s = loaded.extract;
    progress.info(`read ${s.events} events of ${s.processes} processes from ${s.logs} log(s)`);
    if (s.skippedRows > 0) {
      progress.warn(`skipped ${s.skippedRows} invalid row(s), e.g.:\n  ${s.skippedExamples.join("\n  ")}`);
    }
  }
  reportSkippedFiles(loaded.skippedFiles, progress);
  for (const t of loaded.tables) {
    progress.info(
      `read ${t.rows} processes from the ${t.format} feature table ${t.file}; ${t.missingColumns.length} schema feature(s) absent and set to 0, ${t.ignoredColumns.length} column(s) not in the schema ignored${t.ignoredColumns.length ? ` (${t.ignoredColumns.join(", ")})` : ""}`,
    );
  }
  return loaded;
}

export interface LabelSource {
  labels?: string;
  authorsLabels?: string;
}

export async function loadLabels(source: LabelSource): Promise<Labels> {
  if (source.labels && source.authorsLabels)
    throw new UsageError("give --labels or --authors-labels, not both");
  if (source.labels) return readLabels(source.labels);
  if (source.authorsLabels) return readAuthorsLabels(source.authorsLabels);
  throw new UsageError(
    "labels are required: --labels LABELS.csv (or --authors-labels for the authors' table)",
  );
}

export interface TrainCommandOptions extends InputOptions, LabelSource {
  output: string;
  config?: string;
  referenceGrid?: boolean;
  overrides?: Partial<Pick<GridConfig, "folds" | "cv" | "selection" | "seed">>;
  workers?: number;
  report?: string;
}

export async function trainCommand(
  inputs: string[],
  options: TrainCommandOptions,
  progress: Progress,
): Promise<TrainResult & { unmatchedLabels: string[]; reportPath?: string }> {
  if (options.config && options.referenceGrid)
    throw new UsageError("give --config or --reference-grid, not both");
  const base = await readGridConfig(
    options.config ?? (options.referenceGrid ? REFERENCE_GRID_FILE : DEFAULT_GRID_FILE),
  );
  const config: GridConfig = { ...base, ...stripUndefined(options.overrides ?? {}) };
  const live = options.snapshots ?? true;
  const loaded = await loadInputs(inputs, { ...options, snapshots: live, groups: live }, progress);
  const labels = await loadLabels(options);
  const data = attachLabels(loaded.rows, labels);
  reportLabels(data, progress);
  const table = loaded.tables[0];
  const result = await trainRansomwareModel(data, {
    config,
    workers: options.workers,
    windowMs: options.windowMs,
    inputs,
    missingColumns: table?.missingColumns,
    ignoredColumns: table?.ignoredColumns,
    onStage: (m) => progress.info(m),
    onProgress: countProgress(progress, "grid search", "candidates"),
  });
  await mkdir(dirname(options.output), { recursive: true });
  await saveRansomwareModel(options.output, result.model);
  let reportPath: string | undefined;
  if (options.report) {
    // Loaded only for a report: the chart stack (Vega, resvg) takes about half a second to load.
    const { writeTrainingReport } = await import("./report.ts");
    reportPath = await writeTrainingReport(
      options.report,
      result.model,
      result.results,
      result.best,
      result.y,
    );
  }
  return { ...result, unmatchedLabels: data.unmatchedLabels, reportPath };
}

export interface EvaluateCommandOptions extends InputOptions, LabelSource {
  model: string;
  report?: string;
  importanceRepeats?: number;
  seed?: number;
}

export async function evaluateCommand(
  inputs: string[],
  options: EvaluateCommandOptions,
  progress: Progress,
): Promise<{ evaluation: RansomwareEvaluation; unmatchedLabels: string[]; reportPath?: string }> {
  const model = await loadRansomwareModel(options.model);
  // Groups of children too: watch alerts on them, so their false alarms count.
  const loaded = await loadInputs(
    inputs,
    { ...options, windowMs: options.windowMs ?? model.windowMs, groups: true },
    progress,
  );
  const labels = await loadLabels(options);
  const data = attachLabels(loaded.rows, labels);
  reportLabels(data, progress);
  reportTrainingOverlap(model, [...loaded.logs, ...loaded.tables.map((t) => t.file)], progress);
  reportAlignment(model, progress);
  const liveScores = await liveScoresOf(
    options.model,
    model,
    loaded.logs,
    data.rows,
    options.skipInvalid,
    progress,
  );
  const { evaluation, scores } = evaluateRansomwareModel(model, data.rows, data.y, {
    liveScores,
    importanceRepeats: options.importanceRepeats,
    seed: options.seed,
    onImportanceProgress: countProgress(progress, "feature importance", "features"),
  });
  let reportPath: string | undefined;
  if (options.report) {
    const { writeEvaluationReport } = await import("./report.ts");
    reportPath = await writeEvaluationReport(options.report, evaluation, model, inputs, scores, data.y);
  }
  return { evaluation, unmatchedLabels: data.unmatchedLabels, reportPath };
}

export interface Prediction {
  log: string;
  pid: number;
  /** Start of the process (exact TS of its first event); empty for rows of feature tables. */
  firstTs: string;
  /** The verdict's score: the highest score the live detector gave the process over its life. */
  score: number;
  /** The score of the whole process (its features at its end). */
  finalScore: number;
  label: "ransomware" | "benign";
  events: number;
}

/**
 * Verdicts per process. Event logs are replayed through the same engine and schedule as `ransomware watch`, and a
 * process is ransomware when the watch would have alerted on it (its score crossed the threshold at some point), so
 * `predict` and `watch` agree by construction. Feature tables hold whole processes only: scored once.
 */
export async function predictCommand(
  inputs: string[],
  options: InputOptions & { model: string },
  progress: Progress,
): Promise<{ predictions: Prediction[]; model: RansomwareModel; summary: PredictSummary }> {
  const model = await loadRansomwareModel(options.model);
  if (options.windowMs !== undefined && options.windowMs !== model.windowMs) {
    throw new UsageError(
      `the model was trained with --window-ms ${model.windowMs}; predictions must use the same window`,
    );
  }
  const { logs, tableFiles, skippedFiles } = await classifyInputs(inputs, options.skipInvalid);
  reportSkippedFiles(skippedFiles, progress);
  reportAlignment(model, progress);
  const predictions: Prediction[] = [];
  const eventsColumn = FEATURE_NAMES.indexOf("events");
  const buffer = new Float64Array(FEATURE_NAMES.length);
  let summary: PredictSummary = {
    logs: logs.length,
    events: 0,
    skippedRows: 0,
    skippedExamples: [],
    skippedFiles,
  };
  if (logs.length > 0) {
    const scorer = new RansomwareScorer(model, await readArtifactIdentity(options.model));
    const { summary: run } = await watchRansomware({
      model: options.model,
      input: { kind: "logs", paths: logs },
      stdout: null,
      strict: !options.skipInvalid,
      strictHint: SKIP_HINT,
      onWarning: (m) => progress.warn(m),
      onEnded: (e) => {
        if (e.group) return;
        const values = e.state.write(buffer);
        const finalScore = scorer.score(values);
        predictions.push({
          log: e.log,
          pid: e.pid,
          firstTs: e.state.firstTs(),
          score: e.maxScore,
          finalScore,
          label: e.maxScore >= model.threshold ? "ransomware" : "benign",
          events: values[eventsColumn],
        });
      },
    });
    summary = {
      ...summary,
      events: run.records,
      skippedRows: run.skippedLines,
      skippedExamples: run.skippedExamples,
    };
    progress.info(`read ${run.records} events of ${predictions.length} processes from ${logs.length} log(s)`);
    if (run.skippedLines > 0) {
      progress.warn(
        `skipped ${run.skippedLines} invalid row(s), e.g.:\n  ${run.skippedExamples.join("\n  ")}`,
      );
    }
  }
  for (const file of tableFiles) {
    const table = await readFeatureTable(file);
    const { scores } = scoreProcesses(model, table.rows);
    table.rows.forEach((r, i) => {
      predictions.push({
        log: r.log,
        pid: r.pid,
        firstTs: r.firstTs,
        score: scores[i],
        finalScore: scores[i],
        label: scores[i] >= model.threshold ? "ransomware" : "benign",
        events: eventsColumn >= 0 ? r.values[eventsColumn] : Number.NaN,
      });
    });
  }
  const order = new Map(logs.map((p, i) => [logName(p), i]));
  predictions.sort(
    (a, b) =>
      (order.get(a.log) ?? -1) - (order.get(b.log) ?? -1) ||
      a.pid - b.pid ||
      a.firstTs.localeCompare(b.firstTs),
  );
  return { predictions, model, summary };
}

export interface PredictSummary {
  logs: number;
  events: number;
  skippedRows: number;
  skippedExamples: string[];
  /** CSV files in input directories that are neither logs nor feature tables. */
  skippedFiles: string[];
}

/**
 * For rows that came from event logs, the highest score the live detector gives each process over its life (a replay
 * through `watch`'s engine); rows of feature tables keep their whole-process score. Undefined when no row came from a
 * log.
 */
async function liveScoresOf(
  modelPath: string,
  model: RansomwareModel,
  logs: string[],
  rows: readonly ProcessFeatures[],
  skipInvalid: boolean | undefined,
  progress: Progress,
): Promise<Float64Array | undefined> {
  if (logs.length === 0) return undefined;
  const live = new Map<string, number>();
  await watchRansomware({
    model: modelPath,
    input: { kind: "logs", paths: logs },
    stdout: null,
    strict: !skipInvalid,
    strictHint: SKIP_HINT,
    onWarning: () => {},
    onEnded: (e) => {
      live.set(rowKey(e.log, e.pid, e.state.firstTs(), e.generation), e.maxScore);
    },
  });
  const { scores } = scoreProcesses(model, rows);
  const out = Float64Array.from(scores);
  rows.forEach((r, i) => {
    const score = live.get(rowKey(r.log, r.pid, r.firstTs, r.children ? (r.generation ?? 1) : 0));
    if (score !== undefined) out[i] = score;
  });
  progress.info(
    `scored ${live.size} processes (and groups of children and grandchildren) from logs as the live detector does: the highest score over each life`,
  );
  return out;
}

const SKIP_HINT = "(use --skip-invalid to skip such rows)";

function reportLabels(data: LabelledRows, progress: Progress): void {
  if (data.unmatchedLabels.length > 0) {
    progress.warn(
      `${data.unmatchedLabels.length} label(s) name no process in the inputs and were not used: ${data.unmatchedLabels.slice(0, 8).join(", ")}${data.unmatchedLabels.length > 8 ? ", …" : ""}`,
    );
  }
  if (data.otherLogs.length > 0) {
    progress.warn(
      `the labels name ${data.otherLogs.length} log(s) that are not among the inputs, so their labels were not used: ${data.otherLogs.slice(0, 8).join(", ")}${data.otherLogs.length > 8 ? ", …" : ""}`,
    );
  }
}

/** Warns when a model is evaluated on (some of) the inputs it was trained on: such figures say nothing of new data. */
function reportTrainingOverlap(model: RansomwareModel, logs: readonly string[], progress: Progress): void {
  const trained = model.training.inputs.map((p) => resolve(p));
  const overlap = logs.filter((log) => {
    const path = resolve(log);
    return trained.some((t) => path === t || path.startsWith(`${t}${sep}`));
  });
  if (overlap.length > 0) {
    progress.warn(
      `${overlap.length} of the ${logs.length} evaluated input file(s) were among the model's training inputs (${overlap
        .slice(0, 3)
        .map((p) => basename(p))
        .join(
          ", ",
        )}${overlap.length > 3 ? ", …" : ""}): these figures measure the model on data it has seen, not on new data`,
    );
  }
}

function reportSkippedFiles(skippedFiles: string[], progress: Progress): void {
  if (skippedFiles.length > 0) {
    progress.warn(
      `ignored ${skippedFiles.length} CSV file(s) in input directories that are neither logs nor feature tables: ${skippedFiles.join(", ")}`,
    );
  }
}

function reportAlignment(model: RansomwareModel, progress: Progress): void {
  const { missing, extra } = alignToModel(model, []);
  if (missing.length > 0 || extra.length > 0) {
    progress.warn(
      `feature alignment: ${missing.length} model feature(s) unknown to this version were set to 0${missing.length ? ` (${missing.join(", ")})` : ""}; ${extra.length} current feature(s) not in the model were ignored`,
    );
  }
}

export async function writeText(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, text);
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
