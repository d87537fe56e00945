import { basename } from "node:path";
import { InputError } from "../../core/errors.ts";
import { type LineParser, NameCheck, type ParseContext, type ProcessSink, programName } from "./trace.ts";

/**
 * Reads strace output into one trace per process (or thread): `strace -f -o`, `strace -f` to stderr, one file of
 * `strace -ff -o`, plain `strace`, and `strace -f -p PID` attached to a running service. A line is
 *
 *   [pid prefix] [timestamp] [instruction pointer] body
 *
 * with the pid prefix `1234 ` (-f -o) or `[pid 1234] ` (-f to stderr), a -t/-tt/-ttt/-r timestamp and an -i
 * `[hex]` pointer. A syscall is counted once, on the line where it starts (`read(3, ...) = 5`,
 * `read(3, <unfinished ...>` or, when strace lets go of the process, `poll(..., 500 <detached ...>`);
 * `<... read resumed>`, `--- SIG... ---`, `+++ exited/killed ... +++`, `strace:` messages and the -c/-C summary table
 * are counted in `otherLines`. `+++ … +++` and `<detached ...>` end the process's trace, so memory holds only the
 * traces of live processes however long the log; a pid that shows up again after exiting (pid reuse) starts a new
 * trace with id `file#pid.2`.
 *
 * Programs: a successful execve names the process's program (the executable's base name, as its comm); a child
 * inherits its parent's program when the fork or clone returns its pid. See TraceCollector for which one a trace
 * counts as.
 *
 * Lines without a pid prefix belong to the only traced process when strace printed them (to stderr strace adds
 * `[pid N]` only while several processes are traced), to the pid in the file name for `-ff` files (`name.1234`), or
 * to a trace without pid. That trace is given its pid when the first process shows up with a prefix and is not one of
 * the announced children (`strace: Process N attached`), or resumes the call it left unfinished.
 */
export class StraceParser implements LineParser {
  private readonly open = new Map<number, OpenProcess>();
  private readonly generations = new Map<number, number>();
  private readonly children = new Map<number, number | null>();
  private sawAttachMessages = false;
  private root: number | undefined;
  private readonly names: NameCheck;
  private order = 0;

  constructor(private readonly context: ParseContext) {
    const pid = /\.(\d+)$/.exec(basename(context.file));
    if (pid !== null) this.root = Number(pid[1]);
    this.names = new NameCheck(context);
  }

  line(text: string, start: number, end: number, lineNumber: number): void {
    const line = text.slice(start, end);
    // The -c/-C summary table has no pid prefix; its numbers would otherwise read as a -r timestamp.
    if (SUMMARY.test(line.trim())) {
      this.context.stats.otherLines++;
      return;
    }
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
    const detached = DETACHED.test(body);
    if (isCall(call, body, interrupted || detached)) {
      const name = call[1];
      const key = this.keyFor(pid, body);
      const process = this.process(key);
      if (name === "???") stats.unknownSyscalls++;
      else {
        this.names.check(name, lineNumber, prefix[0].length + 1);
        process.sink.push(name);
      }
      process.pending = interrupted ? { name, body } : undefined;
      if (!interrupted && !detached) this.returned(process, name, body, body);
      if (detached) this.close(key);
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
    const rest = [...this.open.entries()].sort((a, b) => a[1].order - b[1].order);
    this.open.clear();
    for (const [, process] of rest) this.finish(process);
    this.names.refuse(false);
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
        anonymous.pending !== undefined && body.startsWith(`<... ${anonymous.pending.name} resumed>`);
      if (resumes || (this.sawAttachMessages && !this.children.has(pid))) {
        this.open.delete(NO_PID);
        anonymous.pid = pid;
        this.open.set(pid, anonymous);
        this.root = pid;
      }
    }
    return pid;
  }

  private process(key: number): OpenProcess {
    let process = this.open.get(key);
    if (process === undefined) {
      process = {
        pid: key === NO_PID ? undefined : key,
        sink: this.context.open(key === NO_PID ? undefined : key),
        current: null,
        order: this.order++,
      };
      this.open.set(key, process);
      // A child whose fork already returned in the parent (the usual order with -f) inherits at once.
      const parent = this.children.get(key);
      if (parent !== undefined) this.inheritFrom(process, parent);
    }
    return process;
  }

  private attached(pid: number): void {
    this.sawAttachMessages = true;
    if (!this.children.has(pid)) this.children.set(pid, null);
  }

  private resumed(key: number, body: string): void {
    const process = this.open.get(key);
    if (process === undefined) return;
    const pending = process.pending;
    process.pending = undefined;
    const name = RESUMED.exec(body)?.[1];
    if (name !== undefined && pending !== undefined && pending.name === name)
      this.returned(process, name, pending.body, body);
  }

  /** A call's result is known: `start` is the line it began on, `result` the line with its return value. */
  private returned(process: OpenProcess, name: string, start: string, result: string): void {
    if (FORKS.has(name)) {
      const child = FORK_RESULT.exec(result);
      if (child !== null) this.forked(process, Number(child[1]));
    } else if (EXECS.has(name) && EXEC_OK.test(result)) {
      const path = EXEC_PATH.exec(start);
      if (path !== null) {
        const program = programName(unquote(path[1]));
        process.current = program;
        process.sink.exec(program);
      }
    }
  }

