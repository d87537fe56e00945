import { join } from "node:path";
import { InputError } from "../core/errors.ts";
import type { Progress } from "../core/progress.ts";
import {
  configLabel,
  DEFAULT_MODEL_CONFIG,
  DEFAULT_SEARCH_FILE,
  describeConfig,
  type ModelConfig,
  progressUnits,
  readModelConfig,
  readSearchConfig,
  resolveModelConfig,
} from "./config.ts";
import { dropEmpty, type TraceSet, toTraceSet, traceCount } from "./dataset.ts";
import { Tails } from "./detector.ts";
import { evaluateModel, type ScoredTrace, type SyscallEvaluation, scoreTraceSet } from "./evaluate.ts";
import { disposeModel, loadSyscallModel, type SyscallModel, saveSyscallModel } from "./model.ts";
import { type HeldOutEstimate, type RunRecord, readRunRecord, runSearch, type SearchRow } from "./search.ts";
import { type ReadOptions, type ReadStats, readTraces } from "./traces/index.ts";
import { trainSyscallModel } from "./train.ts";

/**
 * The syscall detector's commands as library calls: what `threatlens syscalls …` runs, minus argument parsing and
 * printing. Long steps report through a Progress; results come back as data, with what reading skipped (counts and
 * warnings) so that nothing dropped goes unreported in text or JSON output.
 */

/** What reading inputs skipped or could not use, for the `skipped` and `warnings` fields of every output. */
export interface ReadReport {
  skipped: {
    /** Tokens dropped under --skip-invalid (malformed, out-of-range numbers). */
    invalidTokens: number;
    /** strace/collector lines dropped under --skip-invalid. */
    invalidLines: number;
    /** strace calls printed as `???`. */
    unknownSyscalls: number;
    /** Traces without any syscall, left out. */
    emptyTraces: number;
  };
  /** Names that are in no shipped syscall table (kept: they score as unknown syscalls). */
  unrecognisedNames: number;
  warnings: string[];
}

export function emptyReadReport(): ReadReport {
  return {
    skipped: { invalidTokens: 0, invalidLines: 0, unknownSyscalls: 0, emptyTraces: 0 },
    unrecognisedNames: 0,
    warnings: [],
  };
}

function addStats(report: ReadReport, stats: ReadStats, empty: string[], what: string): void {
  report.skipped.invalidTokens += stats.invalidTokens;
  report.skipped.invalidLines += stats.invalidLines;
  report.skipped.unknownSyscalls += stats.unknownSyscalls;
  report.skipped.emptyTraces += empty.length;
  report.unrecognisedNames += stats.unrecognisedNames;
  const skipped = stats.invalidTokens + stats.invalidLines;
  if (skipped > 0)
    report.warnings.push(
      `${what}: skipped ${stats.invalidTokens} invalid token(s) and ${stats.invalidLines} invalid line(s)`,
    );
  if (stats.unknownSyscalls > 0)
    report.warnings.push(`${what}: ${stats.unknownSyscalls} call(s) strace printed as ??? left out`);
  if (stats.unrecognisedNames > 0)
    report.warnings.push(
      `${what}: ${stats.unrecognisedNames} syscall name(s) in no shipped syscall table (kept; they score as unknown syscalls)`,
    );
  if (empty.length > 0)
    report.warnings.push(
      `${what}: ${empty.length} trace(s) without syscalls left out (${empty.slice(0, 3).join(", ")}${empty.length > 3 ? ", …" : ""})`,
    );
  report.warnings.push(...stats.warnings.map((w) => `${what}: ${w}`));
}

export async function loadTraceSet(
  inputs: string[],
  what: string,
  progress: Progress,
  options: ReadOptions & { shared?: boolean } = {},
  report: ReadReport = emptyReadReport(),
): Promise<TraceSet> {
  const { traces, stats } = await readTraces(inputs, options);
  const { set, dropped } = dropEmpty(toTraceSet(traces, options.shared));
  const before = report.warnings.length;
  addStats(report, stats, dropped, what);
  progress.info(`${what}: ${traceCount(set)} traces, ${stats.syscalls} syscalls from ${stats.files} file(s)`);
  for (const warning of report.warnings.slice(before)) progress.warn(warning);
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
): Promise<{ model: SyscallModel; read: ReadReport }> {
  const base = options.config ? await readModelConfig(options.config) : DEFAULT_MODEL_CONFIG;
  const config = resolveModelConfig({ ...base, ...stripUndefined(options.overrides ?? {}) }, options.config);
  const read = emptyReadReport();
  const normal = await loadTraceSet(inputs, "normal traces", progress, options, read);
  progress.info(`config: ${describeConfig(config)}`);
  progress.start("training", progressUnits(config), "fits and epochs");
  const model = await trainSyscallModel(
    normal,
    config,
    inputs,
    {
      onStage: (m) => progress.info(m),
      onProgress: (done) => progress.update(done),
      onEpoch: (fit, e) =>
        progress.info(
          `${fit}: epoch ${e.epoch}/${config.epochs}: training loss ${e.trainLoss.toFixed(4)}, held-out loss ${e.validLoss.toFixed(4)} (${(e.ms / 1000).toFixed(1)} s)`,
        ),
    },
    { skipped: { ...read.skipped, unrecognisedNames: read.unrecognisedNames }, warnings: read.warnings },
  );
  progress.stop();
  for (const warning of model.calibration.warnings) progress.warn(warning);
  try {
    await saveSyscallModel(options.output, model);
  } catch (error) {
    disposeModel(model);
    throw error;
  }
  return { model, read };
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
  heldOut: HeldOutEstimate | null;
  reportPath: string;
  read: ReadReport;
}

