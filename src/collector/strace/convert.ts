import { readFileSync } from "node:fs";
import { FileEventType, type FileEventTypeCode, openType } from "../events.ts";
import type { EventWriter } from "../writer.ts";
import { decodeStraceString, parseRawInteger, type StraceLine, splitArgs, structField } from "./parse.ts";

/** Calls the strace backend traces in file mode (the rest keeps process bookkeeping right). */
export const STRACE_FILE_CALLS = [
  "open",
  "openat",
  "openat2",
  "creat",
  "unlink",
  "unlinkat",
  "rename",
  "renameat",
  "renameat2",
  "link",
  "linkat",
  "symlink",
  "symlinkat",
  "bind",
  "execve",
  "execveat",
  "prctl",
  "clone",
  "clone3",
  "fork",
  "vfork",
] as const;

/** Written when their result is known: a failed delete destroys nothing. */
const DELETES = new Set(["unlink", "unlinkat"]);
const CLONES = new Set(["clone", "clone3", "fork", "vfork"]);
const CLONE_THREAD = 0x10000;
const PR_SET_NAME = 15;
const CREAT_FLAGS = "577"; // O_CREAT | O_WRONLY | O_TRUNC, what creat() means
const MAX_PATH = 63;
const MAX_COMM = 15;

interface Task {
  pid: number;
  ppid: number;
  uid: number;
  comm: string;
}

/**
 * Turns parsed strace lines into the collector's events. strace knows thread ids only, so the process of each
 * thread is followed through clone/fork results (CLONE_THREAD or not) and, for a thread first seen otherwise,
 * read from /proc. Command names follow exec (the file's base name, as the kernel sets it) and
 * prctl(PR_SET_NAME). Timestamps are strace's wall clock turned into time since boot with `clockOffsetNs`.
 */
export class StraceConverter {
  private readonly tasks = new Map<number, Task>();
  /** Entry of a call left `<unfinished ...>`, by thread: its time and arguments. */
  private readonly unfinished = new Map<number, { ts: string; name: string; args: string }>();

  constructor(
    private readonly writer: EventWriter,
    private readonly mode: "files" | "syscalls",
    private readonly clockOffsetNs: bigint,
    private readonly procRoot = "/proc",
  ) {}

  line(l: StraceLine): void {
    switch (l.kind) {
      case "call":
        if (l.result === null) this.unfinished.set(l.tid, { ts: l.ts, name: l.name, args: l.args });
        if (this.mode === "syscalls") {
          const task = this.task(l.tid);
          this.writer.syscall({
            ts: this.boot(l.ts),
            pid: task.pid,
            tid: l.tid,
            syscall: l.name,
            comm: task.comm,
          });
        } else if (l.result !== null || !DELETES.has(l.name)) {
          this.fileCall(l.tid, l.ts, l.name, l.args, l.result);
        }
        if (l.result !== null) this.completed(l.tid, l.ts, l.name, l.args, l.result);
        return;
      case "resumed": {
        const entry = this.unfinished.get(l.tid);
        this.unfinished.delete(l.tid);
        if (entry !== undefined && entry.name === l.name && l.result !== null) {
          // A delete is written once its result is known (at its entry time), like the eBPF backend's.
          if (this.mode === "files" && DELETES.has(entry.name)) {
            this.fileCall(l.tid, entry.ts, entry.name, entry.args, l.result);
          }
          this.completed(l.tid, entry.ts, entry.name, entry.args, l.result);
        }
        return;
      }
      case "exit": {
        const task = this.task(l.tid);
        // strace reports a group leader's exit after its other threads': the process has ended.
        if (task.pid === l.tid) {
          this.writer.file({
            ts: this.boot(l.ts),
            pid: task.pid,
            tid: l.tid,
            ppid: task.ppid,
            uid: task.uid,
            type: FileEventType.Exit,
            op: "exit",
            flags: "0",
            filename: "",
            comm: task.comm,
          });
        }
        this.tasks.delete(l.tid);
        this.unfinished.delete(l.tid);
        return;
      }
      default:
        return;
    }
  }

  /** Known threads (bounded by the live threads of the traced tree). */
  get size(): number {
    return this.tasks.size;
  }

  private boot(ts: string): string {
    return (BigInt(ts) - this.clockOffsetNs).toString();
  }

