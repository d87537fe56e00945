import { stat } from "node:fs/promises";
import { basename, dirname, relative, resolve, sep } from "node:path";
import { InputError } from "../../core/errors.ts";
import { expandInputs } from "../../core/inputs.ts";
import { scanTextLines, type TextLineVisitor } from "../../core/lines.ts";
import { type Arch, knownSyscallNames, loadSyscallTable, type SyscallTable } from "../tables.ts";
import { AdfaParser } from "./adfa.ts";
import { CollectorParser } from "./collector.ts";
import { AutoParser } from "./detect.ts";
import { NamesParser } from "./names.ts";
import { StraceParser } from "./strace.ts";
import {
  emptyStats,
  type LineParser,
  type ParseContext,
  type ReadStats,
  type Trace,
  TraceCollector,
  type TraceFormat,
} from "./trace.ts";

export interface ReadOptions {
  /** Default "auto": decided per file from its first meaningful line. */
  format?: TraceFormat | "auto";
  /** Syscall table for ADFA numbers; default i386, the architecture ADFA-LD was recorded on. */
  arch?: Arch;
  /** A table to use instead of the shipped one for `arch`. */
  table?: SyscallTable;
  /** Drop (and count in the stats) unknown numbers, malformed tokens and unrecognised strace lines instead of
   * failing on the first one. */
  skipInvalid?: boolean;
  /** Which files of an input directory to read, by base name; default: all but hidden files. Hidden folders
   * (`.git`, `.cache`) are never entered. */
  accept?: (name: string) => boolean;
}

/**
 * Reads trace files and directories (recursively, in sorted order) and calls `visit` with each trace as soon as it
 * is complete. Memory holds only the traces being read (for strace, those of processes still alive at that point in
 * the log), so consumers that reduce traces as they come can read logs of any size.
 *
 * Trace ids are the file's path below the input directory's parent (`Training_Data_Master/UTD-0001.txt`), or the
 * base name of an input file; strace traces add `#pid`. Two inputs that yield the same id are an error.
 */
export async function forEachTrace(
  inputs: string | readonly string[],
  visit: (trace: Trace) => void,
  options: ReadOptions = {},
): Promise<ReadStats> {
  const format = options.format ?? "auto";
  const needsTable = format === "auto" || format === "adfa";
  const table = options.table ?? (needsTable ? await loadSyscallTable(options.arch ?? "i386") : undefined);
  const stats = emptyStats();
  const seen = new Set<string>();
  const files = await listTraceFiles(inputs, options.accept ?? ((name) => !name.startsWith(".")));

  const knownNames = await knownSyscallNames();
  for (const { file, id } of files) {
    const context: ParseContext = {
      file,
      id,
      attackType: attackTypeOf(file),
      skipInvalid: options.skipInvalid ?? false,
      stats,
      knownNames,
      open: () =>
        new TraceCollector((trace) => {
          if (seen.has(trace.id))
            throw new InputError(`two inputs give the same trace id ${trace.id}`, { file });
          seen.add(trace.id);
          stats.traces++;
          stats.syscalls += trace.names.length;
          visit(trace);
        }, context),
    };
    const parser = makeParser(format, context, table, stats);
    stats.files++;
    await scanFile(file, (text, start, end, lineNumber) => parser.line(text, start, end, lineNumber));
    parser.end();
  }
  return stats;
}

/** The parser for `format` ("auto": decided on the first meaningful line); counts the chosen format in `stats`. */
export function makeParser(
  format: TraceFormat | "auto",
  context: ParseContext,
  table: SyscallTable | undefined,
  stats: ReadStats,
): LineParser {
  const make = (chosen: TraceFormat): LineParser => {
    stats.formats[chosen]++;
    switch (chosen) {
      case "adfa":
        if (table === undefined)
          throw new InputError("numeric traces need a syscall table", { file: context.file });
        return new AdfaParser(context, table);
      case "names":
        return new NamesParser(context);
      case "strace":
        return new StraceParser(context);
      case "collector":
        return new CollectorParser(context);
    }
  };
  return format === "auto" ? new AutoParser(context, make) : make(format);
}

/** The files below `inputs` with their trace ids (see forEachTrace). */
async function listTraceFiles(
  inputs: string | readonly string[],
  accept: (name: string) => boolean,
): Promise<{ file: string; id: string }[]> {
  const out: { file: string; id: string }[] = [];
  for (const input of typeof inputs === "string" ? [inputs] : inputs) {
    const expanded = await expandInputs([input], accept);
    if (expanded.length === 1 && expanded[0] === input) {
      out.push({ file: input, id: basename(input) });
      continue;
    }
    const before = out.length;
    for (const file of expanded) {
      const parts = relative(input, file).split(sep);
      if (parts.slice(0, -1).some((part) => part.startsWith("."))) continue;
      out.push({ file, id: [basename(resolve(input)), ...parts].join("/") });
    }
    if (out.length === before) throw new InputError("the directory contains no trace files", { file: input });
  }
  return out;
}

/** Streams the file's lines to `visit`, turning file-system errors into located InputErrors. */
async function scanFile(file: string, visit: TextLineVisitor): Promise<void> {
  try {
    // scanLines allocates its chunk buffer per call: size it to the file rather than 4 MiB for each few-KiB ADFA
    // file, capped so that large logs still stream.
    const chunkBytes = Math.min(1 << 20, Math.max(1 << 12, (await stat(file)).size + 1));
    await scanTextLines(file, visit, { chunkBytes });
  } catch (error) {
    const { code, syscall } = error as NodeJS.ErrnoException;
    if (syscall !== undefined) throw new InputError(`cannot read (${code ?? syscall})`, { file });
    throw error;
  }
}

/** All traces of `inputs` in memory, with what the read saw. */
export async function readTraces(
  inputs: string | readonly string[],
  options: ReadOptions = {},
): Promise<{ traces: Trace[]; stats: ReadStats }> {
  const traces: Trace[] = [];
  const stats = await forEachTrace(inputs, (trace) => traces.push(trace), options);
  return { traces, stats };
}

/**
 * The attack family of a file in a `<Type>_<k>/` folder (ADFA-LD's `Attack_Data_Master/Hydra_FTP_3/…`, or any
 * folder named so): `<Type>` without the run number (`Hydra_FTP_3` → `Hydra_FTP`), so that the runs of an attack
 * share one label. Undefined when the file's folder is not named that way.
 */
export function attackTypeOf(file: string): string | undefined {
  const folder = basename(dirname(resolve(file)));
  return /^(.+)_\d+$/.exec(folder)?.[1];
}
