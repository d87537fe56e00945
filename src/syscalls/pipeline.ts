import { join } from "node:path";
import { InputError } from "../core/errors.ts";
import type { Progress } from "../core/progress.ts";
import { disposeAutoencoder } from "../models/autoencoder.ts";
import {
  DEFAULT_MODEL_CONFIG,
  DEFAULT_SEARCH_FILE,
  describeConfig,
  type ModelConfig,
  readModelConfig,
  readSearchConfig,
  resolveModelConfig,
} from "./config.ts";
import { dropEmpty, type TraceSet, toTraceSet, traceCount, traceNames } from "./dataset.ts";
import { evaluateModel, evaluateScores, type SyscallEvaluation, scoreTraceSet } from "./evaluate.ts";
import { loadSyscallModel, type SyscallModel, saveSyscallModel } from "./model.ts";
import { configLabel, writeEvaluationReport, writeSearchReport } from "./report.ts";
import { type RunRecord, readRunRecord, runSearch, type SearchRow } from "./search.ts";
import { type ReadOptions, readTraces } from "./traces/index.ts";
import { trainSyscallModel } from "./train.ts";

/**
 * The syscall detector's commands as library calls: what `threatlens syscalls …` runs, minus argument parsing and
 * printing. Long steps report through a Progress; results come back as data.
 */
export async function loadTraceSet(
  inputs: string[],
  what: string,
  progress: Progress,
  options: ReadOptions & { shared?: boolean } = {},
): Promise<TraceSet> {
  const { traces, stats } = await readTraces(inputs, options);
  const skipped = stats.invalidTokens + stats.invalidLines;
  const { set, dropped } = dropEmpty(toTraceSet(traces, options.shared));
  progress.info(
    `${what}: ${traceCount(set)} traces, ${stats.syscalls} syscalls from ${stats.files} file(s)${skipped > 0 ? `; skipped ${skipped} invalid token(s)/line(s)` : ""}${dropped.length > 0 ? `; ${dropped.length} trace(s) without syscalls left out (${dropped.slice(0, 3).join(", ")}${dropped.length > 3 ? ", …" : ""})` : ""}`,
  );
  if (traceCount(set) === 0) throw new InputError(`no trace with syscalls in ${inputs.join(", ")}`);
  return set;
}

export interface TrainCommandOptions extends ReadOptions {
  output: string;
  config?: string;
  overrides?: Partial<ModelConfig>;
}

export async function trainCommand(
  inputs: string[],
  options: TrainCommandOptions,
  progress: Progress,
): Promise<SyscallModel> {
  const base = options.config ? await readModelConfig(options.config) : DEFAULT_MODEL_CONFIG;
  const config = resolveModelConfig({ ...base, ...stripUndefined(options.overrides ?? {}) }, options.config);
  const normal = await loadTraceSet(inputs, "normal traces", progress, options);
  progress.info(`config: ${describeConfig(config)}`);
  let epochStarted = false;
  const model = await trainSyscallModel(normal, config, inputs, {
    onStage: (m) => progress.info(m),
    onEpoch: (e) => {
      if (!epochStarted) {
        progress.start("training", config.epochs, "epochs");
        epochStarted = true;
      }
      progress.update(e.epoch);
      progress.info(
        `epoch ${e.epoch}/${config.epochs}: training loss ${e.trainLoss.toFixed(4)}, held-out loss ${e.validLoss.toFixed(4)} (${(e.ms / 1000).toFixed(1)} s)`,
      );
    },
  });
  if (epochStarted) progress.stop();
  try {
    await saveSyscallModel(options.output, model);
  } catch (error) {
    disposeAutoencoder(model.network);
    throw error;
  }
  return model;
}

export interface SearchCommandOptions extends ReadOptions {
  train: string[];
  validation: string[];
  attack: string[];
  output: string;
  config?: string;
  workers?: number;
}

export interface SearchCommandResult {
  rows: SearchRow[];
  best: SearchRow;
  skipped: number;
  evaluation: SyscallEvaluation;
  reportPath: string;
}

