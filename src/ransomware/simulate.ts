import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { csvField } from "../core/csv.ts";
import { randomInt, seededRandom } from "../core/random.ts";
import { EVENT_COLUMNS, formatTimestamp } from "./events.ts";

/**
 * Synthetic event logs in the eBPF detector's schema, for the quick start, tests and demos. They imitate the
 * shapes seen in real recordings — benign daemons, build tools, backups and package managers that also touch many
 * files, and ransomware whose worker processes open, create, encrypt and delete files at high rates and drop ransom
 * notes — but they are not real telemetry, and models trained on them say nothing about real attacks.
 */
export interface SimulateOptions {
  seed: number;
  logs?: number;
  /** Multiplies the amount of activity per process. */
  scale?: number;
}

export interface SimulatedData {
  logFiles: string[];
  labelsFile: string;
  events: number;
  processes: number;
  ransomwareProcesses: number;
}

interface Event {
  t: number;
  pid: number;
  type: number;
  pattern: number;
  name: string;
}

const USERS = ["alice", "bob", "carol"];
const DOC_DIRS = ["Documents", "Pictures", "Projects", "Desktop", "Music", "Downloads"];
const EXTENSIONS = ["docx", "xlsx", "pdf", "jpg", "png", "txt", "odt", "csv", "mp3", "zip", "c", "py"];
const SYSTEM_FILES = [
  "/etc/passwd",
  "/etc/hosts",
  "/etc/resolv.conf",
  "/etc/ld.so.cache",
  "/usr/lib/x86_64-linux-gnu/libc.so.6",
  "/usr/lib/x86_64-linux-gnu/libssl.so.3",
  "/usr/lib/x86_64-linux-gnu/libcrypto.so.3",
  "/proc/self/status",
  "/sys/fs/cgroup/cpu.max",
  "/var/lib/dpkg/status",
  "/usr/share/zoneinfo/UTC",
];
const RANSOM_EXTENSIONS = ["locked", "enc", "crypt", "x1337", "pay2decrypt"];
const ENCRYPT_FUNCTIONS = ["EVP_EncryptInit_ex", "EVP_CipherInit_ex", "EVP_EncryptInit"];

