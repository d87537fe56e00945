import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { appendFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { createProgress } from "../../src/core/progress.ts";
import type { Alert } from "../../src/core/stream/alerts.ts";
import { predictCommand, trainCommand } from "../../src/ransomware/pipeline.ts";
import { simulateLogs } from "../../src/ransomware/simulate.ts";
import { watchRansomware } from "../../src/ransomware/watch.ts";
import { CLI_MAIN, runCli } from "../support/cli.ts";
import { tempDir } from "./helpers.ts";

/**
 * `ransomware watch` on simulated logs: the same verdicts as `predict`, alerts from a followed log as it grows, a
 * restart after kill -9 that neither repeats nor skips, and a response that really stops a process.
 */
const root = join(fileURLToPath(import.meta.url), "..", "..", "..");
const main = CLI_MAIN;
const tmp = tempDir("threatlens-watch-");
after(tmp.cleanup);
const model = join(tmp.dir, "model.json");
const quiet = createProgress({ quiet: true });
let held: string[] = [];
let labels = "";

before(async () => {
  const train = await simulateLogs(join(tmp.dir, "train"), { seed: 21, logs: 4, scale: 0.3 });
  const heldOut = await simulateLogs(join(tmp.dir, "held"), { seed: 22, logs: 3, scale: 0.3 });
  held = heldOut.logFiles;
  labels = heldOut.labelsFile;
  const grid = join(tmp.dir, "grid.json");
  writeFileSync(
    grid,
    JSON.stringify({
      space: { kernel: ["linear"], C: [0.1, 1], gamma: ["scale"], classWeight: [1], transform: ["log1p"] },
      folds: 2,
      cv: "grouped",
      selection: ["recall", "mcc"],
      seed: 1,
    }),
  );
  await trainCommand(
    train.logFiles,
    { output: model, labels: train.labelsFile, config: grid, workers: 1 },
    quiet,
  );
});

const cli = (args: string[], input?: string) => runCli(args, { input });

const parseAlerts = (text: string): Alert[] =>
  text
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l));

