/**
 * npm run bench:live — the live detector measured as a user runs it (a `threatlens ransomware watch` process):
 *   1. throughput: a log appended at rising rates while `watch --follow` reads it, until the watch falls behind;
 *   2. alert latency: from the write of the event that decides an alert to the alert line, through a pipe (the path
 *      the collector's events take), p50 and p99;
 *   3. memory over a soak with process churn (new processes all the time, most ending with an exit row);
 *   4. the collector's overhead and `network watch`'s packets/s, when those benchmarks are present;
 *   5. replay: `ransomware watch LOG > alerts` on a 4 M-event log of the same mix, written beforehand: events per
 *      second of wall time and of CPU time (the one-core figure, which the following writer cannot reach when the
 *      writer itself needs a core).
 * Options: --soak-seconds N (default 600, the issue's 10 minutes), --only throughput|latency|soak|replay.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { benignEvents, EXTENDED_HEADER, exitRow, mixedProcess, ransomwareEvents } from "./live-events.ts";

const root = join(fileURLToPath(import.meta.url), "..", "..");
const cliPath = join(root, "dist", "cli", "main.js");
const args = process.argv.slice(2);
const option = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const soakSeconds = Number(option("--soak-seconds") ?? 600);
const only = option("--only");
const work = mkdtempSync(join(tmpdir(), "threatlens-bench-live-"));
if (!existsSync(cliPath)) {
  console.error("bench:live needs the built CLI: run npm run build first");
  process.exit(1);
}
const model = modelForBench();

function modelForBench(): string {
  const shipped = join(root, "data", "models", "ransomware.json");
  if (existsSync(shipped)) return shipped;
  const data = join(root, "..", "shared", "data", "ransomware");
  const out = join(work, "model.json");
  const r = spawnSync(
    process.execPath,
    [
      cliPath,
      "ransomware",
      "train",
      join(data, "logs"),
      "--labels",
      join(data, "labels.csv"),
      "-o",
      out,
      "-q",
    ],
    { encoding: "utf8" },
  );
  if (r.status !== 0) throw new Error(`could not train a model for the benchmark: ${r.stderr}`);
  return out;
}

interface Stats {
  records: number;
  behindBytes: number;
  lagMs: number | null;
  alerts: number;
  dropped: number;
}

function startWatch(extra: string[], stdin: "pipe" | "ignore" = "ignore") {
  const child = spawn(
    process.execPath,
    [cliPath, "ransomware", "watch", "--model", model, "--stats-json", ...extra],
    {
      stdio: [stdin, "pipe", "pipe"],
    },
  );
  let stats: Stats | null = null;
  let errBuffer = "";
  child.stderr!.on("data", (d: Buffer) => {
    errBuffer += d.toString();
    let nl = errBuffer.indexOf("\n");
    while (nl >= 0) {
      const line = errBuffer.slice(0, nl);
      errBuffer = errBuffer.slice(nl + 1);
      if (line.startsWith("{")) stats = JSON.parse(line).stats;
      nl = errBuffer.indexOf("\n");
    }
  });
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  return { child, exited, stats: () => stats };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function throughput(): Promise<void> {
  console.log("\n1. ransomware watch --follow: sustained events/s on a log appended at rising rates");
  const log = join(work, "rising.csv");
  writeFileSync(log, `${EXTENDED_HEADER}\n`);
  // Fresh events all the time (5 % of processes ransomware-like), time-stamped 1 µs apart in event time.
  let t = 1_000_000_000_000n;
  const ts = () => (t += 1000n);
  let pid = 10_000;
  let pending = "";
  let pendingEvents = 0;
  const generate = (events: number): { text: string; events: number } => {
    while (pendingEvents < events) {
      const next = mixedProcess(pid++, ts);
      pending += next.text;
      pendingEvents += next.events;
    }
    const text = pending;
    const n = pendingEvents;
    pending = "";
    pendingEvents = 0;
    return { text, events: n };
  };
  const watch = startWatch(["--follow", log, "--stats", "0.5"]);
  await sleep(1500);
  let sustained = 0;
  let bytesPerEvent = 100;
  for (const rate of [100_000, 200_000, 400_000, 600_000, 800_000, 1_200_000, 1_600_000]) {
    const seconds = 4;
    const start = performance.now();
    let written = 0;
    let bytes = 0;
    while (performance.now() - start < seconds * 1000) {
      const due = Math.floor(((performance.now() - start) / 1000) * rate);
      if (due > written) {
        // At most 20 ms of events per write, so a writer that fell behind catches up in steps, not one huge string.
        const { text, events } = generate(Math.min(due - written, rate / 50));
        appendFileSync(log, text);
        written += events;
        bytes += text.length;
      }
      await sleep(2);
    }
    bytesPerEvent = bytes / written;
    const achieved = written / ((performance.now() - start) / 1000);
    await sleep(1000);
    const s = watch.stats();
    const behind = s ? s.behindBytes / bytesPerEvent : Number.NaN;
    const kept = s !== null && behind < rate * 0.05;
    console.log(
      `   ${Math.round(achieved).toLocaleString("en-US").padStart(10)} events/s written: ${kept ? "kept up" : "FELL BEHIND"} (${Math.round(behind).toLocaleString("en-US")} events unread 1 s after the step)`,
    );
    if (!kept) break;
    sustained = achieved;
  }
  watch.child.kill("SIGTERM");
  await watch.exited;
  console.log(
    `   sustained: ${Math.round(sustained).toLocaleString("en-US")} events/s on one core (target ≥ 500,000)`,
  );
}

async function latency(): Promise<void> {
  console.log(
    "\n2. alert latency: deciding event written → alert line read, through a pipe (the collector's path)",
  );
  const spawned = Date.now();
  const watch = startWatch(["-", "--stats", "1"], "pipe");
  const stdin = watch.child.stdin!;
  stdin.write(`${EXTENDED_HEADER}\n`);
  // Latency is measured on a running watch: events written while it still starts (Node, modules, the model) wait in
  // the pipe, and their delay is the start-up, reported on its own.
  while (watch.stats() === null && Date.now() - spawned < 30_000) await sleep(20);
  console.log(`   start-up: first stats line ${Date.now() - spawned} ms after the process was spawned`);
  const latencies: number[] = [];
  const lockers = new Set<number>();
  let out = "";
  watch.child.stdout!.on("data", (d: Buffer) => {
    const now = process.hrtime.bigint();
    out += d.toString();
    let nl = out.indexOf("\n");
    while (nl >= 0) {
      const alert = JSON.parse(out.slice(0, nl));
      out = out.slice(nl + 1);
      // The ransomware-like processes' first alerts; the benign background's own alerts are counted apart.
      if (alert.status === "new" && lockers.has(alert.pid))
        latencies.push(Number(now - BigInt(alert.eventTime)) / 1e6);
      else if (alert.status === "new" && alert.evidence?.scope === "children") groupAlerts++;
      else if (alert.status === "new") backgroundAlerts++;
      nl = out.indexOf("\n");
    }
  });
  let backgroundAlerts = 0;
  // Every synthetic process has the same parent, so their group holds the ransomware-like ones too.
  let groupAlerts = 0;
  // Background: benign processes at ~20 k events/s; every 100 ms a new ransomware-like process starts and encrypts a
  // file every 2 ms. Every row is stamped with the monotonic clock at the moment it is written.
  const now = () => process.hrtime.bigint();
  let pid = 50_000;
  const active: { pid: number; files: number }[] = [];
  const start = Date.now();
  let nextRansomware = start;
  const runs = 200;
  let started = 0;
  while (latencies.length < runs && Date.now() - start < 120_000) {
    let text = benignEvents(pid++, now, 40);
    if (Date.now() >= nextRansomware && started < runs) {
      lockers.add(pid);
      active.push({ pid: pid++, files: 0 });
      started++;
      nextRansomware += 100;
    }
    for (const r of active) text += ransomwareEvents(r.pid, now, 1, r.files++);
    while (active.length > 0 && active[0].files >= 60) text += exitRow(active.shift()!.pid, now(), "locker");
    stdin.write(text);
    await sleep(2);
  }
  stdin.end();
  await watch.exited;
  latencies.sort((a, b) => a - b);
  const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))];
  console.log(
    `   ${latencies.length} ransomware-like processes alerted: p50 ${q(0.5).toFixed(1)} ms, p99 ${q(0.99).toFixed(1)} ms, max ${latencies.at(-1)!.toFixed(1)} ms (target p99 ≤ 50 ms); ${backgroundAlerts} alerts on the synthetic benign processes, ${groupAlerts} on the group of all children of their common parent (ransomware-like ones included)`,
  );
}

async function soak(): Promise<void> {
  console.log(
    `\n3. memory over a ${soakSeconds}-s soak with process churn (~50 k events/s, new processes all the time)`,
  );
  const log = join(work, "soak.csv");
  writeFileSync(log, `${EXTENDED_HEADER}\n`);
  const watch = startWatch(["--follow", log, "--stats", "5"]);
  const samples: { s: number; rssMiB: number; entities: number }[] = [];
  let t = 2_000_000_000_000n;
  const ts = () => (t += 20_000n); // 50 k events per second of event time
  let pid = 100_000;
  const start = Date.now();
  let nextSample = start + 5000;
  while (Date.now() - start < soakSeconds * 1000) {
    let text = "";
    for (let k = 0; k < 25; k++) {
      const p = pid++;
      text += p % 50 === 0 ? ransomwareEvents(p, ts, 5) : benignEvents(p, ts, 20);
      // One process in ten never says goodbye: the idle timeout has to end it.
      if (p % 10 !== 0) text += exitRow(p, ts(), "worker");
    }
    appendFileSync(log, text);
    if (pid > 4_000_000) pid = 100_000;
    if (Date.now() >= nextSample) {
      nextSample += 5000;
      samples.push({ s: (Date.now() - start) / 1000, rssMiB: rssMiB(watch.child), entities: 0 });
    }
    await sleep(10);
  }
  watch.child.kill("SIGTERM");
  await watch.exited;
  const firstMinute = samples.filter((x) => x.s <= 60).map((x) => x.rssMiB);
  const lastMinute = samples.filter((x) => x.s > soakSeconds - 60).map((x) => x.rssMiB);
  const max = Math.max(...samples.map((x) => x.rssMiB));
  const avg = (a: number[]) => a.reduce((p, c) => p + c, 0) / Math.max(1, a.length);
  console.log(
    `   RSS: first minute ${avg(firstMinute).toFixed(0)} MiB, last minute ${avg(lastMinute).toFixed(0)} MiB, peak ${max.toFixed(0)} MiB over ${samples.length} samples`,
  );
  writeFileSync(join(work, "soak.json"), JSON.stringify(samples));
}

function rssMiB(child: ChildProcess): number {
  try {
    const status = readFileSync(`/proc/${child.pid}/status`, "utf8");
    return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024;
  } catch {
    return Number.NaN;
  }
}

async function replay(): Promise<void> {
  console.log("\n5. replay: ransomware watch LOG > alerts.jsonl, a log of 4 M events written beforehand");
  const log = join(work, "replay.csv");
  writeFileSync(log, `${EXTENDED_HEADER}\n`);
  let t = 1_000_000_000_000n;
  const ts = () => (t += 1000n);
  let events = 0;
  let text = "";
  for (let p = 10_000; events < 4_000_000; p++) {
    const next = mixedProcess(p, ts);
    text += next.text;
    events += next.events;
    if (text.length > 4_000_000) {
      appendFileSync(log, text);
      text = "";
    }
  }
  appendFileSync(log, text);
  childCpuSeconds();
  for (let run = 1; run <= 3; run++) {
    const start = performance.now();
    const r = spawnSync(
      "/bin/sh",
      [
        "-c",
        `exec "$0" "$1" ransomware watch "$2" --stats 0 -q > "$3"`,
        process.execPath,
        cliPath,
        log,
        join(work, "replay-alerts.jsonl"),
      ],
      { encoding: "utf8" },
    );
    const wall = (performance.now() - start) / 1000;
    if (r.status !== 0) throw new Error(`ransomware watch failed: ${r.stderr}`);
    const cpu = childCpuSeconds();
    const alerts = readFileSync(join(work, "replay-alerts.jsonl"), "utf8").split("\n").length - 1;
    console.log(
      `   run ${run}: ${events.toLocaleString("en-US")} events in ${wall.toFixed(2)} s = ${Math.round(events / wall).toLocaleString("en-US")} events/s wall, ${Math.round(events / cpu).toLocaleString("en-US")} per CPU-second (target ≥ 500,000 on one core); ${alerts} alerts`,
    );
  }
}

let childCpuBefore = 0;
/** CPU seconds (user + system) of the children waited for since the last call. */
function childCpuSeconds(): number {
  const times = readFileSync("/proc/self/stat", "utf8").split(") ")[1].split(" ");
  // Fields 16 and 17 of /proc/PID/stat (cutime, cstime), counted from the state field at index 0 here.
  const ticks = Number(times[13]) + Number(times[14]);
  const seconds = ticks / 100; // USER_HZ, 100 on Linux
  const delta = seconds - childCpuBefore;
  childCpuBefore = seconds;
  return delta;
}

try {
  console.log(`bench:live — model ${model}`);
  if (!only || only === "throughput") await throughput();
  if (!only || only === "latency") await latency();
  if (!only || only === "soak") await soak();
  if (!only || only === "replay") await replay();
} finally {
  rmSync(work, { recursive: true, force: true });
}