export async function searchCommand(
  options: SearchCommandOptions,
  progress: Progress,
): Promise<SearchCommandResult> {
  const search = await readSearchConfig(options.config ?? DEFAULT_SEARCH_FILE);
  const shared = { ...options, shared: true };
  const data = {
    train: await loadTraceSet(options.train, "training (normal)", progress, shared),
    validation: await loadTraceSet(options.validation, "validation (normal)", progress, shared),
    attack: await loadTraceSet(options.attack, "attack", progress, shared),
    inputs: { train: options.train, validation: options.validation, attack: options.attack },
  };
  const varied = Object.keys(search.space) as (keyof ModelConfig)[];
  let started = false;
  const result = await runSearch(data, search, {
    outDir: options.output,
    workers: options.workers,
    onStage: (m) => progress.info(m),
    onProgress: (done, total) => {
      if (total === 0) return;
      if (!started) {
        progress.start("grid search", total, "epochs");
        started = true;
      }
      progress.update(done);
    },
    onResult: (row, done, total) => {
      const what =
        row.status === "ok"
          ? `ROC AUC ${row.rocAuc?.toFixed(4)}, PR AUC ${row.prAuc?.toFixed(4)}, ${row.epochsRun} epochs, ${row.trainSeconds?.toFixed(0)} s`
          : `failed: ${row.error}`;
      progress.info(`[${done}/${total}] ${configLabel(row.config, varied)}: ${what}`);
    },
  });
  if (started) progress.stop();

  const runs = new Map<string, RunRecord>();
  for (const row of result.rows)
    if (row.status === "ok") runs.set(row.hash, await readRunRecord(options.output, row.hash));
  const model = await loadSyscallModel(join(options.output, "best"));
  try {
    const run = runs.get(result.best.hash)!;
    const evaluation = evaluateScores(
      Float64Array.from(run.normalScores),
      Float64Array.from(run.attackScores),
      run.attackTypes,
      model.threshold,
    );
    if (run.unknownSyscalls) evaluation.unknownSyscalls = run.unknownSyscalls;
    const reportPath = await writeSearchReport(
      options.output,
      result.rows,
      runs,
      { row: result.best, model, evaluation },
      varied,
    );
    return { rows: result.rows, best: result.best, skipped: result.skipped, evaluation, reportPath };
  } finally {
    disposeAutoencoder(model.network);
  }
}

export interface EvaluateCommandOptions extends ReadOptions {
  model: string;
  normal: string[];
  attack: string[];
  report?: string;
}

export async function evaluateCommand(
  options: EvaluateCommandOptions,
  progress: Progress,
): Promise<{ evaluation: SyscallEvaluation; reportPath?: string }> {
  const model = await loadSyscallModel(options.model);
  try {
    const normal = await loadTraceSet(options.normal, "normal traces", progress, options);
    const attack = await loadTraceSet(options.attack, "attack traces", progress, options);
    const { evaluation, normal: n, attack: a } = evaluateModel(model, normal, attack);
    let reportPath: string | undefined;
    if (options.report) {
      reportPath = await writeEvaluationReport(
        options.report,
        model,
        evaluation,
        n.traceScores,
        a.traceScores,
        {
          normal: options.normal,
          attack: options.attack,
        },
      );
    }
    return { evaluation, reportPath };
  } finally {
    disposeAutoencoder(model.network);
  }
}

export interface TraceVerdict {
  trace: string;
  syscalls: number;
  score: number | null;
  verdict: "anomalous" | "normal" | "empty";
  unknownSyscalls: number;
  /** The window with the highest score: its first syscall's 0-based position in the trace, and its syscalls. */
  mostAnomalousWindow: { position: number; score: number; syscalls: string[] } | null;
}

export async function scoreCommand(
  inputs: string[],
  options: ReadOptions & { model: string },
  progress: Progress,
): Promise<{ threshold: number; traces: TraceVerdict[] }> {
  const model = await loadSyscallModel(options.model);
  try {
    const { traces } = await readTraces(inputs, options);
    const all = toTraceSet(traces);
    const { set } = dropEmpty(all);
    const scored = traceCount(set) > 0 ? scoreTraceSet(model, set) : undefined;
    const byId = new Map(set.ids.map((id, i) => [id, i]));
    const L = model.config.windowLength;
    const verdicts = all.ids.map((id, k): TraceVerdict => {
      const i = byId.get(id);
      if (i === undefined || scored === undefined) {
        return {
          trace: id,
          syscalls: 0,
          score: null,
          verdict: "empty",
          unknownSyscalls: 0,
          mostAnomalousWindow: null,
        };
      }
      const names = traceNames(set, i);
      const from = scored.windowOffsets[i];
      let top = from;
      for (let w = from + 1; w < scored.windowOffsets[i + 1]; w++)
        if (scored.windowScores[w] > scored.windowScores[top]) top = w;
      const position = top - from;
      const score = scored.traceScores[i];
      return {
        trace: all.ids[k],
        syscalls: names.length,
        score,
        verdict: score >= model.threshold ? "anomalous" : "normal",
        unknownSyscalls: scored.unknown[i],
        mostAnomalousWindow: {
          position,
          score: scored.windowScores[top],
          syscalls: names.slice(position, position + L),
        },
      };
    });
    progress.info(
      `${verdicts.filter((v) => v.verdict === "anomalous").length} of ${verdicts.length} traces anomalous (threshold ${model.threshold})`,
    );
    return { threshold: model.threshold, traces: verdicts };
  } finally {
    disposeAutoencoder(model.network);
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
