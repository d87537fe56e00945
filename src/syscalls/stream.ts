import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { InputError, UsageError } from "../core/errors.ts";
import type {
  AlertSubject,
  Detector,
  EntityHooks,
  ModelRef,
  Priority,
  Scorer,
} from "../core/stream/detector.ts";
import { Entity } from "../core/stream/detector.ts";
import type { ScoringSchedule } from "../core/stream/engine.ts";
import type { LineSource } from "../core/stream/line-sources.ts";
import { type LineParser, RecordError } from "../core/stream/run.ts";
import type { SignalName } from "./config.ts";
import { combine, LIVE_FROM, scoreInput, Tails } from "./detector.ts";
import type { SyscallModel } from "./model.ts";
import { ProcessScorer } from "./scorer.ts";
import { makeParser } from "./traces/read.ts";
import {
  emptyStats,
  type NameSet,
  type ParseContext,
  type ProcessSink,
  type ReadStats,
  type TraceFormat,
} from "./traces/trace.ts";

/**
 * The syscall detector as the streaming engine sees it (`syscalls watch`). Entities are processes (threads, as strace
 * -f traces them), each with the ProcessScorer that batch scoring uses: the engine asks for a score after every
 * syscall from the LIVE_FROM-th on and when the process ends — exactly the running maximum the live threshold was
 * calibrated on (detector.ts, liveMaximum).
 *
 * Records are lines of strace -f output or of the collector's CSV, parsed by the batch readers' line parsers; a
 * record carries what its line did (a syscall of a process, a process's end), applied by `observe`.
 */
export const SYSCALL_SCHEDULE: ScoringSchedule = { minEvents: LIVE_FROM, everyEvents: 1, everyNs: 0 };

export class SyscallProcess extends Entity {
  readonly scorer: ProcessScorer;
  ended = false;
  pid: number | undefined;
  trace = "";

  constructor(
    readonly key: number,
    readonly source: string,
    model: SyscallModel,
  ) {
    super();
    this.scorer = new ProcessScorer(model);
  }
}

/** What one line did, applied to the engine's entities by `observe`. */
export interface SyscallRecord {
  /** Event time in ns: the line's timestamp (strace -ttt/-tt/-t, collector TS), else its line number in ms. */
  time: number;
  timeText: string;
  events: { process: SyscallProcess; ended: boolean }[];
}

export class SyscallStreamDetector implements Detector<SyscallRecord, SyscallProcess> {
  readonly kind = "syscalls" as const;
  private readonly active = new Set<SyscallProcess>();
  private nextKey = 0;
  readonly programNames: string[];

  constructor(
    readonly model: SyscallModel,
    /** Programs of processes that were running before the trace began (`--pid`: read from /proc). */
    private readonly programOf: (pid: number) => string | null = () => null,
  ) {
    this.programNames = [...model.programs.keys()];
  }

  time(record: SyscallRecord): number {
    return record.time;
  }

  timeText(record: SyscallRecord): string {
    return record.timeText;
  }

  /**
   * A process seen for the first time on a line of `source`. One that was running before the trace began is named
   * from /proc only when the model has a profile for that program: a recording attached to a running service never
   * saw the service's own program, so training scored such processes with the global profile and no unseen-program
   * cost, and so must watching.
   */
  open(source: string, pid: number | undefined): SyscallProcess {
    const process = new SyscallProcess(this.nextKey++, source, this.model);
    process.pid = pid;
    if (pid !== undefined) {
      const program = this.programOf(pid);
      if (program !== null && this.model.programs.has(program)) process.scorer.inherit(program);
    }
    this.active.add(process);
    return process;
  }

  observe(record: SyscallRecord, hooks: EntityHooks<SyscallProcess>): void {
    for (const { process, ended } of record.events) {
      if (process.ended) continue;
      if (ended) this.end(process, hooks, "exit");
      else hooks.touched(process);
    }
  }

  sweep(cutoff: number, hooks: EntityHooks<SyscallProcess>): void {
    for (const process of [...this.active]) if (process.lastSeen < cutoff) this.end(process, hooks, "idle");
  }

