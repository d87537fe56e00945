import { InputError } from "../../core/errors.ts";
import { SYSCALL_NAME } from "../tables.ts";
import { forEachToken } from "./tokens.ts";
import { type LineParser, NameCheck, type ParseContext, type ProcessSink } from "./trace.ts";

/**
 * Plain traces: syscall names separated by spaces or newlines, `#` starts a comment. One file is one trace. Names
 * are checked against every shipped syscall table: a few unknown ones are kept (another kernel's syscalls; a model
 * scores them as unknown) and counted, but a file made mostly of other words is refused (see NameCheck).
 */
export class NamesParser implements LineParser {
  private readonly names: string[] = [];
  private token = 0;
  private readonly check: NameCheck;

  constructor(private readonly context: ParseContext) {
    this.check = new NameCheck(context);
  }

  line(text: string, start: number, end: number, lineNumber: number): void {
    forEachToken(text, start, end, (from, to) => {
      this.token++;
      const name = text.slice(from, to);
      if (SYSCALL_NAME.test(name)) {
        this.check.check(name, lineNumber, from - start + 1);
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
    if (this.check.refuse()) return;
    const sink: ProcessSink = this.context.open();
    for (const name of this.names) sink.push(name);
    sink.end(this.context.id);
  }
}
