import { InputError } from "../../core/errors.ts";
import { SYSCALL_NAME } from "../tables.ts";
import { COLLECTOR_HEADER } from "./collector.ts";
import { isStraceLine } from "./strace.ts";
import type { LineParser, NameSet, ParseContext, TraceFormat } from "./trace.ts";

const NUMBERS_LINE = /^[\d\s]+$/;

/**
 * The format of a file from its first line that is neither blank nor a `#` comment, or undefined if none fits. A
 * line of words is a names trace only when most of them are syscall names of a shipped table: prose is not a trace.
 */
export function detectFormat(line: string, knownNames: NameSet): TraceFormat | undefined {
  if (line.replace(/^\uFEFF/, "").trimEnd() === COLLECTOR_HEADER) return "collector";
  if (NUMBERS_LINE.test(line)) return "adfa";
  const tokens = line.split("#", 1)[0].trim().split(/\s+/);
  if (tokens.every((token) => SYSCALL_NAME.test(token))) {
    const known = tokens.filter((token) => knownNames.has(token)).length;
    if (known * 2 > tokens.length) return "names";
  }
  if (isStraceLine(line)) return "strace";
  return undefined;
}

/**
 * Picks the format on the first meaningful line, then hands every line to that format's parser. A file with no
 * meaningful line is read as an empty plain trace, so that it is reported rather than silently dropped. A file of
 * no known format is an error, or under skipInvalid is skipped whole and counted.
 */
export class AutoParser implements LineParser {
  private parser: LineParser | undefined;
  private skipped = false;

  constructor(
    private readonly context: ParseContext,
    private readonly make: (format: TraceFormat) => LineParser,
  ) {}

  line(text: string, start: number, end: number, lineNumber: number): void {
    if (this.skipped) return;
    if (this.parser === undefined) {
      const line = text.slice(start, end).trim();
      if (line === "" || line.startsWith("#")) return;
      const format = detectFormat(line, this.context.knownNames);
      if (format === undefined) {
        const why =
          `cannot tell the trace format from ${JSON.stringify(line.slice(0, 80))}: expected syscall numbers ` +
          "(ADFA-LD), syscall names, strace output or the collector's CSV; name the format explicitly if it is one of these";
        if (!this.context.skipInvalid)
          throw new InputError(why, { file: this.context.file, line: lineNumber });
        this.skipped = true;
        this.context.stats.invalidFiles++;
        this.context.stats.warnings.push(`${this.context.file}:${lineNumber}: skipped: ${why}`);
        return;
      }
      this.parser = this.make(format);
    }
    this.parser.line(text, start, end, lineNumber);
  }

  end(): void {
    if (this.skipped) return;
    (this.parser ?? this.make("names")).end();
  }
}
