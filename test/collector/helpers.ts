import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { findExecutable } from "../../src/collector/environment.ts";
import { parseCsv } from "../../src/core/csv.ts";

export const root = join(fileURLToPath(import.meta.url), "..", "..", "..");
export const fixtures = join(root, "test", "collector", "fixtures");

/**
 * Why the live tests cannot run here, or null when they can: they need root, bpftrace and a kernel that lets
 * bpftrace attach a tracepoint (checked once by attaching one).
 */
export function ebpfUnavailable(): string | null {
  if (process.getuid?.() !== 0) return "not root: the eBPF collector tests need root";
  if (findExecutable("bpftrace") === null) return "bpftrace is not installed";
  const probe = spawnSync(
    "bpftrace",
    ["-e", "tracepoint:syscalls:sys_enter_getpid { exit(); } BEGIN { exit(); }"],
    {
      encoding: "utf8",
      timeout: 60_000,
    },
  );
  if (probe.status !== 0) {
    const why = probe.stderr.split("\n").filter((l) => l.trim() !== "" && !/RLIMIT_MEMLOCK/.test(l))[0];
    return `eBPF refused here (bpftrace cannot attach a tracepoint: ${why ?? `status ${probe.status}`})`;
  }
  return null;
}

export function tempDir(prefix = "threatlens-collector-"): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Compiles a C fixture (gcc, with libcrypto and pthreads) into `dir`; returns the binary's path. */
export function compile(name: string, dir: string): string {
  const out = join(dir, name);
  const r = spawnSync("gcc", ["-O2", "-pthread", "-o", out, join(fixtures, `${name}.c`), "-lcrypto"], {
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(`gcc ${name}.c failed: ${r.stderr}`);
  return out;
}

export interface Counts {
  opens: number;
  creates: number;
  deletes: number;
  renames: number;
  encrypts: number;
}

/** The files counted.c expects in `dir`. */
export function prepareCounted(dir: string, c: Counts): void {
  mkdirSync(dir, { recursive: true });
  for (let i = 0; i < c.opens; i++) writeFileSync(join(dir, `o-${i}`), "x");
  for (let i = 0; i < c.deletes; i++) writeFileSync(join(dir, `d-${i}`), "x");
  for (let i = 0; i < c.renames; i++) writeFileSync(join(dir, `r-${i}`), "x");
}

export function countedArgs(dir: string, c: Counts, threads: number): string[] {
  return [dir, c.opens, c.creates, c.deletes, c.renames, c.encrypts, threads].map(String);
}

export async function readAll(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("latin1");
}

export interface Row {
  [column: string]: string;
}

/** Rows of collector CSV output as objects keyed by column name. */
export function rows(text: string): Row[] {
  const table = parseCsv(text, "collector output");
  return table.rows.map((r) => Object.fromEntries(table.header.map((h, i) => [h, r[i]])));
}

/**
 * What counted.c did in `dir`, as seen in the extended rows: file events under `dir`, and encrypt events of the
 * processes that made them (or of `pid`).
 */
export function observed(
  all: Row[],
  dir: string,
  pid?: number,
): Counts & { pids: Set<string>; tids: Set<string> } {
  const inDir = all.filter(
    (r) => (pid === undefined || r.PID === String(pid)) && r.FILENAME.startsWith(`${dir}/`),
  );
  const pids = pid === undefined ? new Set(inDir.map((r) => r.PID)) : new Set([String(pid)]);
  const mine = [...inDir, ...all.filter((r) => r.TYPE === "3" && pids.has(r.PID))];
  const count = (pred: (r: Row) => boolean) => mine.filter(pred).length;
  return {
    opens: count((r) => r.TYPE === "0" && /\/o-\d+$/.test(r.FILENAME)),
    creates: count((r) => r.TYPE === "1" && /\/c-\d+$/.test(r.FILENAME)),
    deletes: count((r) => r.TYPE === "2" && /\/d-\d+$/.test(r.FILENAME)),
    renames: count((r) => r.TYPE === "2" && /\/r-\d+$/.test(r.FILENAME) && r.OP.startsWith("rename")),
    encrypts: count((r) => r.TYPE === "3" && r.FILENAME === "EVP_CipherInit_ex"),
    pids: new Set(mine.map((r) => r.PID)),
    tids: new Set(mine.map((r) => r.TID)),
  };
}
