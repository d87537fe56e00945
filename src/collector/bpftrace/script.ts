import { readFileSync } from "node:fs";
import { dataPath } from "../../core/package-root.ts";

/** The in-kernel scope, already resolved to ids. */
export type KernelScope =
  | { kind: "host" }
  | { kind: "tree"; pids: readonly number[] }
  | { kind: "cgroup"; ids: readonly bigint[] }
  | { kind: "comm"; name: string };

export interface ScriptOptions {
  mode: "files" | "syscalls";
  collectorPid: number;
  scope: KernelScope;
  /** Processes never traced besides the collector and bpftrace (the caller's own process, say). */
  excludePids: readonly number[];
  /** libcrypto files to put the encrypt uprobes on (files mode). */
  libcrypto: readonly string[];
}

/** The shipped script templates (data/collector/*.bt). */
export function templateDir(): string {
  return dataPath("collector");
}

function template(name: string, dir: string): string {
  return readFileSync(`${dir}/${name}.bt`, "utf8");
}

/** The scope test every emitting probe starts with: the scope map first, so that most events stop at one lookup. */
export function scopePredicate(scope: KernelScope): string {
  const common = "@stop == 0 && @excl[pid] == 0";
  switch (scope.kind) {
    case "host":
      return common;
    case "tree":
      return `@tree[pid] && ${common}`;
    case "cgroup":
      return `@cg[cgroup] && ${common}`;
    case "comm":
      return `comm == "${scope.name}" && ${common}`;
  }
}

/** The complete bpftrace program for one collector run. */
export function renderScript(options: ScriptOptions, dir = templateDir()): string {
  const { scope } = options;
  if (scope.kind === "comm" && !/^[\x20-\x7e]{1,15}$/.test(scope.name)) throw new Error("invalid comm");
  for (const lib of options.libcrypto) {
    // A path goes into a probe name: keep to the characters bpftrace accepts there unquoted.
    if (!/^\/[\w./+-]+$/.test(lib)) throw new Error(`unsupported library path ${lib}`);
  }
  const seed: string[] = [`@excl[${options.collectorPid}] = 1;`];
  for (const pid of options.excludePids) seed.push(`@excl[${pid}] = 1;`);
  if (scope.kind === "tree") for (const pid of scope.pids) seed.push(`@tree[${pid}] = 1;`);
  if (scope.kind === "cgroup") for (const id of scope.ids) seed.push(`@cg[${id}] = 1;`);
  const parts = [template("common", dir)];
  if (options.mode === "files") {
    parts.push(template("files", dir));
    const uprobes = template("libcrypto", dir);
    for (const lib of options.libcrypto) parts.push(uprobes.replaceAll("{{LIB}}", lib));
  } else parts.push(template("syscalls", dir));
  if (scope.kind === "tree") parts.push(template("tree", dir));
  parts.push(template("end", dir));
  return parts
    .join("\n")
    .replaceAll("{{COLLECTOR}}", String(options.collectorPid))
    .replaceAll("{{SCOPE}}", scopePredicate(scope))
    .replace("{{SEED}}", seed.join("\n  "))
    .replace("{{CLEAR}}", scope.kind === "cgroup" ? "clear(@cg);" : "");
}