  private fileCall(tid: number, ts: string, name: string, argText: string, result: string | null): void {
    const args = splitArgs(argText);
    const failed = result === null || !DELETES.has(name) ? null : /^-1 (E[A-Z0-9]+)/.exec(result);
    const op = failed === null ? name : `${name}:${failed[1]}`;
    const path = (i: number) => truncate(decodeStraceString(args[i] ?? "") ?? "", MAX_PATH);
    const flags = (token: string | null | undefined) => String(parseRawInteger(token ?? "") ?? 0);
    const { Create, Delete } = FileEventType;
    // [TYPE (null: decided by O_CREAT), FLAGS, FILENAME] per event; a rename is a delete then a create.
    let events: [FileEventTypeCode | null, string, string][];
    switch (name) {
      case "open":
        events = [[null, flags(args[1]), path(0)]];
        break;
      case "openat":
        events = [[null, flags(args[2]), path(1)]];
        break;
      case "openat2":
        events = [[null, flags(structField(args[2] ?? "", "flags")), path(1)]];
        break;
      case "creat":
        events = [[Create, CREAT_FLAGS, path(0)]];
        break;
      case "unlink":
        events = [[Delete, "0", path(0)]];
        break;
      case "unlinkat":
        events = [[Delete, flags(args[2]), path(1)]];
        break;
      case "rename":
        events = [
          [Delete, "0", path(0)],
          [Create, "0", path(1)],
        ];
        break;
      case "renameat":
        events = [
          [Delete, "0", path(1)],
          [Create, "0", path(3)],
        ];
        break;
      case "renameat2":
        events = [
          [Delete, flags(args[4]), path(1)],
          [Create, flags(args[4]), path(3)],
        ];
        break;
      case "link":
      case "symlink":
        events = [[Create, "0", path(1)]];
        break;
      case "linkat":
        events = [[Create, flags(args[4]), path(3)]];
        break;
      case "symlinkat":
        events = [[Create, "0", path(2)]];
        break;
      case "bind": {
        // A Unix socket bound to a path (not an abstract one, written sun_path=@"…") creates that path.
        const address = args[1] ?? "";
        const sunPath = /sa_family=(?:0x1|AF_UNIX)\b.*sun_path=("(?:[^"\\]|\\.)*")/.exec(address);
        if (sunPath === null) return;
        events = [[Create, "0", truncate(decodeStraceString(sunPath[1]) ?? "", MAX_PATH)]];
        break;
      }
      default:
        return;
    }
    for (const [type, f, filename] of events) this.emit(tid, ts, op, type, f, filename);
  }

  /** Open-like calls pass type null: create when O_CREAT is set. */
  private emit(
    tid: number,
    ts: string,
    op: string,
    type: FileEventTypeCode | null,
    flags: string,
    filename: string,
  ): void {
    const task = this.task(tid);
    this.writer.file({
      ts: this.boot(ts),
      pid: task.pid,
      tid,
      ppid: task.ppid,
      uid: task.uid,
      type: type ?? openType(Number(flags)),
      op,
      flags,
      filename,
      comm: task.comm,
    });
  }

  /** A call's result is known: follow forks, execs and renames of the thread. */
  private completed(tid: number, ts: string, name: string, argText: string, result: string): void {
    const value = /^-?\d+/.exec(result);
    const returned = value === null ? null : Number(value[0]);
    if (CLONES.has(name) && returned !== null && returned > 0) {
      if (!this.tasks.has(returned)) this.tasks.set(returned, this.created(tid, name, argText, returned));
    } else if ((name === "execve" || name === "execveat") && returned === 0) {
      const args = splitArgs(argText);
      const filename = decodeStraceString(args[name === "execve" ? 0 : 1] ?? "") ?? "";
      const task = this.task(tid);
      task.comm = truncate(filename.slice(filename.lastIndexOf("/") + 1), MAX_COMM);
      if (this.mode === "files") {
        this.writer.file({
          ts: this.boot(ts),
          pid: task.pid,
          tid,
          ppid: task.ppid,
          uid: task.uid,
          type: FileEventType.Exec,
          op: "exec",
          flags: "0",
          filename: truncate(filename, MAX_PATH),
          comm: task.comm,
        });
      }
    } else if (name === "prctl" && returned === 0) {
      const args = splitArgs(argText);
      if (parseRawInteger(args[0] ?? "") === PR_SET_NAME) {
        const comm = decodeStraceString(args[1] ?? "");
        if (comm !== null) this.task(tid).comm = truncate(comm, MAX_COMM);
      }
    }
  }

  private task(tid: number): Task {
    let task = this.tasks.get(tid);
    if (task === undefined) {
      task = this.fromProc(tid) ?? this.fromCloneInFlight(tid) ?? { pid: tid, ppid: 0, uid: 0, comm: "" };
      this.tasks.set(tid, task);
    }
    return task;
  }

  /** The task that a clone-family call of thread `parentTid` created as `childTid`: a thread of it, or a process. */
  private created(parentTid: number, name: string, argText: string, childTid: number): Task {
    const args = splitArgs(argText);
    const flagText =
      name === "clone"
        ? structArg(args, "flags")
        : name === "clone3"
          ? structField(args[0] ?? "", "flags")
          : "0";
    const flags = parseRawInteger(flagText ?? "0") ?? 0;
    const parent = this.task(parentTid);
    return (flags & CLONE_THREAD) !== 0
      ? { ...parent }
      : { pid: childTid, ppid: parent.pid, uid: parent.uid, comm: parent.comm };
  }

  /**
   * A thread whose first call strace printed before its creator's clone returned, and that was gone from /proc when
   * read (a short-lived thread on a loaded machine): the one clone still in flight created it. With several in
   * flight, which one did is unknown and the thread counts as a process of its own.
   */
  private fromCloneInFlight(tid: number): Task | null {
    let creator: [number, { name: string; args: string }] | null = null;
    for (const entry of this.unfinished) {
      if (!CLONES.has(entry[1].name) || entry[0] === tid) continue;
      if (creator !== null) return null;
      creator = entry;
    }
    return creator === null ? null : this.created(creator[0], creator[1].name, creator[1].args, tid);
  }

  private fromProc(tid: number): Task | null {
    try {
      const status = readFileSync(`${this.procRoot}/${tid}/status`, "latin1");
      const field = (name: string) => new RegExp(`^${name}:\\t(.*)$`, "m").exec(status)?.[1] ?? "";
      // status escapes odd bytes of the name; comm holds them as they are.
      const comm = readFileSync(`${this.procRoot}/${tid}/comm`, "latin1").replace(/\n$/, "");
      return {
        pid: Number(field("Tgid")) || tid,
        ppid: Number(field("PPid")) || 0,
        uid: Number(field("Uid").split("\t")[0]) || 0,
        comm,
      };
    } catch {
      return null;
    }
  }
}

/** clone's `flags=…` argument (strace names it in the argument list). */
function structArg(args: string[], name: string): string | null {
  for (const arg of args) if (arg.startsWith(`${name}=`)) return arg.slice(name.length + 1);
  return null;
}

function truncate(bytes: string, max: number): string {
  return bytes.length > max ? bytes.slice(0, max) : bytes;
}
