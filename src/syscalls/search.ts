import { createHash } from "node:crypto";
import { copyFile, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { DIRECTORY_BINARY_FILE, DIRECTORY_METADATA_FILE } from "../core/artifact.ts";
import { csvLine } from "../core/csv.ts";
import { InputError, UsageError } from "../core/errors.ts";
import { expandGrid, selectBest } from "../core/grid.ts";
import { rocAuc } from "../core/metrics.ts";
import { runPool, siblingModule } from "../core/pool.ts";
import {
  configHash,
  DEFAULT_MODEL_CONFIG,
  MODEL_CONFIG_KEYS,
  type ModelConfig,
  progressUnits,
  resolveModelConfig,
  type SearchConfig,
  type SignalName,
} from "./config.ts";
import { type TraceSet, traceCount } from "./dataset.ts";
import { labelled, type RankingMetrics, type SyscallEvaluation } from "./evaluate.ts";
import { writeModelDirectory } from "./model.ts";
import type { SearchOutcome, SearchTask } from "./search-worker.ts";
import { sessionsOf } from "./sessions.ts";

/**
 * The grid search of `syscalls search`: every configuration trains on the normal training traces and is scored on
 * validation normal vs attack traces, in parallel on a worker pool (one configuration per task). Results land in
 * RESULTS_DIR as each finishes:
 *
 *   results.json / results.csv   one row per configuration (rewritten after every result)
 *   runs/<hash>/                 that configuration's model directory and run.json (trace scores per signal, losses)
 *   best/                        the model directory of the best configuration so far (validation ROC AUC)
 *
 * A configuration is keyed by a hash of its resolved settings; a rerun on the same directory skips those with a
 * finished row and model, so an interrupted search resumes where it stopped.
 */
export interface SearchData {
  train: TraceSet;
  validation: TraceSet;
  attack: TraceSet;
  inputs: { train: string[]; validation: string[]; attack: string[] };
}

export interface SearchRow {
  hash: string;
  status: "ok" | "failed";
  config: ModelConfig;
  rocAuc: number | null;
  prAuc: number | null;
  detectionRateAt1Fpr: number | null;
  detectionRateAt5Fpr: number | null;
  threshold: number | null;
  /** FPR and detection rate on validation at the threshold calibrated on held-out training sessions. */
  fprAtThreshold: number | null;
  detectionRateAtThreshold: number | null;
  /** The FPR training promised at the threshold (held-out training sessions). */
  expectedFpr: number | null;
  /** Validation ROC AUC of each signal on its own. */
  signalRocAuc: Partial<Record<SignalName, number>>;
  trainSeconds: number | null;
  evaluateSeconds: number | null;
  epochsRun: number | null;
  error?: string;
}

/** What run.json holds per configuration, for the report. */
export interface RunRecord {
  hash: string;
  history: { epoch: number; trainLoss: number; validLoss: number | null; ms: number }[];
  normalScores: number[];
  attackScores: number[];
  /** Each signal's raw trace scores, normal then attack. */
  signalScores: Partial<Record<SignalName, { normal: number[]; attack: number[] }>>;
  attackTypes: (string | null)[];
  evaluation: SyscallEvaluation;
}

interface ResultsFile {
  format: "threatlens-syscall-search";
  version: 1;
  data: string;
  search: SearchConfig;
  rows: SearchRow[];
}

export interface SearchOptions {
  outDir: string;
  workers?: number;
  onStage?: (message: string) => void;
  onProgress?: (epochsDone: number, epochsTotal: number) => void;
  onResult?: (row: SearchRow, done: number, total: number) => void;
}

export interface SearchResult {
  rows: SearchRow[];
  best: SearchRow;
  skipped: number;
  configurations: ModelConfig[];
  heldOut: HeldOutEstimate | null;
}

/**
 * The best configuration's validation ROC AUC is a selection score: it was picked as the maximum over the grid on
 * the same traces, so it is optimistic. The held-out estimate splits the validation traces in two halves (normal
 * traces by alternate sessions, attack traces by alternate attack runs, i.e. source folders), picks the best
 * configuration on one half, measures it on the other, and averages both directions.
 */
export interface HeldOutEstimate {
  rocAuc: number;
  /** Per direction: the configuration chosen on one half and its ROC AUC on the other. */
  halves: { chosen: string; selectionRocAuc: number; heldOutRocAuc: number }[];
  method: string;
}

/** The configurations of a search: defaults, then `base`, then each point of the `space` grid; duplicates dropped. */
export function searchConfigurations(search: SearchConfig): ModelConfig[] {
  const base = { ...DEFAULT_MODEL_CONFIG, ...search.base };
  const seen = new Set<string>();
  const out: ModelConfig[] = [];
  for (const point of expandGrid(search.space as Record<string, unknown[]>)) {
    let config: ModelConfig;
    try {
      config = resolveModelConfig({ ...base, ...point });
    } catch (error) {
      throw new UsageError(`search configuration ${JSON.stringify(point)}: ${(error as Error).message}`);
    }
    const hash = configHash(config);
    if (!seen.has(hash)) {
      seen.add(hash);
      out.push(config);
    }
  }
  return out;
}

export async function runSearch(
  data: SearchData,
  search: SearchConfig,
  options: SearchOptions,
): Promise<SearchResult> {
  const { outDir } = options;
  const configurations = searchConfigurations(search);
  const fingerprint = dataFingerprint(data);
  const previous = await readResults(outDir, fingerprint);
  const rows = new Map<string, SearchRow>();
  for (const row of previous)
    if (row.status === "ok" && (await hasModel(outDir, row.hash))) rows.set(row.hash, row);
  const pending = configurations.filter((c) => !rows.has(configHash(c)));
  const skipped = configurations.length - pending.length;
  options.onStage?.(
    `${configurations.length} configurations${skipped > 0 ? `, ${skipped} already finished in ${outDir} (skipped)` : ""}`,
  );
  await mkdir(join(outDir, "runs"), { recursive: true });

  const epochsDone = new Int32Array(new SharedArrayBuffer(4));
  const tasks: SearchTask[] = pending.map((config) => ({
    hash: configHash(config),
    config,
    inputs: [...data.inputs.train],
    train: data.train,
    validation: data.validation,
    attack: data.attack,
    epochsDone,
  }));
  options.onStage?.(`${tasks.length} configuration(s) to train`);
  // Progress counts fits: calibration folds plus the final fit per configuration (and autoencoder epochs within).
  const epochsTotal = tasks.reduce((n, t) => n + progressUnits(t.config), 0);
  const timer = setInterval(() => options.onProgress?.(Atomics.load(epochsDone, 0), epochsTotal), 500);
  // Results are written one at a time, in completion order, so files never interleave.
  let writes: Promise<void> = Promise.resolve();
  let done = 0;
  const save = async (outcome: SearchOutcome, config: ModelConfig) => {
    const row = toRow(outcome, config);
    if (outcome.status === "ok") {
      const runDir = join(outDir, "runs", outcome.hash);
      await writeModelDirectory(runDir, outcome.model);
      const record: RunRecord = {
        hash: outcome.hash,
        history: outcome.training.history,
        normalScores: outcome.normalScores,
        attackScores: outcome.attackScores,
        signalScores: outcome.signalScores,
        attackTypes: data.attack.attackTypes,
        evaluation: outcome.evaluation,
      };
      await writeAtomically(join(runDir, "run.json"), JSON.stringify(record));
    }
    rows.set(row.hash, row);
    await writeResults(outDir, fingerprint, search, configurations, rows);
    // best/ follows the search as it goes, so an interrupted search still leaves its best model so far.
    if (row.status === "ok" && bestOf(orderRows(configurations, rows))?.hash === row.hash) {
      await copyModel(join(outDir, "runs", row.hash), join(outDir, "best"));
    }
    options.onResult?.(row, ++done, pending.length);
  };
  try {
    if (tasks.length > 0)
      await runPool<SearchTask, SearchOutcome>(siblingModule(import.meta.url, "search-worker"), tasks, {
        workers: options.workers,
        onResult: (outcome, index) => {
          writes = writes.then(() => save(outcome, tasks[index].config));
        },
      });
    await writes;
  } finally {
    clearInterval(timer);
    await writes.catch(() => undefined);
  }
  options.onProgress?.(epochsTotal, epochsTotal);

  const ordered = orderRows(configurations, rows);
  const best = bestOf(ordered);
  if (best === undefined) {
    const reasons = [...new Set(ordered.map((r) => r.error))].join("; ");
    throw new InputError(`every configuration failed: ${reasons}`);
  }
  await copyModel(join(outDir, "runs", best.hash), join(outDir, "best"));
  const records = new Map<string, RunRecord>();
  for (const row of ordered)
    if (row.status === "ok") records.set(row.hash, await readRunRecord(outDir, row.hash));
  const heldOut = heldOutEstimate(
    ordered,
    records,
    data,
    search.base.sessionLength ?? DEFAULT_MODEL_CONFIG.sessionLength,
  );
  return { rows: ordered, best, skipped, configurations, heldOut };
}

/** See HeldOutEstimate. Null when a half lacks normal or attack traces. */
export function heldOutEstimate(
  rows: readonly SearchRow[],
  records: ReadonlyMap<string, RunRecord>,
  data: SearchData,
  sessionLength: number,
): HeldOutEstimate | null {
  const ok = rows.filter((r) => r.status === "ok" && records.has(r.hash));
  if (ok.length === 0) return null;
  const normalHalf = alternate(sessionsOf(data.validation.sources, sessionLength));
  const attackHalf = alternate(data.attack.sources.map((s) => dirname(s)));
  const aucOn = (record: RunRecord, half: number): number => {
    const n = record.normalScores.filter((_, i) => normalHalf[i] === half);
    const a = record.attackScores.filter((_, i) => attackHalf[i] === half);
    if (n.length === 0 || a.length === 0) return Number.NaN;
    const { y, scores } = labelled(n, a);
    return rocAuc(y, scores);
  };
  const halves: HeldOutEstimate["halves"] = [];
  for (const [select, measure] of [
    [0, 1],
    [1, 0],
  ]) {
    let chosen: SearchRow | undefined;
    let best = Number.NEGATIVE_INFINITY;
    for (const row of ok) {
      const auc = aucOn(records.get(row.hash)!, select);
      if (auc > best) {
        best = auc;
        chosen = row;
      }
    }
    if (chosen === undefined || !Number.isFinite(best)) return null;
    const measured = aucOn(records.get(chosen.hash)!, measure);
    if (!Number.isFinite(measured)) return null;
    halves.push({ chosen: chosen.hash, selectionRocAuc: best, heldOutRocAuc: measured });
  }
  return {
    rocAuc: (halves[0].heldOutRocAuc + halves[1].heldOutRocAuc) / 2,
    halves,
    method: `validation traces split in two halves (normal: alternate sessions of ${sessionLength} consecutive traces; attack: alternate source folders); best configuration chosen on one half, measured on the other; mean of both directions`,
  };
}

/** 0/1 per item, alternating over the distinct keys in order of first appearance. */
function alternate(keys: readonly string[]): Uint8Array {
  const index = new Map<string, number>();
  return Uint8Array.from(keys, (key) => {
    let k = index.get(key);
    if (k === undefined) index.set(key, (k = index.size));
    return k % 2;
  });
}

function toRow(outcome: SearchOutcome, config: ModelConfig): SearchRow {
  const empty = {
    rocAuc: null,
    prAuc: null,
    detectionRateAt1Fpr: null,
    detectionRateAt5Fpr: null,
    threshold: null,
    fprAtThreshold: null,
    detectionRateAtThreshold: null,
    expectedFpr: null,
    signalRocAuc: {},
    trainSeconds: null,
    evaluateSeconds: null,
    epochsRun: null,
  };
  if (outcome.status === "failed")
    return { hash: outcome.hash, status: "failed", config, ...empty, error: outcome.error };
  const e = outcome.evaluation;
  const signalRocAuc: Partial<Record<SignalName, number>> = {};
  for (const [signal, m] of Object.entries(e.signals) as [SignalName, RankingMetrics][])
    signalRocAuc[signal] = m.rocAuc;
  return {
    hash: outcome.hash,
    status: "ok",
    config,
    rocAuc: finiteOrNull(e.rocAuc),
    prAuc: finiteOrNull(e.prAuc),
    detectionRateAt1Fpr: finiteOrNull(e.detectionRateAtFpr["0.01"]),
    detectionRateAt5Fpr: finiteOrNull(e.detectionRateAtFpr["0.05"]),
    threshold: e.threshold,
    fprAtThreshold: e.fprAtThreshold,
    detectionRateAtThreshold: e.detectionRateAtThreshold,
    expectedFpr: e.expectedFpr.rate,
    signalRocAuc,
    trainSeconds: outcome.training.trainSeconds,
    evaluateSeconds: outcome.evaluateSeconds,
    epochsRun: outcome.training.history.length,
  };
}

function finiteOrNull(v: number): number | null {
  return Number.isFinite(v) ? v : null;
}

/** The best finished row by validation ROC AUC, then PR AUC; ties keep grid order. */
function bestOf(rows: readonly SearchRow[]): SearchRow | undefined {
  const ok = rows.filter((r) => r.status === "ok");
  return ok.length === 0 ? undefined : ok[selectBest(ok.map(rankingMetrics), ["rocAuc", "prAuc"])];
}

function rankingMetrics(row: SearchRow): Record<string, number> {
  return { rocAuc: row.rocAuc ?? Number.NaN, prAuc: row.prAuc ?? Number.NaN };
}

/** Rows in configuration order (the order of the grid), configurations without a row left out. */
function orderRows(configurations: ModelConfig[], rows: Map<string, SearchRow>): SearchRow[] {
  return configurations.flatMap((c) => rows.get(configHash(c)) ?? []);
}

/**
 * Identity of the input data: resuming a search on other traces would mix incomparable rows, so it is refused.
 */
function dataFingerprint(data: SearchData): string {
  const hash = createHash("sha256");
  for (const set of [data.train, data.validation, data.attack]) {
    hash.update(`${traceCount(set)}\0${set.tokens.length}\0`);
    for (const id of set.ids) hash.update(`${id}\0`);
  }
  return hash.digest("hex").slice(0, 16);
}

async function readResults(outDir: string, fingerprint: string): Promise<SearchRow[]> {
  const file = join(outDir, "results.json");
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    return [];
  }
  let parsed: ResultsFile;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new InputError(`cannot resume: results.json is not valid JSON (${(error as Error).message})`, {
      file,
    });
  }
  if (parsed?.format !== "threatlens-syscall-search" || !Array.isArray(parsed.rows)) {
    throw new InputError("cannot resume: not a syscall search results file", { file });
  }
  if (parsed.data !== fingerprint) {
    throw new UsageError(
      `${outDir} holds a search on other input traces; resume with the same --train/--validation/--attack or use a new results directory`,
    );
  }
  return parsed.rows;
}