  drain(hooks: EntityHooks<SyscallProcess>): void {
    for (const process of [...this.active]) this.end(process, hooks, "end-of-input");
  }

  get activeEntities(): number {
    return this.active.size;
  }

  /**
   * Signal values, then the extra cost, whether the process is settled, and its profile (index into the model's
   * programs, −1 for the global profile): what SyscallScorer combines.
   */
  features(process: SyscallProcess): Float64Array {
    const { signals } = this.model.config;
    const values = process.scorer.signals();
    const out = new Float64Array(signals.length + 3);
    signals.forEach((s, i) => {
      out[i] = values[s] as number;
    });
    out[signals.length] = process.scorer.extraCost;
    out[signals.length + 1] = process.scorer.ready || process.ended ? 1 : 0;
    const program = process.scorer.program;
    out[signals.length + 2] = program === null ? -1 : this.programNames.indexOf(program);
    return out;
  }

  describe(process: SyscallProcess): AlertSubject {
    const fields: Record<string, string | number> = { log: process.source };
    if (process.pid !== undefined) fields.pid = process.pid;
    const program = process.scorer.program;
    if (program !== null) fields.comm = program;
    return {
      entity: process.pid !== undefined ? `pid ${process.pid}` : `process ${process.key}`,
      fields,
      pids: process.pid !== undefined ? [process.pid] : undefined,
    };
  }

  evidence(process: SyscallProcess): Record<string, unknown> {
    const tails = new Tails(this.model.calibration);
    const signals = process.scorer.signals();
    return {
      syscalls: process.scorer.syscalls,
      profile: process.scorer.program ?? "global",
      signals,
      probabilities: combine(tails, scoreInput(process.scorer)).probabilities,
      ...process.scorer.evidence(),
    };
  }

  snapshot(): unknown {
    return null;
  }

  restore(snapshot: unknown): void {
    if (snapshot !== null)
      throw new UsageError(
        "syscalls watch keeps no checkpoint: its per-process state is rebuilt from the live trace",
      );
  }

  private end(
    process: SyscallProcess,
    hooks: EntityHooks<SyscallProcess>,
    reason: "exit" | "idle" | "end-of-input",
  ): void {
    process.scorer.finish();
    process.ended = true;
    this.active.delete(process);
    hooks.ended(process, reason);
  }
}

/** Scores a process's features: Fisher's combination plus the unknown syscalls' cost, against the live threshold. */
export class SyscallScorer implements Scorer {
  readonly threshold: number;
  private readonly tails: Tails;
  private readonly signals: readonly SignalName[];
  private readonly programs: string[];

  constructor(
    detector: SyscallModel,
    readonly model: ModelRef,
  ) {
    this.threshold = detector.calibration.liveThreshold;
    this.tails = new Tails(detector.calibration);
    this.signals = detector.config.signals;
    this.programs = [...detector.programs.keys()];
  }

  score(features: Float64Array): number {
    const n = this.signals.length;
    // Until its program is settled a process has no signal values worth scoring (see PROGRAM_GRACE).
    if (features[n + 1] === 0) return Number.NEGATIVE_INFINITY;
    const values: Partial<Record<SignalName, number>> = {};
    this.signals.forEach((s, i) => {
      values[s] = features[i];
    });
    const profile = features[n + 2] >= 0 ? this.programs[features[n + 2]] : null;
    return combine(this.tails, { signals: values, cost: features[n], profile }).score;
  }

  /** The score is Σ −log p: every ln 10 above the threshold is a tenfold rarer process among normal ones. */
  priority(score: number): Priority {
    const margin = score - this.threshold;
    if (margin >= 2 * Math.LN10) return "critical";
    if (margin >= Math.LN10) return "error";
    return "warning";
  }
}