  private forked(parent: OpenProcess, child: number): void {
    const parentKey = parent.pid ?? NO_PID;
    this.children.set(child, parentKey);
    const open = this.open.get(child);
    if (open !== undefined) this.inheritFrom(open, parentKey);
  }

  private inheritFrom(child: OpenProcess, parentKey: number | null): void {
    const parent = parentKey === null ? undefined : this.open.get(parentKey);
    if (parent === undefined) return;
    child.current = parent.current;
    child.sink.inherit(parent.current);
  }

  private close(key: number): void {
    const process = this.open.get(key);
    if (process === undefined) return;
    this.open.delete(key);
    this.finish(process);
  }

  private finish(process: OpenProcess): void {
    let id = this.context.id;
    if (process.pid !== undefined) {
      const generation = (this.generations.get(process.pid) ?? 0) + 1;
      this.generations.set(process.pid, generation);
      id += `#${process.pid}${generation > 1 ? `.${generation}` : ""}`;
    }
    process.sink.end(id, process.pid);
  }
}

/** Whether `line` is something strace prints (for format detection). */
export function isStraceLine(line: string): boolean {
  const body = line.slice(PREFIX.exec(line)![0].length).trimEnd();
  const interrupted = ATTACH.test(body) || UNFINISHED.test(body) || DETACHED.test(body);
  return isCall(SYSCALL_START.exec(body), body, interrupted) || ATTACH.test(body) || OTHER.test(body);
}

function isCall(call: RegExpExecArray | null, body: string, interrupted: boolean): call is RegExpExecArray {
  return call !== null && (interrupted || RETURNED.test(body));
}

/** strace's C-style escapes in a quoted path (`\"`, `\\`, octal `\303`) back to the characters. */
function unquote(quoted: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < quoted.length; i++) {
    const c = quoted[i];
    if (c !== "\\") {
      bytes.push(...Buffer.from(c));
      continue;
    }
    const octal = /^[0-7]{1,3}/.exec(quoted.slice(i + 1));
    if (octal !== null) {
      bytes.push(Number.parseInt(octal[0], 8));
      i += octal[0].length;
    } else {
      const next = quoted[++i] ?? "";
      bytes.push(...Buffer.from({ n: "\n", t: "\t", r: "\r" }[next] ?? next));
    }
  }
  return Buffer.from(bytes).toString("utf8");
}

interface OpenProcess {
  pid: number | undefined;
  sink: ProcessSink;
  /** The program it runs now (its last execve, or what it inherited): what its children inherit. */
  current: string | null;
  /** The call left `<unfinished ...>`, to recognise its resumption and read its result. */
  pending?: { name: string; body: string };
  /** Order of first appearance, to end the still-open traces in that order. */
  order: number;
}

const NO_PID = -1;
/** Optional pid, timestamp (-t 12:34:56, -tt 12:34:56.123456, -ttt/-r 1.123456) and -i instruction pointer. */
const PREFIX =
  /^\s*(?:\[pid\s+(\d+)\]\s*|(\d+)\s+)?(?:(?:\d{1,2}:\d\d:\d\d(?:\.\d+)?|\d+\.\d+)\s+)?(?:\[[0-9a-fA-F?\s]+\]\s+)?/;
const SYSCALL_START = /^([A-Za-z_][A-Za-z0-9_]*|\?\?\?)\(/;
const UNFINISHED = /<unfinished \.\.\.>$/;
/** `strace -p` letting go of a process mid-call (Ctrl-C on strace, or the service exiting). */
const DETACHED = /<detached \.\.\.>$/;
/** `) = 3`, `) = -1 ENOENT (...)`, `) = 0x7f...`, `) = ?` possibly padded to strace's return column. */
const RETURNED = /\)\s*=\s*(?:-?\d|0x|\?)/;
const ATTACH = /strace: Process (\d+) attached$/;
const RESUMED = /^<\.\.\. ([A-Za-z_][A-Za-z0-9_]*|\?\?\?) resumed>/;
/** Exits, signals, resumptions, strace messages, -k stack frames, personality changes, interrupted-line tails. */
const OTHER =
  /^(?:\+\+\+ .* \+\+\+|--- .* ---|<\.\.\. (?:[A-Za-z_][A-Za-z0-9_]*|\?\?\?) resumed>.*|<unfinished \.\.\.>|<detached \.\.\.>|strace: .*|> .*|\[ Process PID=\d+ runs in .* mode\. \])$/;
/** The -c / -C summary table: its header, rule lines, one row per syscall and the total. */
const SUMMARY =
  /^(?:% time\s+seconds\s+usecs\/call\s+calls\s+errors\s+syscall|-[-\s]*|\d+\.\d+\s+\d+\.\d+\s+\d+\s+\d+\s+(?:\d+\s+)?[A-Za-z_][A-Za-z0-9_]*|System call usage summary for .*)$/;
const FORKS = new Set(["fork", "vfork", "clone", "clone3"]);
const FORK_RESULT = /\)\s*=\s*(\d+)\b[^=]*$/;
const EXECS = new Set(["execve", "execveat"]);
/** The return value of a successful execve: 0. */
const EXEC_OK = /\)\s*=\s*0(?:\s|$)/;
/** The program path: execve's first argument, execveat's second. */
const EXEC_PATH = /^execve(?:at)?\((?:[^,]*, )?"((?:[^"\\]|\\.)*)"/;