async function hasModel(outDir: string, hash: string): Promise<boolean> {
  try {
    await readFile(join(outDir, "runs", hash, DIRECTORY_METADATA_FILE));
    return true;
  } catch {
    return false;
  }
}

async function writeResults(
  outDir: string,
  fingerprint: string,
  search: SearchConfig,
  configurations: ModelConfig[],
  rows: Map<string, SearchRow>,
): Promise<void> {
  const ordered = orderRows(configurations, rows);
  // Rows of configurations no longer in the grid are kept: the directory remains a record of everything run.
  const current = new Set(ordered.map((r) => r.hash));
  const all = [...ordered, ...[...rows.values()].filter((r) => !current.has(r.hash))];
  const file: ResultsFile = {
    format: "threatlens-syscall-search",
    version: 1,
    data: fingerprint,
    search,
    rows: all,
  };
  await writeAtomically(join(outDir, "results.json"), `${JSON.stringify(file, null, 2)}\n`);
  await writeAtomically(join(outDir, "results.csv"), resultsCsv(all));
}

export const CSV_METRICS = [
  "rocAuc",
  "prAuc",
  "detectionRateAt1Fpr",
  "detectionRateAt5Fpr",
  "threshold",
  "fprAtThreshold",
  "detectionRateAtThreshold",
  "expectedFpr",
  "trainSeconds",
  "evaluateSeconds",
  "epochsRun",
] as const;

