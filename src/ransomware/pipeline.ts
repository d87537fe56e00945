import { mkdir, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { UsageError } from "../core/errors.ts";
import { countProgress, type Progress } from "../core/progress.ts";
import { evaluateRansomwareModel, type RansomwareEvaluation, scoreProcesses } from "./evaluate.ts";
import type { ProcessFeatures } from "./features.ts";
import { DEFAULT_GRID_FILE, type GridConfig, REFERENCE_GRID_FILE, readGridConfig } from "./grid-config.ts";
import { type LoadedInputs, loadProcessFeatures } from "./inputs.ts";
import { type Labels, readAuthorsLabels, readLabels } from "./labels.ts";
import { alignToModel, loadRansomwareModel, type RansomwareModel, saveRansomwareModel } from "./model.ts";
import { writeEvaluationReport, writeTrainingReport } from "./report.ts";
import { attachLabels, type TrainResult, trainRansomwareModel } from "./train.ts";

/**
 * The ransomware detector's commands as library calls: what `threatlens ransomware …` runs, minus argument
 * parsing and printing. Each reports long steps through a Progress and returns data for the caller to print.
 */
export interface InputOptions {
  windowMs?: number;
  skipInvalid?: boolean;
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
      progress.info(`skipped ${s.skippedRows} invalid row(s), e.g.:\n  ${s.skippedExamples.join("\n  ")}`);
    }
  }
  if (loaded.skippedFiles.length > 0) {
    progress.info(
      `ignored ${loaded.skippedFiles.length} CSV file(s) in input directories that are neither logs nor feature tables: ${loaded.skippedFiles.join(", ")}`,
    );
  }
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
  const loaded = await loadInputs(inputs, options, progress);
  const labels = await loadLabels(options);
  const data = attachLabels(loaded.rows, labels);
  if (data.unmatchedLabels.length > 0) {
    progress.info(
      `${data.unmatchedLabels.length} label(s) name no process in the inputs and were not used: ${data.unmatchedLabels.slice(0, 8).join(", ")}${data.unmatchedLabels.length > 8 ? ", …" : ""}`,
    );
  }
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
    reportPath = await writeTrainingReport(options.report, result.model, result.results, result.best, data.y);
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
  const loaded = await loadInputs(
    inputs,
    { ...options, windowMs: options.windowMs ?? model.windowMs },
    progress,
  );
  const labels = await loadLabels(options);
  const data = attachLabels(loaded.rows, labels);
  reportAlignment(model, progress);
  const { evaluation, scores } = evaluateRansomwareModel(model, data.rows, data.y, {
    importanceRepeats: options.importanceRepeats,
    seed: options.seed,
    onImportanceProgress: countProgress(progress, "feature importance", "features"),
  });
  let reportPath: string | undefined;
  if (options.report)
    reportPath = await writeEvaluationReport(options.report, evaluation, model, inputs, scores, data.y);
  return { evaluation, unmatchedLabels: data.unmatchedLabels, reportPath };
}

export interface Prediction {
  log: string;
  pid: number;
  score: number;
  label: "ransomware" | "benign";
  events: number;
}

export async function predictCommand(
  inputs: string[],
  options: InputOptions & { model: string },
  progress: Progress,
): Promise<{ predictions: Prediction[]; model: RansomwareModel }> {
  const model = await loadRansomwareModel(options.model);
  const loaded = await loadInputs(
    inputs,
    { ...options, windowMs: options.windowMs ?? model.windowMs },
    progress,
  );
  reportAlignment(model, progress);
  const { scores } = scoreProcesses(model, loaded.rows);
  const eventsColumn = model.featureNames.indexOf("events");
  const predictions = loaded.rows.map((r: ProcessFeatures, i) => ({
    log: r.log,
    pid: r.pid,
    score: scores[i],
    label: scores[i] >= model.threshold ? ("ransomware" as const) : ("benign" as const),
    events: eventsColumn >= 0 ? r.values[eventsColumn] : Number.NaN,
  }));
  return { predictions, model };
}

function reportAlignment(model: RansomwareModel, progress: Progress): void {
  const { missing, extra } = alignToModel(model, []);
  if (missing.length > 0 || extra.length > 0) {
    progress.info(
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
