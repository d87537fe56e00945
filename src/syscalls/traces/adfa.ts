import { InputError } from "../../core/errors.ts";
import type { SyscallTable } from "../tables.ts";
import { forEachToken } from "./tokens.ts";
import type { LineParser, ParseContext } from "./trace.ts";

/**
 * ADFA-LD traces: syscall numbers separated by whitespace (the data set has one line per file with a trailing space
 * and no final newline; several lines are read as one trace). Numbers are mapped to names with `table`, which must be
 * the recording machine's architecture (i386 for ADFA-LD).
 */
export class AdfaParser implements LineParser {
  private readonly names: string[] = [];
  private token = 0;

  constructor(
    private readonly context: ParseContext,
    private readonly table: SyscallTable,
  ) {}

  line(text: string, start: number, end: number, lineNumber: number): void {
    forEachToken(text, start, end, (from, to) => {
      this.token++;
      // Nine digits cannot overflow; longer tokens are rejected below like any unknown number.
      let value = to - from <= 9 ? 0 : -1;
      for (let i = from; i < to && value >= 0; i++) {
        const digit = text.charCodeAt(i) - 48;
        value = digit >= 0 && digit <= 9 ? value * 10 + digit : -1;
      }
      const name = value >= 0 ? this.table.name(value) : undefined;
      if (name !== undefined) {
        this.names.push(name);
        return;
      }
      if (this.context.skipInvalid) {
        this.context.stats.invalidTokens++;
        return;
      }
      const token = text.slice(from, to);
      const what = /^\d+$/.test(token)
        ? `unknown ${this.table.arch} syscall number ${token}`
        : `${JSON.stringify(token.slice(0, 40))} is not a syscall number`;
      throw new InputError(`${what} (token ${this.token}, column ${from - start + 1})`, {
        file: this.context.file,
        line: lineNumber,
      });
    });
  }

  end(): void {
    const sink = this.context.open();
    for (const name of this.names) sink.push(name);
    sink.end(this.context.id);
  }
}