export async function searchCommand(
  options: SearchCommandOptions,
  progress: Progress,
): Promise<SearchCommandResult> {
  const search = await readSearchConfig(options.config ?? DEFAULT_SEARCH_FILE);
  const shared = { ...options, shared: true };
  const read = emptyReadReport();
  const data = {
    train: await loadTraceSet(options.train, "training (normal)", progress, shared, read),
    validation: await loadTraceSet(options.validation, "validation (normal)", progress, shared, read),
    attack: await loadTraceSet(options.attack, "attack", progress, shared, read),
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
        progress.start("grid search", total, "fits and epochs");
        started = true;
      }
      progress.update(done);
    },
    onResult: (row, done, total) => {
      const what =
        row.status === "ok"
          ? `ROC AUC ${row.rocAuc?.toFixed(4)}, PR AUC ${row.prAuc?.toFixed(4)}, ${row.trainSeconds?.toFixed(1)} s`
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
    const evaluation = runs.get(result.best.hash)!.evaluation;
    const { writeSearchReport } = await import("./report.ts");
    const reportPath = await writeSearchReport(
      options.output,
      result.rows,
      runs,
      { row: result.best, model, evaluation },
      varied,
      result.heldOut,
    );
    return {
      rows: result.rows,
      best: result.best,
      skipped: result.skipped,
      evaluation,
      heldOut: result.heldOut,
      reportPath,
      read,
    };
  } finally {
    disposeModel(model);
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
): Promise<{ evaluation: SyscallEvaluation; reportPath?: string; read: ReadReport }> {
  const model = await loadSyscallModel(options.model);
  try {
    const read = emptyReadReport();
    const normal = await loadTraceSet(options.normal, "normal traces", progress, options, read);
    const attack = await loadTraceSet(options.attack, "attack traces", progress, options, read);
    const overlap = trainingOverlap(model, [...options.normal, ...options.attack]);
    if (overlap !== null) {
      read.warnings.push(overlap);
      progress.warn(overlap);
    }
    const { evaluation, normal: n, attack: a } = evaluateModel(model, normal, attack);
    let reportPath: string | undefined;
    if (options.report) {
      const { writeEvaluationReport } = await import("./report.ts");
      reportPath = await writeEvaluationReport(options.report, model, evaluation, n, a, {
        normal: options.normal,
        attack: options.attack,
      });
    }
    return { evaluation, reportPath, read };
  } finally {
    disposeModel(model);
  }
}

/** A warning when evaluation inputs include the model's recorded training inputs (scores there are optimistic). */
function trainingOverlap(model: SyscallModel, inputs: string[]): string | null {
  const trained = new Set(model.training.inputs.map((p) => join(p)));
  const shared = inputs.filter((p) => trained.has(join(p)));
  return shared.length === 0
    ? null
    : `evaluation inputs include the model's own training traces (${shared.join(", ")}): scores on them are optimistic`;
}

export interface TraceVerdict extends ScoredTrace {
  verdict: "anomalous" | "normal" | "empty";
}

export async function scoreCommand(
  inputs: string[],
  options: ReadOptions & { model: string },
  progress: Progress,
): Promise<{ threshold: number; traces: TraceVerdict[]; read: ReadReport }> {
  const model = await loadSyscallModel(options.model);
  try {
    const read = emptyReadReport();
    const { traces, stats } = await readTraces(inputs, options);
    const all = toTraceSet(traces);
    const { set, dropped } = dropEmpty(all);
    addStats(read, stats, dropped, "traces");
    for (const warning of read.warnings) progress.warn(warning);
    const scored = traceCount(set) > 0 ? scoreTraceSet(model, set, new Tails(model.calibration)) : [];
    const byId = new Map(scored.map((t) => [t.trace, t]));
    const threshold = model.calibration.threshold;
    const verdicts = all.ids.map((id): TraceVerdict => {
      const t = byId.get(id);
      if (t === undefined) {
        return {
          trace: id,
          syscalls: 0,
          profile: null,
          signals: {},
          probabilities: {},
          score: Number.NaN,
          tailProbability: 1,
          unknownSyscalls: 0,
          evidence: { unlikeliest: null, firstNovelWindow: null, newInRepertoire: [], unknownSyscalls: [] },
          verdict: "empty",
        };
      }
      return { ...t, verdict: t.score >= threshold ? "anomalous" : "normal" };
    });
    progress.info(
      `${verdicts.filter((v) => v.verdict === "anomalous").length} of ${verdicts.length} traces anomalous (threshold ${threshold.toFixed(3)})`,
    );
    return { threshold, traces: verdicts, read };
  } finally {
    disposeModel(model);
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
