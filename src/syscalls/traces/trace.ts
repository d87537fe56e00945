import { InputError } from "../../core/errors.ts";
import { PROGRAM_GRACE } from "../scorer.ts";

/** One process's system calls in call order, as read from a trace file. */
export interface Trace {
  /** Unique within one read: the file's path relative to the input directory (its base name for a file input),
   * plus `#pid` for strace and collector traces. */
  id: string;
  /** Path of the file the trace came from. */
  source: string;
  /** Syscall names in call order. */
  names: string[];
  /** Process (or thread) id, for strace and collector traces when known. */
  pid?: number;
  /**
   * The program the process ran, when the input says (strace: the executable's base name from a successful execve,
   * or the parent's program; collector: the command name), cut to 15 characters as the kernel's comm is. A process
   * whose execve is among its first PROGRAM_GRACE syscalls counts as that program, otherwise as the one it
   * inherited: the rule ProcessScorer applies live, so batch and live agree.
   */
  program?: string;
  /** Attack family for files under a `<Type>_<k>/` folder (ADFA-LD's `Hydra_FTP_3` → `Hydra_FTP`). */
  attackType?: string;
}

export const TRACE_FORMATS = ["adfa", "names", "strace", "collector"] as const;
/** adfa: syscall numbers; names: syscall names; strace: strace output (with or without -f, -ff, timestamps);
 * collector: `threatlens collect --syscalls` CSV (TS,PID,TID,SYSCALL,COMM). */
export type TraceFormat = (typeof TRACE_FORMATS)[number];

/** What a read saw, so that nothing skipped goes unreported. */
export interface ReadStats {
  files: number;
  /** Files read per format (after auto-detection). */
  formats: Record<TraceFormat, number>;
  traces: number;
  /** Syscall names returned in traces. */
  syscalls: number;
  /** ADFA or names tokens dropped under `skipInvalid` (unknown numbers, malformed tokens). */
  invalidTokens: number;
  /** strace or collector lines dropped under `skipInvalid` (interleaved program output, truncated lines). */
  invalidLines: number;
  /** Files dropped whole under `skipInvalid` (not traces at all). */
  invalidFiles: number;
  /** strace lines that are not a syscall start: resumptions, signals, exits, strace's own messages. */
  otherLines: number;
  /** strace calls printed as `???` (strace could not tell which syscall): not added to traces. */
  unknownSyscalls: number;
  /** Syscall names in no shipped syscall table (kept in the traces; a model scores them as unknown). */
  unrecognisedNames: number;
  /** Anything else worth telling the user (a skipped file and why). */
  warnings: string[];
}

export function emptyStats(): ReadStats {
  return {
    files: 0,
    formats: { adfa: 0, names: 0, strace: 0, collector: 0 },
    traces: 0,
    syscalls: 0,
    invalidTokens: 0,
    invalidLines: 0,
    invalidFiles: 0,
    otherLines: 0,
    unknownSyscalls: 0,
    unrecognisedNames: 0,
    warnings: [],
  };
}

/**
 * Where a parser sends one process's syscalls as it reads them: the batch reader collects them into a Trace
 * (TraceCollector), `syscalls watch` scores them as they come.
 */
export interface ProcessSink {
  push(name: string): void;
  /** The program of its parent at fork. */
  inherit(program: string | null): void;
  /** A successful execve of `program`. */
  exec(program: string): void;
  /** The process is over (exit, detach, end of input); `id` and `pid` name its trace. */
  end(id: string, pid?: number): void;
}

/** Everything a format parser needs about the file it reads. */
export interface ParseContext {
  file: string;
  /** Trace id (ADFA, names) or id prefix before `#pid` (strace, collector). */
  id: string;
  attackType?: string;
  skipInvalid: boolean;
  stats: ReadStats;
  /** Syscall names of every shipped table, to tell syscall names from other words. */
  knownNames: NameSet;
  /** A sink for a new process of this file (its pid when the input names it). */
  open(pid?: number): ProcessSink;
}

export interface NameSet {
  has(name: string): boolean;
}

/** Parsers are fed one line at a time so that big files stream; `end` flushes what is still open. */
export interface LineParser {
  line(text: string, start: number, end: number, lineNumber: number): void;
  end(): void;
}

/** Collects a process's syscalls into a Trace and settles its program by the PROGRAM_GRACE rule. */
export class TraceCollector implements ProcessSink {
  private readonly names: string[] = [];
  private inherited: string | null = null;
  private program: string | null | undefined;

  constructor(
    private readonly emit: (trace: Trace) => void,
    private readonly context: Pick<ParseContext, "file" | "attackType">,
  ) {}

  push(name: string): void {
    if (this.program === undefined && this.names.length === PROGRAM_GRACE) this.program = this.inherited;
    this.names.push(name);
  }

  inherit(program: string | null): void {
    this.inherited = program;
  }

  exec(program: string): void {
    if (this.program === undefined) this.program = program;
  }

  end(id: string, pid?: number): void {
    if (this.program === undefined) this.program = this.inherited;
    const trace: Trace = { id, source: this.context.file, names: this.names };
    if (pid !== undefined) trace.pid = pid;
    if (this.program !== null) trace.program = this.program;
    if (this.context.attackType !== undefined) trace.attackType = this.context.attackType;
    this.emit(trace);
  }
}

/** A program's name as the kernel's comm shows it: the executable's base name, at most 15 characters. */
export function programName(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1).slice(0, 15);
}

/**
 * Syscall-name tokens of a file that are in no shipped table: counted as they come, and when they make up most of
 * the file, the file is not a trace at all (prose, a log of something else) and is refused at its first one.
 */
export class NameCheck {
  private tokens = 0;
  private unknown = 0;
  private first: { line: number; column: number; token: string } | null = null;

  constructor(private readonly context: ParseContext) {}

  /** Records `name`; returns whether it is a known syscall name. */
  check(name: string, line: number, column: number): boolean {
    this.tokens++;
    if (this.context.knownNames.has(name) || STRACE_UNKNOWN.test(name)) return true;
    this.unknown++;
    this.first ??= { line, column, token: name };
    return false;
  }

  /**
   * Whether the file is mostly words that are not syscalls: throws if so, or with skipInvalid returns true (the
   * caller drops the file) when `canSkip` — a file whose traces already went out (strace) cannot be dropped, and
   * its unknown names are only counted.
   */
  refuse(canSkip = true): boolean {
    if (this.unknown === 0 || this.unknown * 2 <= this.tokens) {
      this.context.stats.unrecognisedNames += this.unknown;
      return false;
    }
    const { line, column, token } = this.first!;
    const why = `${this.unknown} of ${this.tokens} tokens are not syscall names of any known architecture (first: ${JSON.stringify(token.slice(0, 40))} at line ${line}, column ${column}): not a syscall trace`;
    if (!this.context.skipInvalid) throw new InputError(why, { file: this.context.file, line });
    if (!canSkip) {
      this.context.stats.unrecognisedNames += this.unknown;
      this.context.stats.warnings.push(`${this.context.file}: ${why}`);
      return false;
    }
    this.context.stats.invalidFiles++;
    this.context.stats.warnings.push(`${this.context.file}: skipped: ${why}`);
    return true;
  }
}

/** strace's names for syscalls it has no name for. */
const STRACE_UNKNOWN = /^syscall_(?:0x[0-9a-f]+|\d+)$/;
