import { InputError } from "../../core/errors.ts";
import { type LineParser, NameCheck, type ParseContext, type ProcessSink } from "./trace.ts";

/**
 * The syscall CSV of `threatlens collect --syscalls`: header exactly `TS,PID,TID,SYSCALL,COMM`, one row per call
 * (TS nanoseconds since boot, SYSCALL the x86_64 name, COMM the thread's command name, RFC 4180-quoted when it holds
 * a comma or quote). One trace per TID, as `strace -f` gives one per thread, with id `file#tid`.
 *
 * Programs: a thread counts under the command name of its first row; when its name changes right after an execve
 * (or execveat) row, it executed that program. Other renames (prctl PR_SET_NAME on a thread) do not change it.
 */
export const COLLECTOR_HEADER = "TS,PID,TID,SYSCALL,COMM";

export class CollectorParser implements LineParser {
  private readonly open = new Map<number, OpenThread>();
  private sawHeader = false;
  private readonly names: NameCheck;

  constructor(private readonly context: ParseContext) {
    this.names = new NameCheck(context);
  }

  line(text: string, start: number, end: number, lineNumber: number): void {
    const line = text.slice(start, end);
    if (!this.sawHeader) {
      if (line.trim() === "") return;
      if (line.replace(/^\uFEFF/, "").trimEnd() !== COLLECTOR_HEADER)
        throw new InputError(
          `expected the header ${COLLECTOR_HEADER}, got ${JSON.stringify(line.slice(0, 80))}`,
          {
            file: this.context.file,
            line: lineNumber,
          },
        );
      this.sawHeader = true;
      return;
    }
    if (line === "") return;
    const row = parseRow(line);
    if (row === null) {
      if (this.context.skipInvalid) {
        this.context.stats.invalidLines++;
        return;
      }
      throw new InputError(
        `expected TS,PID,TID,SYSCALL,COMM with numeric TS, PID and TID and a syscall name, got ${JSON.stringify(line.slice(0, 100))}`,
        { file: this.context.file, line: lineNumber },
      );
    }
    let thread = this.open.get(row.tid);
    if (thread === undefined) {
      thread = { sink: this.context.open(row.tid), comm: row.comm, afterExec: false };
      thread.sink.inherit(row.comm);
      this.open.set(row.tid, thread);
    } else if (row.comm !== thread.comm) {
      // A new name right after an execve row, or on the execve row itself (recorded at exit): an executed program.
      if (thread.afterExec || EXECS.has(row.syscall)) thread.sink.exec(row.comm);
      thread.comm = row.comm;
    }
    this.names.check(row.syscall, lineNumber, row.syscallColumn);
    thread.sink.push(row.syscall);
    thread.afterExec = EXECS.has(row.syscall);
  }

  end(): void {
    if (!this.sawHeader)
      throw new InputError(`empty collector file: expected the header ${COLLECTOR_HEADER}`, {
        file: this.context.file,
      });
    // Traces go out only now, so a file that is not a trace at all can still be dropped whole.
    const threads = [...this.open].sort((a, b) => a[0] - b[0]);
    this.open.clear();
    if (this.names.refuse()) return;
    for (const [tid, thread] of threads) thread.sink.end(`${this.context.id}#${tid}`, tid);
  }
}

interface OpenThread {
  sink: ProcessSink;
  comm: string;
  afterExec: boolean;
}

const EXECS = new Set(["execve", "execveat"]);
const DIGITS = /^\d+$/;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The fields of a row, or null when it is malformed. COMM is the rest of the line (it may hold commas). */
function parseRow(
  line: string,
): { tid: number; syscall: string; comm: string; syscallColumn: number } | null {
  const cuts: number[] = [];
  for (let i = 0; i < line.length && cuts.length < 4; i++) if (line.charCodeAt(i) === 44) cuts.push(i);
  if (cuts.length < 4) return null;
  const ts = line.slice(0, cuts[0]);
  const pid = line.slice(cuts[0] + 1, cuts[1]);
  const tid = line.slice(cuts[1] + 1, cuts[2]);
  const syscall = line.slice(cuts[2] + 1, cuts[3]);
  let comm = line.slice(cuts[3] + 1);
  if (!DIGITS.test(ts) || !DIGITS.test(pid) || !DIGITS.test(tid) || !NAME.test(syscall)) return null;
  if (comm.startsWith('"')) {
    if (comm.length < 2 || !comm.endsWith('"')) return null;
    comm = comm.slice(1, -1).replaceAll('""', '"');
  }
  return { tid: Number(tid), syscall, comm: comm.slice(0, 15), syscallColumn: cuts[2] + 2 };
}
