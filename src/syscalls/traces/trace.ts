/** One process's system calls in call order, as read from a trace file. */
export interface Trace {
  /** Unique within one read: the file's path relative to the input directory (its base name for a file input),
   * plus `#pid` for strace traces. */
  id: string;
  /** Path of the file the trace came from. */
  source: string;
  /** Syscall names in call order. */
  names: string[];
  /** Process (or thread) id, for strace traces when known. */
  pid?: number;
  /** ADFA-LD attack family (e.g. "Hydra_FTP") for files under `Attack_Data_Master/<Type>_<k>/`. */
  attackType?: string;
}

export const TRACE_FORMATS = ["adfa", "names", "strace"] as const;
/** adfa: syscall numbers; names: syscall names; strace: strace output (with or without -f, -ff, timestamps). */
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
  /** strace lines dropped under `skipInvalid` (interleaved program output, truncated lines). */
  invalidLines: number;
  /** strace lines that are not a syscall start: resumptions, signals, exits, strace's own messages. */
  otherLines: number;
  /** strace calls printed as `???` (strace could not tell which syscall): not added to traces. */
  unknownSyscalls: number;
}

export function emptyStats(): ReadStats {
  return {
    files: 0,
    formats: { adfa: 0, names: 0, strace: 0 },
    traces: 0,
    syscalls: 0,
    invalidTokens: 0,
    invalidLines: 0,
    otherLines: 0,
    unknownSyscalls: 0,
  };
}

/** Everything a format parser needs about the file it reads. */
export interface ParseContext {
  file: string;
  /** Trace id (ADFA, names) or id prefix before `#pid` (strace). */
  id: string;
  attackType?: string;
  skipInvalid: boolean;
  stats: ReadStats;
  emit(trace: Trace): void;
}

/** Parsers are fed one line at a time so that big files stream; `end` flushes what is still open. */
export interface LineParser {
  line(text: string, start: number, end: number, lineNumber: number): void;
  end(): void;
}

export function makeTrace(context: ParseContext, id: string, names: string[], pid?: number): Trace {
  const trace: Trace = { id, source: context.file, names };
  if (pid !== undefined) trace.pid = pid;
  if (context.attackType !== undefined) trace.attackType = context.attackType;
  return trace;
}
