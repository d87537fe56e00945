import { InputError } from "../../core/errors.ts";
import { SYSCALL_NAME } from "../tables.ts";
import { forEachToken } from "./tokens.ts";
import { type LineParser, makeTrace, type ParseContext } from "./trace.ts";

/** Plain traces: syscall names separated by spaces or newlines, `#` starts a comment. One file is one trace. */
export class NamesParser implements LineParser {
  private readonly names: string[] = [];
  private token = 0;

  constructor(private readonly context: ParseContext) {}

  line(text: string, start: number, end: number, lineNumber: number): void {
    forEachToken(text, start, end, (from, to) => {
      this.token++;
      const name = text.slice(from, to);
      if (SYSCALL_NAME.test(name)) {
        this.names.push(name);
      } else if (this.context.skipInvalid) {
        this.context.stats.invalidTokens++;
      } else {
        throw new InputError(
          `${JSON.stringify(name.slice(0, 40))} is not a syscall name (token ${this.token}, column ${from - start + 1})`,
          { file: this.context.file, line: lineNumber },
        );
      }
    });
  }

  end(): void {
    this.context.emit(makeTrace(this.context, this.context.id, this.names));
  }
}
