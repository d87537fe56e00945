import { basename } from "node:path";
import { InputError } from "../../core/errors.ts";
import { type LineParser, makeTrace, type ParseContext } from "./trace.ts";

/**
 * Reads strace output into one trace per process (or thread): `strace -f -o`, `strace -f` to stderr, one file of
 * `strace -ff -o`, or plain `strace`. A line is
 *
 *   [pid prefix] [timestamp] [instruction pointer] body
 *
 * with the pid prefix `1234 ` (-f -o) or `[pid 1234] ` (-f to stderr), a -t/-tt/-ttt/-r timestamp and an -i
 * `[hex]` pointer. A syscall is counted once, on the line where it starts (`read(3, ...) = 5` or
 * `read(3, <unfinished ...>`); `<... read resumed>`, `--- SIG... ---`, `+++ exited ... +++` and `strace:` messages
 * are counted in `otherLines`. `+++ exited/killed +++` ends the process's trace, so memory holds only the traces of
 * live processes however long the log; a pid that shows up again after exiting (pid reuse) starts a new trace with
 * id `file#pid.2`.
 *
 * Lines without a pid prefix belong to the only traced process when strace printed them (to stderr strace adds
 * `[pid N]` only while several processes are traced), to the pid in the file name for `-ff` files (`name.1234`), or
 * to a trace without pid. That trace is given its pid when the first process shows up with a prefix and is not one of
 * the announced children (`strace: Process N attached`), or resumes the call it left unfinished.
 */
export class StraceParser implements LineParser {
  private readonly open = new Map<number, OpenTrace>();
  private readonly emitted = new Map<number, number>();
  private readonly children = new Set<number>();
  private sawAttachMessages = false;
  private root: number | undefined;

  constructor(private readonly context: ParseContext) {
    const pid = /\.(\d+)$/.exec(basename(context.file));
    if (pid !== null) this.root = Number(pid[1]);
  }

  line(text: string, start: number, end: number, lineNumber: number): void {
    const line = text.slice(start, end);
    const prefix = PREFIX.exec(line)!;
    const body = line.slice(prefix[0].length).trimEnd();
    if (body === "" && prefix[0].trim() === "") return;
    const prefixPid = prefix[1] ?? prefix[2];
    const pid = prefixPid === undefined ? undefined : Number(prefixPid);
    const { stats } = this.context;

    const call = SYSCALL_START.exec(body);
    const attach = ATTACH.exec(body);
    if (attach !== null) this.attached(Number(attach[1]));
    // An attach message can cut into a syscall line (stderr output): what precedes it is still a syscall start.
    const interrupted = attach !== null || UNFINISHED.test(body);
    if (isCall(call, body, interrupted)) {
      const name = call[1];
      const key = this.keyFor(pid, body);
      if (name === "???") stats.unknownSyscalls++;
      else this.trace(key, lineNumber).names.push(name);
      const open = this.open.get(key);
      if (open !== undefined) open.pending = interrupted ? name : undefined;
      if (FORKS.has(name)) this.forked(body);
    } else if (attach !== null || OTHER.test(body)) {
      stats.otherLines++;
      const key = this.keyFor(pid, body);
      if (body.startsWith("+++")) this.close(key);
      else if (body.startsWith("<...")) this.resumed(key, body);
    } else if (this.context.skipInvalid) {
      stats.invalidLines++;
    } else {
      throw new InputError(`unrecognised strace line ${JSON.stringify(line.slice(0, 100))}`, {
        file: this.context.file,
        line: lineNumber,
      });
    }
  }

  end(): void {
    const rest = [...this.open.values()].sort((a, b) => a.firstLine - b.firstLine);
    this.open.clear();
    for (const trace of rest) this.emit(trace);
  }

  private keyFor(pid: number | undefined, body: string): number {
    if (pid === undefined) {
      if (this.open.size === 1) return this.open.keys().next().value!;
      if (this.root !== undefined) return this.root;
      return NO_PID;
    }
    const anonymous = this.open.get(NO_PID);
    if (anonymous !== undefined && this.root === undefined && !this.open.has(pid)) {
      const resumes =
        anonymous.pending !== undefined && body.startsWith(`<... ${anonymous.pending} resumed>`);
      if (resumes || (this.sawAttachMessages && !this.children.has(pid))) {
        this.open.delete(NO_PID);
        anonymous.pid = pid;
        this.open.set(pid, anonymous);
        this.root = pid;
      }
    }
    return pid;
  }