describe("ransomware watch", () => {
  test("on held-out logs it alerts on exactly the processes predict labels ransomware", async () => {
    const { predictions } = await predictCommand(held, { model }, quiet);
    const predicted = predictions
      .filter((p) => p.label === "ransomware")
      .map((p) => `${p.log}:${p.pid}`)
      .sort();
    assert.ok(predicted.length > 0, "the held-out logs contain ransomware");
    const r = cli(["ransomware", "watch", "--model", model, ...held, "--stats", "0"]);
    assert.equal(r.code, 0, r.stderr);
    const alerts = parseAlerts(r.stdout);
    const alerted = [
      ...new Set(alerts.filter((a) => a.status === "new").map((a) => `${a.log}:${a.pid}`)),
    ].sort();
    assert.deepEqual(alerted, predicted);
    // Every line is a complete alert: unique id, stable incident, the fields a SIEM keys on.
    assert.equal(new Set(alerts.map((a) => a.id)).size, alerts.length);
    for (const a of alerts) {
      assert.equal(a.detector, "ransomware");
      assert.ok(a.score >= a.threshold || a.status !== "new");
      assert.match(a.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      assert.match(a.model.hash, /^sha256:[0-9a-f]{64}$/);
      assert.ok(Array.isArray((a.evidence as { recentPaths: string[] }).recentPaths));
    }
    assert.match(
      r.stderr,
      /threatlens summary: events [\d,]+, entities 0, dropped 0, alerts \d+ \(incidents \d+\)/,
    );
    // The labels agree with the verdicts on this simulated data (the model is not trivial).
    const labelled = readFileSync(labels, "utf8").split("\n").slice(1).filter(Boolean).length;
    assert.ok(labelled > 0);
  });

  test("--format text prints one readable line per alert", () => {
    const r = cli(["ransomware", "watch", "--model", model, held[0], "--format", "text", "--stats", "0"]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split("\n");
    assert.ok(lines.length > 0);
    for (const line of lines)
      assert.match(
        line,
        /^\S+Z (WARNING|ERROR|CRITICAL) ransomware.*: Ransomware-like file activity: pid \d+/,
      );
  });

  test("reads a log from stdin (-)", () => {
    const r = cli(
      ["ransomware", "watch", "--model", model, "-", "--stats", "0"],
      readFileSync(held[0], "utf8"),
    );
    assert.equal(r.code, 0, r.stderr);
    const file = cli(["ransomware", "watch", "--model", model, held[0], "--stats", "0"]);
    const key = (a: Alert) => `${a.pid}:${a.status}:${a.score}`;
    assert.deepEqual(parseAlerts(r.stdout).map(key), parseAlerts(file.stdout).map(key));
  });

  test("a malformed row is skipped, counted and reported; --strict stops at it with file and line", () => {
    const bad = join(tmp.dir, "bad.csv");
    const lines = readFileSync(held[0], "utf8").split("\n");
    lines.splice(3, 0, "12,not-a-pid,0,0,0,0,0,0,0,/x");
    writeFileSync(bad, lines.join("\n"));
    const lenient = cli(["ransomware", "watch", "--model", model, bad, "--stats", "0"]);
    assert.equal(lenient.code, 0, lenient.stderr);
    assert.match(lenient.stderr, /skipped a malformed record: .*bad\.csv:4: PID must be/);
    assert.match(lenient.stderr, /dropped 1, .*skipped 1 malformed record/);
    const strict = cli(["ransomware", "watch", "--model", model, bad, "--strict", "--stats", "0"]);
    assert.equal(strict.code, 1);
    assert.match(strict.stderr, /bad\.csv:4: PID must be/);
  });

  test("killed with SIGKILL and restarted with --state, it resumes: no alert repeated or lost, every event once", async () => {
    const log = join(tmp.dir, "growing.csv");
    const state = join(tmp.dir, "state");
    const all = readFileSync(held[1], "utf8").split("\n").filter(Boolean);
    // Incidents are named after the log: the reference run reads a copy with the same file name.
    const copy = join(tmp.dir, "train", "growing.csv");
    writeFileSync(copy, readFileSync(held[1]));
    const reference = cli(["ransomware", "watch", "--model", model, copy, "--stats", "0"]);
    const expected = parseAlerts(reference.stdout).filter((a) => a.status !== "ended");
    writeFileSync(log, `${all.slice(0, Math.floor(all.length / 2)).join("\n")}\n`);
    const first = startWatch(["--follow", log, "--state", state]);
    await waitFor(() => first.alerts().length > 0, "a first alert");
    await new Promise((r) => setTimeout(r, 1500)); // past a checkpoint
    first.child.kill("SIGKILL");
    await first.exited;
    appendFileSync(log, `${all.slice(Math.floor(all.length / 2)).join("\n")}\n`);
    const second = startWatch(["--follow", log, "--state", state]);
    await waitFor(() => second.stderrText().includes("lag"), "a stats line", 20000);
    await waitForQuiet(second);
    second.child.kill("SIGTERM");
    await second.exited;
    const got = [...first.alerts(), ...second.alerts()];
    const ids = got.map((a) => a.id);
    assert.equal(new Set(ids).size, ids.length, "no alert written twice");
    assert.deepEqual(
      got.map((a) => a.id).sort(),
      expected.map((a) => a.id).sort(),
      "the alerts of one uninterrupted run",
    );
    assert.match(second.stderrText(), /resumed from the checkpoint/);
    const events = Number(
      /threatlens summary: events ([\d,]+)/.exec(second.stderrText())![1].replaceAll(",", ""),
    );
    assert.equal(events, all.length - 1, "every event counted once across the restart");
  });

  test("--respond kill ends the alerted process and the alert says so", async () => {
    const victim = spawn("sleep", ["120"]);
    const exited = new Promise<NodeJS.Signals | null>((r) => victim.once("exit", (_c, s) => r(s)));
    const rows = readFileSync(held[0], "utf8").split("\n");
    const ransomwarePids = new Set(
      readFileSync(labels, "utf8")
        .split("\n")
        .filter((l) => l.startsWith(`${held[0].split("/").pop()},`))
        .map((l) => l.split(",")[1]),
    );
    assert.ok(ransomwarePids.size > 0);
    const [target] = ransomwarePids;
    const log = join(tmp.dir, "respond.csv");
    writeFileSync(
      log,
      [
        rows[0],
        ...rows
          .slice(1)
          .filter((l) => l.split(",")[1] === target)
          .map((l) => l.replace(/^(\d+),\d+,/, `$1,${victim.pid},`)),
      ].join("\n"),
    );
    try {
      const r = cli(["ransomware", "watch", "--model", model, log, "--respond", "kill", "--stats", "0"]);
      assert.equal(r.code, 0, r.stderr);
      const opened = parseAlerts(r.stdout).find((a) => a.status === "new")!;
      assert.equal(opened.pid, victim.pid);
      assert.deepEqual(opened.response, { action: "kill", pids: [victim.pid!], ok: true });
      assert.equal(await exited, "SIGKILL");
    } finally {
      victim.kill("SIGKILL");
    }
  });

  test("the library runs the same watch in-process", async () => {
    const alerts: Alert[] = [];
    const { summary } = await watchRansomware({
      model,
      input: { kind: "logs", paths: held },
      stdout: null,
      onAlert: (a) => alerts.push(a),
    });
    assert.equal(summary.alerts, alerts.length);
    assert.ok(summary.incidents > 0);
    assert.equal(summary.activeEntities, 0);
  });
});

function startWatch(args: string[]) {
  const child: ChildProcess = spawn(
    process.execPath,
    [main, "ransomware", "watch", "--model", model, "--stats", "0.2", ...args],
    { cwd: root },
  );
  let out = "";
  let err = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (err += d));
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  return {
    child,
    exited,
    alerts: () => parseAlerts(out.slice(0, out.lastIndexOf("\n") + 1)),
    stderrText: () => err,
  };
}

async function waitFor(check: () => boolean, what: string, ms = 20000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Waits until the watch has read everything (its stats line says nothing is behind, twice in a row). */
async function waitForQuiet(w: ReturnType<typeof startWatch>): Promise<void> {
  await waitFor(() => {
    const lines = w
      .stderrText()
      .trim()
      .split("\n")
      .filter((l) => l.includes("behind"));
    return lines.length >= 2 && lines.slice(-2).every((l) => l.includes("behind 0 B"));
  }, "the watch to catch up");
}
