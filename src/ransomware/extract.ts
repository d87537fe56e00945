import { stat } from "node:fs/promises";
import { basename } from "node:path";
import { InputError } from "../core/errors.ts";
import type { Scorer } from "../core/stream/detector.ts";
import { StreamEngine } from "../core/stream/engine.ts";
import { FileLineSource } from "../core/stream/line-sources.ts";
import { StreamRun } from "../core/stream/run.ts";
import {
  type ProcessEntity,
  RANSOMWARE_SCHEDULE,
  RansomwareDetector,
  type RansomwareDetectorOptions,
} from "./detector.ts";
import type { FileEvent } from "./events.ts";
import { FEATURE_NAMES, type ProcessFeatures } from "./features.ts";
import { eventLogParser } from "./stream.ts";

export interface ExtractOptions extends RansomwareDetectorOptions {
  skipInvalid?: boolean;
  /**
   * Also take snapshots of each process part-way through its life — after 8, 16, 32, … events, at the live
   * detector's scoring moments — so that a model can learn what a process looks like when `watch` first scores it.
   */
  snapshots?: boolean;
  /** Also rows for the children of each parent taken together (logs with a PPID column), as `watch` tracks them. */
  groups?: boolean;
  /** Progress in bytes over all files. */
  onProgress?: (bytesDone: number, bytesTotal: number) => void;
}

export interface ExtractSummary {
  logs: number;
  events: number;
  processes: number;
  skippedRows: number;
  skippedExamples: string[];
}

/** The name under which a log's processes are identified (and labelled): its file name. */
export function logName(path: string): string {
  return basename(path);
}

/** Refuses two logs with one file name: processes are identified by (log name, PID). */
export function checkLogNames(logPaths: readonly string[]): void {
  const seen = new Map<string, string>();
  for (const path of logPaths) {
    const name = logName(path);
    const other = seen.get(name);
    if (other !== undefined && other !== path) {
      throw new InputError(
        `two logs share the file name ${name} (${other}); processes are identified by log file name, so rename one`,
        { file: path },
      );
    }
    seen.set(name, path);
  }
}

/**
 * Event logs → one feature row per process, by replaying the logs through the streaming engine with no scorer: the
 * same detector, the same incremental feature code and the same process boundaries (exit rows, idle timeout, end of
 * log) as `ransomware watch`. Rows are ordered by log, then PID, then start.
 */
export async function extractFeatures(
  logPaths: readonly string[],
  options: ExtractOptions = {},
): Promise<{ rows: ProcessFeatures[]; summary: ExtractSummary }> {
  checkLogNames(logPaths);
  const detector = new RansomwareDetector({ ...options, groupChildren: options.groups ?? false });
  const rows: ProcessFeatures[] = [];
  const nextSnapshot = new WeakMap<ProcessEntity, number>();
  const engine = new StreamEngine<FileEvent, ProcessEntity>(detector, {
    rule: "features",
    idleNs: detector.idleNs,
    onEnded: (e) => {
      if (detector.scorable(e)) rows.push(featureRow(e));
    },
    ...(options.snapshots
      ? {
          scorer: SNAPSHOT_SCORER,
          schedule: RANSOMWARE_SCHEDULE,
          onScored: (e: ProcessEntity, _score: number, final: boolean) => {
            if (final) return;
            const due = nextSnapshot.get(e) ?? RANSOMWARE_SCHEDULE.minEvents;
            if (e.events < due) return;
            rows.push({ ...featureRow(e), snapshot: true });
            let next = due * 2;
            while (next <= e.events) next *= 2;
            nextSnapshot.set(e, next);
          },
        }
      : {}),
  });
  const sources = logPaths.map((p) => new FileLineSource(p));
  let totalBytes = 0;
  let doneBefore = 0;
  let lastIndex = 0;
  if (options.onProgress) {
    for (const p of logPaths) totalBytes += (await stat(p)).size;
  }
  const run = new StreamRun({
    engine,
    sources,
    parser: eventLogParser,
    strict: !options.skipInvalid,
    strictHint: "(use --skip-invalid to skip such rows)",
    independentSources: true,
    onChunk: options.onProgress
      ? (index, source) => {
          if (index !== lastIndex) {
            for (; lastIndex < index; lastIndex++) doneBefore += sources[lastIndex].stats.bytes;
          }
          options.onProgress!(doneBefore + source.stats.bytes, totalBytes);
        }
      : undefined,
  });
  const result = await run.run();
  const order = new Map(logPaths.map((p, i) => [logName(p), i]));
  rows.sort(
    (a, b) => order.get(a.log)! - order.get(b.log)! || a.pid - b.pid || compareTs(a.firstTs, b.firstTs),
  );
  const summary: ExtractSummary = {
    logs: logPaths.length,
    events: result.records,
    processes: rows.filter((r) => !r.snapshot && !r.children).length,
    skippedRows: result.skippedLines,
    skippedExamples: result.skippedExamples,
  };
  return { rows, summary };
}

export function featureRow(e: ProcessEntity): ProcessFeatures {
  const row: ProcessFeatures = {
    log: e.log,
    pid: e.pid,
    firstTs: e.state.firstTs(),
    lastTs: e.state.lastTs(),
    values: e.state.write(new Float64Array(FEATURE_NAMES.length)),
  };
  if (e.group) {
    row.children = [...e.children];
    if (e.generation === 2) row.generation = 2;
  }
  return row;
}

/** Scores nothing (never an alert): it only gives the engine's schedule a reason to run, for snapshots. */
const SNAPSHOT_SCORER: Scorer = {
  threshold: Number.POSITIVE_INFINITY,
  model: { name: "snapshots", version: "0", hash: "" },
  score: () => Number.NEGATIVE_INFINITY,
  priority: () => "notice",
};

function compareTs(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}