export async function simulateLogs(outDir: string, options: SimulateOptions): Promise<SimulatedData> {
  const random = seededRandom(options.seed);
  const scale = options.scale ?? 1;
  const logCount = options.logs ?? 8;
  const logsDir = join(outDir, "logs");
  await mkdir(logsDir, { recursive: true });
  const pick = <T>(items: readonly T[]): T => items[randomInt(random, items.length)];
  const between = (lo: number, hi: number) => lo + random() * (hi - lo);
  const count = (lo: number, hi: number) => Math.max(1, Math.round(between(lo, hi) * scale));
  const docPath = (user: string) =>
    `/home/${user}/${pick(DOC_DIRS)}/${pick(["", "2023/", "work/", "old/"])}file${randomInt(random, 5000)}.${pick(EXTENSIONS)}`;

  const labelLines = ["log,pid,label,source"];
  const logFiles: string[] = [];
  let totalEvents = 0;
  let totalProcesses = 0;
  let ransomwareProcesses = 0;

  for (let l = 0; l < logCount; l++) {
    const events: Event[] = [];
    let nextPid = 1000 + randomInt(random, 3000);
    const newPid = () => (nextPid += 1 + randomInt(random, 7));
    const duration = between(60, 180);
    const user = pick(USERS);

    // Benign background: short-lived processes reading libraries and configuration.
    for (let p = 0, n = 15 + randomInt(random, 25); p < n; p++) {
      const pid = newPid();
      let t = between(0, duration);
      for (let k = 0, m = count(2, 40); k < m; k++) {
        events.push({ t, pid, type: 0, pattern: 0, name: pick(SYSTEM_FILES) });
        t += between(0.0001, 0.05);
      }
      totalProcesses++;
    }
    // Benign heavy writers: each log gets a few of these, so "many file writes" alone is not ransomware.
    const heavy = ["build", "backup", "package", "browser", "sync"];
    for (let h = 0, n = 1 + randomInt(random, 3); h < n; h++) {
      const pid = newPid();
      const kind = pick(heavy);
      let t = between(0, duration / 2);
      const steps = count(150, 900);
      for (let k = 0; k < steps; k++) {
        const dt = () => (t += between(0.0005, 0.02));
        if (kind === "build") {
          const src = `/home/${user}/Projects/app/src/mod${randomInt(random, 300)}.c`;
          events.push({ t: dt(), pid, type: 0, pattern: 0, name: src });
          events.push({ t: dt(), pid, type: 1, pattern: 0, name: `/tmp/cc${randomInt(random, 1e6)}.o` });
          if (random() < 0.5)
            events.push({ t: dt(), pid, type: 2, pattern: 0, name: `/tmp/cc${randomInt(random, 1e6)}.s` });
        } else if (kind === "backup") {
          events.push({ t: dt(), pid, type: 0, pattern: 0, name: docPath(user) });
          if (random() < 0.05)
            events.push({ t: dt(), pid, type: 1, pattern: 0, name: `/var/backups/chunk${k}.tar` });
          if (random() < 0.1) events.push({ t: dt(), pid, type: 3, pattern: 0, name: "EVP_EncryptInit_ex" });
        } else if (kind === "package") {
          const f = `/usr/share/pkg${randomInt(random, 40)}/f${randomInt(random, 1e5)}`;
          events.push({
            t: dt(),
            pid,
            type: 0,
            pattern: 0,
            name: `/var/cache/apt/archives/p${randomInt(random, 50)}.deb`,
          });
          events.push({ t: dt(), pid, type: 1, pattern: 0, name: `${f}.dpkg-new` });
          if (random() < 0.7) events.push({ t: dt(), pid, type: 2, pattern: 0, name: f });
        } else if (kind === "browser") {
          const c = `/home/${user}/.cache/browser/Cache/f_${randomInt(random, 1e6).toString(16)}`;
          events.push({ t: dt(), pid, type: random() < 0.6 ? 1 : 0, pattern: 0, name: c });
          if (random() < 0.3) events.push({ t: dt(), pid, type: 2, pattern: 0, name: c });
        } else {
          const f = docPath(user);
          events.push({ t: dt(), pid, type: 0, pattern: 0, name: f });
          events.push({ t: dt(), pid, type: 1, pattern: 0, name: `${f}.partial` });
          events.push({ t: dt(), pid, type: 3, pattern: 0, name: pick(ENCRYPT_FUNCTIONS) });
          events.push({ t: dt(), pid, type: 2, pattern: 0, name: `${f}.partial` });
          t += between(0.5, 3);
        }
      }
      totalProcesses++;
    }
    // Ransomware in most logs: a launcher plus several workers encrypting user files in parallel.
    if (l % 4 !== 3) {
      const ext = pick(RANSOM_EXTENSIONS);
      const note = `${pick(["README", "HOW_TO_DECRYPT", "restore-files"])}.txt`;
      // Variants rotate so that every data set of three or more ransomware logs holds each of them: copy then
      // delete with encrypt calls logged, in-place encryption, and copy then delete with no encrypt call visible.
      const variant = l % 3;
      const inPlace = variant === 1;
      const logsEncrypt = variant !== 2;
      const workers = 2 + randomInt(random, 5);
      const start = between(5, duration / 2);
      const launcher = newPid();
      for (let k = 0; k < 20; k++)
        events.push({ t: start + k * 0.001, pid: launcher, type: 0, pattern: 0, name: pick(SYSTEM_FILES) });
      for (let w = 0; w < workers; w++) {
        const pid = newPid();
        let t = start + between(0.01, 0.5);
        const files = count(100, 600);
        let dir = "";
        for (let k = 0; k < files; k++) {
          const f = docPath(user);
          const d = f.slice(0, f.lastIndexOf("/"));
          if (d !== dir) {
            dir = d;
            events.push({ t: (t += between(0.0002, 0.003)), pid, type: 0, pattern: 0, name: d });
            events.push({ t: (t += between(0.0002, 0.003)), pid, type: 1, pattern: 0, name: `${d}/${note}` });
          }
          events.push({ t: (t += between(0.0002, 0.004)), pid, type: 0, pattern: 0, name: f });
          if (!inPlace)
            events.push({ t: (t += between(0.0002, 0.004)), pid, type: 1, pattern: 0, name: `${f}.${ext}` });
          if (logsEncrypt) {
            events.push({
              t: (t += between(0.0001, 0.002)),
              pid,
              type: 3,
              pattern: random() < 0.2 ? 2 : 0,
              name: pick(ENCRYPT_FUNCTIONS),
            });
          }
          if (!inPlace)
            events.push({
              t: (t += between(0.0002, 0.004)),
              pid,
              type: 2,
              pattern: random() < 0.1 ? 1 : 0,
              name: f,
            });
        }
        labelLines.push(`sim_${options.seed}_${l}.csv,${pid},ransomware,simulated`);
        ransomwareProcesses++;
        totalProcesses++;
      }
      totalProcesses++;
    }
    events.sort((a, b) => a.t - b.t);
    // Nanoseconds since boot; every third log starts after 2^53 ns (~104 days) of uptime to exercise exact TS.
    const bootOffsetSec =
      l % 3 === 2 ? 9_100_000 + randomInt(random, 100_000) : 1_000 + randomInt(random, 50_000);
    const lines = [EVENT_COLUMNS.join(",")];
    for (const e of events) {
      const ns = Math.floor(e.t * 1e9);
      const ts = formatTimestamp(bootOffsetSec + Math.floor(ns / 1e9), ns % 1e9);
      const flag = e.pattern > 0 ? 2 : e.type === 3 || random() < 0.05 ? 1 : 0;
      lines.push(
        `${ts},${e.pid},${e.type},${flag},${e.pattern},0,${e.type === 1 ? 1 : 0},0,0,${csvField(e.name.slice(0, 63))}`,
      );
    }
    const file = join(logsDir, `sim_${options.seed}_${l}.csv`);
    await writeFile(file, `${lines.join("\n")}\n`);
    logFiles.push(file);
    totalEvents += events.length;
  }
  const labelsFile = join(outDir, "labels.csv");
  await writeFile(labelsFile, `${labelLines.join("\n")}\n`);
  return { logFiles, labelsFile, events: totalEvents, processes: totalProcesses, ransomwareProcesses };
}
