import { readdirSync, readFileSync, statfsSync, statSync } from "node:fs";
import { isAbsolute, join, relative } from "node:path";
import { UsageError } from "../core/errors.ts";

/** What the collector traces. Every scope excludes the collector itself, its bpftrace/strace child and `excludePids`. */
export type CollectorScope =
  | { kind: "host" }
  /** A process and all its descendants (existing ones and those it forks while traced). */
  | { kind: "pid"; pid: number }
  /** The processes in a cgroup (v2) and in its sub-cgroups that exist when the collector starts. */
  | { kind: "cgroup"; path: string }
  /** Processes (threads) whose command name is `name` at the time of each event. */
  | { kind: "comm"; name: string }
  /** Starts `argv` and traces its process tree; the collector stops when the command exits. */
  | { kind: "command"; argv: readonly string[]; cwd?: string; env?: NodeJS.ProcessEnv; stdio?: CommandStdio };

/** stdin, stdout, stderr of a started command: inherited from the collector, ignored, or another open fd. */
export type CommandStdio = readonly [
  "inherit" | "ignore" | number,
  "inherit" | "ignore" | number,
  "inherit" | "ignore" | number,
];

export function describeScope(scope: CollectorScope): string {
  switch (scope.kind) {
    case "host":
      return "host";
    case "pid":
      return `pid ${scope.pid} and descendants`;
    case "cgroup":
      return `cgroup ${scope.path}`;
    case "comm":
      return `comm ${scope.name}`;
    case "command":
      return `command ${scope.argv.join(" ")}`;
  }
}

/** A process id from the scope's point of view: the thread group id of `pid`, or a UsageError. */
export function processId(pid: number, procRoot = "/proc"): number {
  if (!Number.isInteger(pid) || pid <= 0) throw new UsageError(`--pid: expected a process id, got ${pid}`);
  let status: string;
  try {
    status = readFileSync(`${procRoot}/${pid}/status`, "utf8");
  } catch {
    throw new UsageError(`--pid ${pid}: no such process`);
  }
  const tgid = /^Tgid:\s+(\d+)$/m.exec(status);
  return tgid === null ? pid : Number(tgid[1]);
}

/** Parent of every live process, from /proc/<pid>/stat (the command name may hold spaces and parentheses). */
export function processParents(procRoot = "/proc"): Map<number, number> {
  const parents = new Map<number, number>();
  for (const entry of readdirSync(procRoot)) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`${procRoot}/${entry}/stat`, "latin1");
    } catch {
      continue; // exited meanwhile
    }
    const close = stat.lastIndexOf(")");
    const fields = stat.slice(close + 2).split(" ");
    const ppid = Number(fields[1]);
    if (Number.isInteger(ppid)) parents.set(Number(entry), ppid);
  }
  return parents;
}

/** `root` and every live descendant process of it. */
export function processTree(root: number, procRoot = "/proc"): Set<number> {
  const children = new Map<number, number[]>();
  for (const [pid, ppid] of processParents(procRoot)) {
    const list = children.get(ppid);
    if (list === undefined) children.set(ppid, [pid]);
    else list.push(pid);
  }
  const tree = new Set<number>([root]);
  const stack = [root];
  while (stack.length > 0) {
    const pid = stack.pop()!;
    for (const child of children.get(pid) ?? []) {
      if (!tree.has(child)) {
        tree.add(child);
        stack.push(child);
      }
    }
  }
  return tree;
}

const CGROUP2_MAGIC = 0x63677270;

/** Where the cgroup v2 hierarchy is mounted (`/sys/fs/cgroup`, or `/sys/fs/cgroup/unified` on hybrid hosts). */
export function cgroup2Mount(mountinfo = "/proc/self/mountinfo"): string | null {
  let text: string;
  try {
    text = readFileSync(mountinfo, "utf8");
  } catch {
    return null;
  }
  for (const line of text.split("\n")) {
    // "36 25 0:31 / /sys/fs/cgroup/unified rw,… - cgroup2 cgroup2 rw,…"
    const dash = line.indexOf(" - ");
    if (dash < 0) continue;
    const fstype = line.slice(dash + 3).split(" ")[0];
    if (fstype === "cgroup2") return line.split(" ")[4].replace(/\\040/g, " ");
  }
  return null;
}

/**
 * The cgroup v2 ids (directory inode numbers, what bpftrace's `cgroup` returns) of `path` and of every cgroup
 * below it. `path` is absolute, or relative to the cgroup v2 mount.
 */
export function cgroupIds(path: string, mount = cgroup2Mount()): { dir: string; ids: bigint[] } {
  if (mount === null) throw new UsageError("--cgroup: this host has no cgroup v2 hierarchy mounted");
  const dir = isAbsolute(path) ? path : join(mount, path);
  const inside = relative(mount, dir);
  if (inside.startsWith("..") || isAbsolute(inside)) {
    throw new UsageError(`--cgroup ${path}: not under the cgroup v2 mount ${mount}`);
  }
  let type: number;
  try {
    if (!statSync(dir).isDirectory()) throw new Error("not a directory");
    type = statfsSync(dir).type;
  } catch {
    throw new UsageError(`--cgroup ${path}: no such cgroup (looked for the directory ${dir})`);
  }
  if (type !== CGROUP2_MAGIC) throw new UsageError(`--cgroup ${path}: ${dir} is not a cgroup v2 directory`);
  const ids: bigint[] = [];
  const stack = [dir];
  while (stack.length > 0) {
    const current = stack.pop()!;
    ids.push(statSync(current, { bigint: true }).ino);
    for (const entry of readdirSync(current, { withFileTypes: true })) {
      if (entry.isDirectory()) stack.push(join(current, entry.name));
    }
  }
  return { dir, ids };
}

/** A command name as bpftrace can compare it: 1–15 bytes, printable ASCII without quote or backslash. */
export function validateComm(name: string): string {
  if (!/^[\x20-\x7e]{1,15}$/.test(name) || /["\\]/.test(name)) {
    throw new UsageError(
      `--comm ${JSON.stringify(name)}: expected a command name of 1 to 15 printable ASCII characters (the kernel keeps 15), without quotes or backslashes`,
    );
  }
  return name;
}
