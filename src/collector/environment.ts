import { spawnSync } from "node:child_process";
import {
  accessSync,
  constants,
  existsSync,
  lstatSync,
  readdirSync,
  readFileSync,
  realpathSync,
  statSync,
} from "node:fs";
import { delimiter, isAbsolute, join } from "node:path";
import { ThreatlensError } from "../core/errors.ts";

/** The collector cannot run here: not root, a tool missing, tracefs unavailable, a tracer that failed. Exit 1. */
export class CollectorError extends ThreatlensError {}

/** The absolute path of `name` on `PATH` (or `name` itself when it contains a slash), or null. */
export function findExecutable(name: string, path = process.env.PATH ?? ""): string | null {
  const candidates = name.includes("/")
    ? [name]
    : path
        .split(delimiter)
        .filter(Boolean)
        .map((dir) => join(dir, name));
  for (const candidate of candidates) {
    try {
      if (!statSync(candidate).isFile()) continue;
      accessSync(candidate, constants.X_OK);
      return isAbsolute(candidate) ? candidate : join(process.cwd(), candidate);
    } catch {}
  }
  return null;
}

export function requireRoot(what: string): void {
  if (typeof process.getuid === "function" && process.getuid() !== 0) {
    throw new CollectorError(
      `${what} needs root (it loads eBPF programs and reads tracefs); run it as root, or use --backend strace`,
    );
  }
}

export function requireTool(name: string, path: string | undefined, advice: string): string {
  const found = findExecutable(name, path);
  if (found === null) throw new CollectorError(`${name} not found on PATH: ${advice}`);
  return found;
}

/**
 * Makes sure tracepoints can be found: tracefs mounted at `dir` (bpftrace reports "tracepoint not found"
 * otherwise). Mounts it when absent; a failure is a CollectorError.
 */
export function ensureTracefs(dir = "/sys/kernel/tracing"): void {
  if (existsSync(join(dir, "events"))) return;
  const r = spawnSync("mount", ["-t", "tracefs", "nodev", dir], { encoding: "utf8" });
  if (r.status === 0 && existsSync(join(dir, "events"))) return;
  const why =
    r.error !== undefined
      ? r.error.message
      : (r.stderr || r.stdout).trim().split("\n")[0] || `exit ${r.status}`;
  throw new CollectorError(
    `tracefs is not mounted at ${dir} and mounting it failed (${why}): tracepoints are unavailable`,
  );
}

const LIBCRYPTO = /^libcrypto\.so\.(3|1\.1)$/;

/**
 * libcrypto files to put uprobes on: every `libcrypto.so.3` / `libcrypto.so.1.1` under `roots` (depth ≤ 4), one
 * per distinct file (symlinks and the /lib → /usr/lib merge resolved).
 */
export function findLibcrypto(
  roots: readonly string[] = ["/usr/lib", "/lib", "/opt"],
  maxDepth = 4,
): string[] {
  const seenDirs = new Set<string>();
  const files = new Map<string, string>();
  const walk = (dir: string, depth: number) => {
    let real: string;
    try {
      real = realpathSync(dir);
    } catch {
      return;
    }
    if (seenDirs.has(real)) return;
    seenDirs.add(real);
    let entries: import("node:fs").Dirent[];
    try {
      entries = readdirSync(real, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      const full = join(real, entry.name);
      if (entry.isDirectory()) {
        if (depth < maxDepth) walk(full, depth + 1);
      } else if (LIBCRYPTO.test(entry.name) && (entry.isFile() || entry.isSymbolicLink())) {
        try {
          const target = realpathSync(full);
          const st = statSync(target);
          if (st.isFile()) files.set(`${st.dev}:${st.ino}`, target);
        } catch {}
      }
    }
  };
  for (const root of roots) walk(root, 0);
  return [...files.values()].sort();
}

/** Library files given by the user: they must exist and be regular files. */
export function checkLibraries(paths: readonly string[]): string[] {
  return paths.map((p) => {
    try {
      const real = realpathSync(p);
      if (!lstatSync(real).isFile()) throw new Error();
      return real;
    } catch {
      throw new CollectorError(`--libcrypto ${p}: no such library file`);
    }
  });
}

/** The CPUs the kernel has online (bpftrace attaches its per-CPU probes to these). */
export function onlineCpus(file = "/sys/devices/system/cpu/online"): number[] {
  const cpus: number[] = [];
  const text = readFileSync(file, "utf8").trim();
  for (const part of text.split(",")) {
    const [a, b] = part.split("-").map(Number);
    for (let c = a; c <= (b ?? a); c++) cpus.push(c);
  }
  return cpus;
}
