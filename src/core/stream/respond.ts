import { readdirSync, readFileSync } from "node:fs";
import type { ResponseRecord } from "./alerts.ts";
import type { Responder } from "./engine.ts";

/**
 * `--respond stop|kill`: what ransomware protection products do on detection — halt the process and its children so
 * that no more files are lost. Stop (SIGSTOP) keeps them for inspection and can be undone with SIGCONT; kill ends them.
 * The tree is read from /proc at the moment of the alert; the root is signalled first so it cannot fork replacements.
 */
export class ProcessResponder implements Responder {
  constructor(
    readonly action: "stop" | "kill",
    /** Never signalled, whatever the tree says (threatlens itself, its collector, init). */
    private readonly protectedPids: ReadonlySet<number> = new Set([1, process.pid]),
  ) {}

  respond(pids: number[]): ResponseRecord {
    const signal = this.action === "stop" ? "SIGSTOP" : "SIGKILL";
    const targets = processTree(pids).filter((p) => !this.protectedPids.has(p));
    const signalled: number[] = [];
    const errors: string[] = [];
    for (const pid of targets) {
      try {
        process.kill(pid, signal);
        signalled.push(pid);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        // ESRCH: it exited meanwhile — nothing left to stop.
        if (code !== "ESRCH") errors.push(`${pid}: ${code}`);
      }
    }
    const record: ResponseRecord = {
      action: this.action,
      pids: signalled,
      ok: errors.length === 0 && signalled.length > 0,
    };
    if (errors.length > 0) record.error = errors.join(", ");
    else if (signalled.length === 0) record.error = "the process had already exited";
    return record;
  }
}

/**
 * `pid`'s parent, grandparent, … up to init: a response must not kill the shell or service manager that runs the
 * watch itself, even when a process it started from there is alerted as a group of that shell's children.
 */
export function ancestorsOf(pid: number): number[] {
  const out: number[] = [];
  for (let p = parentOf(pid); p !== null && p > 0 && !out.includes(p); p = parentOf(p)) out.push(p);
  return out;
}

/** `roots` and all their descendants, roots first then breadth-first, from /proc. */
export function processTree(roots: number[]): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    const ppid = parentOf(pid);
    if (ppid === null) continue;
    let list = children.get(ppid);
    if (!list) children.set(ppid, (list = []));
    list.push(pid);
  }
  const out: number[] = [];
  const seen = new Set<number>();
  const queue = [...roots];
  while (queue.length > 0) {
    const pid = queue.shift()!;
    if (seen.has(pid)) continue;
    seen.add(pid);
    out.push(pid);
    for (const child of children.get(pid) ?? []) queue.push(child);
  }
  return out;
}

function parentOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
    // The command name is in parentheses and may contain spaces or parentheses: parse after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(fields[1]);
  } catch {
    return null;
  }
}
