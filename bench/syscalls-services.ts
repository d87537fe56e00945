/**
 * The syscall detector on real services (docs/syscalls.md, "Real services"): for each service of
 * bench/services/harness.ts, record normal sessions with `strace -f -p` attached to the running service, train on
 * some of them with the shipped defaults, then replay held-out normal sessions and one session per attack through
 * `syscalls watch` (the streaming engine, as live) and report which sessions raised an alert, with the process and
 * evidence. Run: npm run bench:syscalls-services [-- --sessions 4 --heldout 2 --requests 150 --out DIR --keep]
 *
 * `--keep` keeps the recordings (DIR/<service>/{train,held-out,attacks}/*.strace); `--from DIR` trains and replays
 * those again instead of recording, so that model settings (`--config FILE`, a syscall model config) compare on the
 * same sessions.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { barSpec, writeChart } from "../src/core/charts.ts";
import { createProgress } from "../src/core/progress.ts";
import { trainCommand } from "../src/syscalls/pipeline.ts";
import { watchSyscalls } from "../src/syscalls/watch.ts";
import {
  ATTACKS,
  type AttackName,
  attachStrace,
  attackPayload,
  buildService,
  hasStrace,
  normalTraffic,
  SERVICES,
  type ServiceSpec,
  ShellListener,
  send,
  sleep,
  startService,
} from "./services/harness.ts";

const { values } = parseArgs({
  options: {
    sessions: { type: "string", default: "4" },
    heldout: { type: "string", default: "2" },
    requests: { type: "string", default: "150" },
    out: { type: "string" },
    service: { type: "string" },
    keep: { type: "boolean", default: false },
    from: { type: "string" },
    config: { type: "string" },
  },
});
const SESSIONS = Number(values.sessions);
const HELD_OUT = Number(values.heldout);
const REQUESTS = Number(values.requests);

if (!hasStrace()) {
  console.log("strace is not installed: nothing to measure (apt-get install strace)");
  process.exit(0);
}

interface SessionResult {
  service: string;
  session: string;
  kind: "normal" | AttackName;
  processes: number;
  /** Processes at or above the live threshold. */
  alertedProcesses: number;
  maxScore: number;
  alerted: boolean;
  alertProcess: string | null;
  evidence: unknown;
}

const work = values.from ?? mkdtempSync(join(tmpdir(), "threatlens-services-"));
const results: SessionResult[] = [];
const summary: Record<string, unknown>[] = [];
let port = 18800 + (process.pid % 500);

async function record(
  service: ServiceSpec,
  build: string,
  file: string,
  body: (port: number) => Promise<void>,
): Promise<void> {
  const running = await startService(service, ++port, join(work, service.name, "data"), build);
  try {
    await normalTraffic(service, running.port, 3, 1); // the service's first requests warm it up before recording
    const recording = await attachStrace(running.pid, file);
    try {
      await body(running.port);
      await sleep(300);
    } finally {
      await recording.stop();
    }
  } finally {
    await running.stop();
  }
}