export function resultsCsv(rows: readonly SearchRow[]): string {
  const signals = [...new Set(rows.flatMap((r) => Object.keys(r.signalRocAuc)))].sort() as SignalName[];
  const header = [
    "hash",
    "status",
    ...MODEL_CONFIG_KEYS,
    ...CSV_METRICS,
    ...signals.map((s) => `rocAuc_${s}`),
    "error",
  ];
  const lines = rows.map((r) =>
    csvLine([
      r.hash,
      r.status,
      ...MODEL_CONFIG_KEYS.map((k) => {
        const v = r.config[k];
        return Array.isArray(v) ? v.join("-") : v;
      }),
      ...CSV_METRICS.map((k) => r[k] ?? ""),
      ...signals.map((s) => r.signalRocAuc[s] ?? ""),
      r.error ?? "",
    ]),
  );
  return `${[csvLine(header), ...lines].join("\n")}\n`;
}

async function writeAtomically(path: string, text: string): Promise<void> {
  await writeFile(`${path}.tmp`, text);
  await rename(`${path}.tmp`, path);
}

/** Copies a model directory: weights first, metadata last, each via a temporary name. */
async function copyModel(from: string, to: string): Promise<void> {
  await mkdir(to, { recursive: true });
  for (const name of [DIRECTORY_BINARY_FILE, DIRECTORY_METADATA_FILE]) {
    await copyFile(join(from, name), join(to, `${name}.tmp`));
    await rename(join(to, `${name}.tmp`), join(to, name));
  }
}

export async function readRunRecord(outDir: string, hash: string): Promise<RunRecord> {
  const file = join(outDir, "runs", hash, "run.json");
  try {
    return JSON.parse(await readFile(file, "utf8")) as RunRecord;
  } catch (error) {
    throw new InputError(`cannot read the run record: ${(error as Error).message}`, { file });
  }
}