/** Line parser for the engine: strace -f output or collector CSV lines into records. */
export function syscallLineParser(
  detector: SyscallStreamDetector,
  format: "strace" | "collector" | "auto",
): (source: LineSource) => LineParser<SyscallRecord> {
  return (source) => {
    const record: SyscallRecord = { time: 0, timeText: "", events: [] };
    const stats: ReadStats = emptyStats();
    let lastTime = Number.NEGATIVE_INFINITY;
    const context: ParseContext = {
      file: source.name,
      // Trace ids as the batch reader gives them for a file input: its base name, then #pid.
      id: basename(source.name),
      skipInvalid: false,
      stats,
      // Names are not checked against the tables here: a live stream is scored (unknown names cost UNKNOWN_COST),
      // not refused.
      knownNames: ANY_NAME,
      open: (pid) => sinkFor(detector, source.name, record, pid),
    };
    let parser: ReturnType<typeof makeParser> | null = null;
    return {
      parse(bytes, start, end, line) {
        const text = Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start).toString("utf8");
        record.events = [];
        const time = lineTime(text, line, format);
        // Event time never goes backwards (strace -tt wraps at midnight; clocks step).
        lastTime = Math.max(lastTime, time.ns);
        record.time = lastTime;
        record.timeText = time.text;
        try {
          parser ??= makeParser(chosenFormat(format, text), context, undefined, stats);
          parser.line(text, 0, text.length, line);
        } catch (error) {
          if (error instanceof InputError) throw new RecordError(error.message.replace(/^[^:]*:\d+: /, ""));
          throw error;
        }
        return record.events.length > 0 ? record : null;
      },
    };
  };
}

function chosenFormat(format: "strace" | "collector" | "auto", firstLine: string): TraceFormat {
  if (format !== "auto") return format;
  return firstLine.startsWith("TS,PID,TID,SYSCALL,COMM") ? "collector" : "strace";
}

const ANY_NAME: NameSet = { has: () => true };

/** A process's sink: syscalls go to its scorer and, as events, to the line's record. */
function sinkFor(
  detector: SyscallStreamDetector,
  source: string,
  record: SyscallRecord,
  pid: number | undefined,
): ProcessSink {
  const process = detector.open(source, pid);
  return {
    push(name) {
      process.scorer.push(name);
      record.events.push({ process, ended: false });
    },
    inherit: (program) => process.scorer.inherit(program),
    exec: (program) => process.scorer.exec(program),
    end(id, endPid) {
      process.trace = id;
      process.pid ??= endPid;
      record.events.push({ process, ended: true });
    },
  };
}

const TTT = /^\s*(?:\[pid\s+\d+\]\s*|\d+\s+)?(\d{9,}\.\d+)\s/;
const TT = /^\s*(?:\[pid\s+\d+\]\s*|\d+\s+)?(\d{1,2}):(\d\d):(\d\d)(\.\d+)?\s/;

/** The event time of a line: strace's -ttt/-tt/-t timestamp, the collector's TS, else 1 ms per line. */
function lineTime(
  text: string,
  line: number,
  format: "strace" | "collector" | "auto",
): { ns: number; text: string } {
  if (format !== "strace") {
    const ts = /^(\d+),\d+,\d+,/.exec(text);
    if (ts !== null) return { ns: Number(ts[1]), text: ts[1] };
  }
  const ttt = TTT.exec(text);
  if (ttt !== null) return { ns: Number(ttt[1]) * 1e9, text: ttt[1] };
  const tt = TT.exec(text);
  if (tt !== null) {
    const seconds = Number(tt[1]) * 3600 + Number(tt[2]) * 60 + Number(tt[3]) + Number(tt[4] ?? 0);
    return { ns: seconds * 1e9, text: `${tt[1]}:${tt[2]}:${tt[3]}${tt[4] ?? ""}` };
  }
  return { ns: line * 1e6, text: `line ${line}` };
}

/**
 * The program of a running process or thread as training saw it: its thread group leader's command name (a thread's
 * own name may be one it gave itself), or null when it is gone.
 */
export function procProgram(pid: number): string | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const tgid = /^Tgid:\s*(\d+)/m.exec(status)?.[1] ?? String(pid);
    return readFileSync(`/proc/${tgid}/comm`, "utf8").trim() || null;
  } catch {
    return null;
  }
}
