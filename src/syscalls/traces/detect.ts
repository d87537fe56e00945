import { InputError } from "../../core/errors.ts";
import { SYSCALL_NAME } from "../tables.ts";
import { isStraceLine } from "./strace.ts";
import type { LineParser, ParseContext, TraceFormat } from "./trace.ts";

const NUMBERS_LINE = /^[\d\s]+$/;

/** The format of a file from its first line that is neither blank nor a `#` comment, or undefined if none fits. */
export function detectFormat(line: string): TraceFormat | undefined {
  if (NUMBERS_LINE.test(line)) return "adfa";
  const tokens = line.split("#", 1)[0].trim().split(/\s+/);
  if (tokens.every((token) => SYSCALL_NAME.test(token))) return "names";
  if (isStraceLine(line)) return "strace";
  return undefined;
}

/**
 * Picks the format on the first meaningful line, then hands every line to that format's parser. A file with no
 * meaningful line is read as an empty plain trace, so that it is reported rather than silently dropped.
 */
export class AutoParser implements LineParser {
  private parser: LineParser | undefined;

  constructor(
    private readonly context: ParseContext,
    private readonly make: (format: TraceFormat) => LineParser,
  ) {}

  line(text: string, start: number, end: number, lineNumber: number): void {
    if (this.parser === undefined) {
      const line = text.slice(start, end).trim();
      if (line === "" || line.startsWith("#")) return;
      const format = detectFormat(line);
      if (format === undefined) {
        throw new InputError(
          `cannot tell the trace format from ${JSON.stringify(line.slice(0, 80))}: expected syscall numbers ` +
            "(ADFA-LD), syscall names or strace output; name the format explicitly if it is one of these",
          { file: this.context.file, line: lineNumber },
        );
      }
      this.parser = this.make(format);
    }
    this.parser.line(text, start, end, lineNumber);
  }

  end(): void {
    (this.parser ?? this.make("names")).end();
  }
}