try {
  for (const service of SERVICES) {
    if (values.service && values.service !== service.name) continue;
    if (!service.available()) {
      console.log(`${service.name}: skipped (${service.language} not available here)`);
      continue;
    }
    const dir = join(work, service.name);
    const train = join(dir, "train");
    const heldOut = join(dir, "held-out");
    const attacks = join(dir, "attacks");
    const started = performance.now();
    if (values.from) {
      if (!existsSync(train)) {
        console.log(`${service.name}: no recordings in ${dir}`);
        continue;
      }
    } else await recordSessions(service, dir, train, heldOut, attacks);
    const recordSeconds = (performance.now() - started) / 1000;
    const model = join(dir, "model");
    const t0 = performance.now();
    const { model: trained } = await trainCommand(
      [train],
      { output: model, config: values.config },
      createProgress({ quiet: true }),
    );
    const trainSeconds = (performance.now() - t0) / 1000;
    const threshold = trained.calibration.liveThreshold;
    const replay = async (file: string, kind: "normal" | AttackName) => {
      const maxByProcess = new Map<string, number>();
      let first: { process: string; evidence: unknown } | null = null;
      await watchSyscalls({
        model,
        input: { kind: "logs", paths: [file] },
        stdout: null,
        onAlert: (alert) => {
          first ??= { process: `${alert.entity} (${String(alert.comm ?? "?")})`, evidence: alert.evidence };
        },
        onEnded: (p) => maxByProcess.set(`${p.key}`, p.maxScore),
      });
      const maxScore = Math.max(...maxByProcess.values());
      const f = first as { process: string; evidence: unknown } | null;
      results.push({
        service: service.name,
        session: file.split("/").slice(-2).join("/"),
        kind,
        processes: maxByProcess.size,
        alertedProcesses: [...maxByProcess.values()].filter((s) => s >= threshold).length,
        maxScore,
        alerted: f !== null,
        alertProcess: f?.process ?? null,
        evidence: f?.evidence ?? null,
      });
    };
    for (const file of sessionFiles(heldOut)) await replay(join(heldOut, file), "normal");
    for (const attack of ATTACKS) await replay(join(attacks, `${attack}.strace`), attack);
    const normal = results.filter((r) => r.service === service.name && r.kind === "normal");
    const c = trained.calibration;
    summary.push({
      service: service.name,
      language: service.language,
      trainingTraces: trained.training.traces,
      trainingSessions: sessionFiles(train).length,
      heldOutSessions: normal.length,
      heldOutSessionsAlerted: normal.filter((r) => r.alerted).length,
      heldOutProcesses: normal.reduce((sum, r) => sum + r.processes, 0),
      heldOutProcessesAlerted: normal.reduce((sum, r) => sum + r.alertedProcesses, 0),
      programs: Object.keys(trained.training.programs).join(" "),
      liveThreshold: c.liveThreshold,
      liveExpectedFpr: c.liveExpectedFpr,
      recordSeconds,
      trainSeconds,
    });
    console.log(
      `${service.name}: ${trained.training.traces} training processes/threads in ${sessionFiles(train).length} sessions, profiles ${Object.keys(trained.training.programs).join(", ") || "none"}; live threshold ${c.liveThreshold.toFixed(2)} (expected ${(c.liveExpectedFpr.rate * 100).toFixed(2)} % of normal processes, 95 % ≤ ${(c.liveExpectedFpr.upper * 100).toFixed(2)} %); trained in ${trainSeconds.toFixed(1)} s`,
    );
    for (const r of results.filter((x) => x.service === service.name))
      console.log(
        `  ${r.kind.padEnd(8)} ${r.session.padEnd(30)} ${String(r.processes).padStart(4)} processes  max score ${r.maxScore.toFixed(2).padStart(6)}  ${r.alerted ? `ALERT ${r.alertProcess} ${JSON.stringify(r.evidence)}` : "no alert"}`,
      );
    const over = normal.reduce((sum, r) => sum + r.alertedProcesses, 0);
    const all = normal.reduce((sum, r) => sum + r.processes, 0);
    console.log(
      `  held-out normal: ${normal.filter((r) => r.alerted).length} of ${normal.length} sessions alerted, ${over} of ${all} processes at or above the threshold`,
    );
  }
  if (values.out) {
    mkdirSync(values.out, { recursive: true });
    writeFileSync(join(values.out, "services.json"), `${JSON.stringify({ summary, results }, null, 2)}\n`);
    await writeChart(values.out, "services-margins", marginChart());
  }
} finally {
  if (values.keep) console.log(`recordings and models kept in ${work}`);
  else if (!values.from) rmSync(work, { recursive: true, force: true });
}

/** Records the training, held-out and attack sessions of `service` under `dir`. */
async function recordSessions(
  service: ServiceSpec,
  dir: string,
  train: string,
  heldOut: string,
  attacks: string,
): Promise<void> {
  const build = join(dir, "build");
  buildService(service, build);
  for (const d of [train, heldOut, attacks]) mkdirSync(d, { recursive: true });
  for (let s = 0; s < SESSIONS + HELD_OUT; s++) {
    const file = join(s < SESSIONS ? train : heldOut, `session-${s}.strace`);
    await record(service, build, file, (p) => normalTraffic(service, p, REQUESTS, 100 + s));
  }
  const listener = new ShellListener();
  const listenerPort = await listener.start();
  for (const attack of ATTACKS) {
    const file = join(attacks, `${attack}.strace`);
    await record(service, build, file, async (p) => {
      await normalTraffic(service, p, 20, 900);
      await send(p, service.exploit(attackPayload(attack, { listenerPort, scratch: dir })));
      await normalTraffic(service, p, 10, 901);
    });
  }
  await listener.stop();
}

/**
 * Each service's highest held-out normal process and each attack session's highest process, as score minus the live
 * threshold: below 0 stays quiet, at or above 0 alerts.
 */
function marginChart() {
  const items = summary.flatMap((s) => {
    const mine = results.filter((r) => r.service === s.service);
    const threshold = s.liveThreshold as number;
    const normal = Math.max(...mine.filter((r) => r.kind === "normal").map((r) => r.maxScore));
    return [
      { name: `${s.service}: highest normal process`, value: normal - threshold },
      ...mine
        .filter((r) => r.kind !== "normal")
        .map((r) => ({ name: `${s.service}: ${r.kind}`, value: r.maxScore - threshold })),
    ];
  });
  return barSpec(items, {
    horizontal: true,
    title: "Highest process score minus the live threshold (≥ 0: alert)",
    yTitle: "score − live threshold",
  });
}

/** The session recordings of a folder, in session order. */
function sessionFiles(dir: string): string[] {
  const number = (f: string) => Number(/(\d+)/.exec(f)?.[1] ?? 0);
  return readdirSync(dir)
    .filter((f) => f.endsWith(".strace"))
    .sort((a, b) => number(a) - number(b));
}
