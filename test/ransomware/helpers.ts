import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EVENT_COLUMNS } from "../../src/ransomware/events.ts";

/** A row of an event log: t in seconds since an arbitrary origin; type O/C/D/E. */
export interface TestEvent {
  t: number;
  pid: number;
  type: "O" | "C" | "D" | "E";
  name?: string;
  pattern?: number;
}

const TYPE_CODE = { O: 0, C: 1, D: 2, E: 3 } as const;

export function logText(events: TestEvent[], originSec = 1000): string {
  const lines = [EVENT_COLUMNS.join(",")];
  for (const e of events) {
    const ns = Math.round(e.t * 1e9);
    const sec = originSec + Math.floor(ns / 1e9);
    const ts = `${sec}${String(ns % 1e9).padStart(9, "0")}`;
    const name = e.name ?? (e.type === "E" ? "EVP_EncryptInit_ex" : `/home/u/f${Math.floor(e.t * 1000)}.txt`);
    lines.push(`${ts},${e.pid},${TYPE_CODE[e.type]},0,${e.pattern ?? 0},0,0,0,0,${name}`);
  }
  return `${lines.join("\n")}\n`;
}

export function tempDir(prefix = "threatlens-test-"): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function writeLog(dir: string, name: string, events: TestEvent[], originSec?: number): string {
  const path = join(dir, name);
  writeFileSync(path, logText(events, originSec));
  return path;
}

/** Events of one process from a type string like "OCDOCED", one every `step` seconds. */
export function sequence(pid: number, types: string, step = 0.001, start = 0): TestEvent[] {
  return [...types].map((type, i) => ({ t: start + i * step, pid, type: type as TestEvent["type"] }));
}