  private trace(key: number, lineNumber: number): OpenTrace {
    let trace = this.open.get(key);
    if (trace === undefined) {
      trace = { pid: key === NO_PID ? undefined : key, names: [], firstLine: lineNumber };
      this.open.set(key, trace);
    }
    return trace;
  }

  private attached(pid: number): void {
    this.sawAttachMessages = true;
    this.children.add(pid);
  }

  private resumed(key: number, body: string): void {
    const open = this.open.get(key);
    if (open !== undefined) open.pending = undefined;
    const name = RESUMED.exec(body)?.[1];
    if (name !== undefined && FORKS.has(name)) this.forked(body);
  }

  private forked(body: string): void {
    const child = FORK_RESULT.exec(body);
    if (child !== null) this.children.add(Number(child[1]));
  }

  private close(key: number): void {
    const trace = this.open.get(key);
    if (trace === undefined) return;
    this.open.delete(key);
    this.emit(trace);
  }

  private emit(trace: OpenTrace): void {
    let id = this.context.id;
    if (trace.pid !== undefined) {
      const generation = (this.emitted.get(trace.pid) ?? 0) + 1;
      this.emitted.set(trace.pid, generation);
      id += `#${trace.pid}${generation > 1 ? `.${generation}` : ""}`;
    }
    this.context.emit(makeTrace(this.context, id, trace.names, trace.pid));
  }
}

/** Whether `line` is something strace prints (for format detection). */
export function isStraceLine(line: string): boolean {
  const body = line.slice(PREFIX.exec(line)![0].length).trimEnd();
  const interrupted = ATTACH.test(body) || UNFINISHED.test(body);
  return isCall(SYSCALL_START.exec(body), body, interrupted) || ATTACH.test(body) || OTHER.test(body);
}

function isCall(call: RegExpExecArray | null, body: string, interrupted: boolean): call is RegExpExecArray {
  return call !== null && (interrupted || RETURNED.test(body));
}

interface OpenTrace {
  pid: number | undefined;
  names: string[];
  /** Name of the call left `<unfinished ...>`, to recognise its resumption. */
  pending?: string;
  firstLine: number;
}

const NO_PID = -1;
/** Optional pid, timestamp (-t 12:34:56, -tt 12:34:56.123456, -ttt/-r 1.123456) and -i instruction pointer. */
const PREFIX =
  /^\s*(?:\[pid\s+(\d+)\]\s*|(\d+)\s+)?(?:(?:\d{1,2}:\d\d:\d\d(?:\.\d+)?|\d+\.\d+)\s+)?(?:\[[0-9a-fA-F?\s]+\]\s+)?/;
const SYSCALL_START = /^([A-Za-z_][A-Za-z0-9_]*|\?\?\?)\(/;
const UNFINISHED = /<unfinished \.\.\.>$/;
/** `) = 3`, `) = -1 ENOENT (...)`, `) = 0x7f...`, `) = ?` possibly padded to strace's return column. */
const RETURNED = /\)\s*=\s*(?:-?\d|0x|\?)/;
const ATTACH = /strace: Process (\d+) attached$/;
const RESUMED = /^<\.\.\. ([A-Za-z_][A-Za-z0-9_]*|\?\?\?) resumed>/;
/** Exits, signals, resumptions, strace messages, -k stack frames, personality changes, interrupted-line tails. */
const OTHER =
  /^(?:\+\+\+ .* \+\+\+|--- .* ---|<\.\.\. (?:[A-Za-z_][A-Za-z0-9_]*|\?\?\?) resumed>.*|<unfinished \.\.\.>|strace: .*|> .*|\[ Process PID=\d+ runs in .* mode\. \])$/;
const FORKS = new Set(["fork", "vfork", "clone", "clone3"]);
const FORK_RESULT = /\)\s*=\s*(\d+)\b[^=]*$/;
