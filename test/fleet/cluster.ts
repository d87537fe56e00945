import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { artifactIdentity } from "../../src/core/artifact.ts";
import { createProgress } from "../../src/core/progress.ts";
import type { Alert } from "../../src/core/stream/alerts.ts";
import { LineFeed } from "../../src/core/stream/run.ts";
import { readAlerts } from "../../src/fleet/alerts.ts";
import { EVENTS_STREAM, STATE_BUCKET } from "../../src/fleet/names.ts";
import { decodeCheckpoint, type SessionCheckpoint } from "../../src/fleet/session.ts";
import { watchNetwork } from "../../src/network/live/watch.ts";
import { ransomwareFleet } from "../../src/ransomware/fleet.ts";
import { trainCommand } from "../../src/ransomware/pipeline.ts";
import { simulateLogs } from "../../src/ransomware/simulate.ts";
import { watchRansomware } from "../../src/ransomware/watch.ts";
import { CLI_MAIN } from "../support/cli.ts";
import { waitFor } from "./helpers.ts";

/** Pieces the fleet tests and benchmark share: CLI processes, a trained model, reference alerts, drain checks. */
export const ROOT = join(fileURLToPath(import.meta.url), "..", "..", "..");
export const MAIN = CLI_MAIN;

export interface Proc {
  child: ChildProcess;
  exited: Promise<number | null>;
  stdout(): string;
  stderr(): string;
}

/** Runs `threatlens ARGS` as its own process (the built CLI), as a user would. */
export function cli(args: string[], env: Record<string, string> = {}): Proc {
  const child = spawn(process.execPath, [MAIN, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (err += d));
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  return { child, exited, stdout: () => out, stderr: () => err };
}

/** A small SVM trained on simulated logs (seconds), as the watch tests do. */
export async function trainSmallModel(dir: string, seed = 21, c = [0.1, 1]): Promise<string> {
  const train = await simulateLogs(join(dir, `train-${seed}`), { seed, logs: 4, scale: 0.3 });
  const grid = join(dir, `grid-${seed}.json`);
  writeFileSync(
    grid,
    JSON.stringify({
      space: { kernel: ["linear"], C: c, gamma: ["scale"], classWeight: [1], transform: ["log1p"] },
      folds: 2,
      cv: "grouped",
      selection: ["recall", "mcc"],
      seed: 1,
    }),
  );
  const model = join(dir, `model-${seed}-${c.join("_")}.json`);
  await trainCommand(
    train.logFiles,
    { output: model, labels: train.labelsFile, config: grid, workers: 1 },
    createProgress({ quiet: true }),
  );
  return model;
}

/** The alerts `ransomware watch --hostname HOST LOGS...` raises (the fleet must raise exactly these). */
export async function referenceAlerts(model: string, host: string, logs: string[]): Promise<Alert[]> {
  const alerts: Alert[] = [];
  await watchRansomware({
    model,
    input: { kind: "logs", paths: logs },
    hostname: host,
    stdout: null,
    onAlert: (a) => alerts.push(a),
  });
  return alerts;
}

/**
 * The alerts of a log read as a followed file that is never finished (a live source stopped by a signal): the same
 * engine and parser, fed line by line, without the end-of-input drain.
 */
export async function referenceLiveAlerts(model: string, host: string, log: string): Promise<Alert[]> {
  const alerts: Alert[] = [];
  const text = readFileSync(model, "utf8");
  const loaded = ransomwareFleet.loadModel(text, model, artifactIdentity(text, model));
  const engine = ransomwareFleet.createEngine({
    hostname: host,
    model: loaded,
    scorer: loaded.scorer,
    sinks: [{ write: (a) => alerts.push(a) }],
  });
  engine.detector.beginSource?.(log);
  const feed = new LineFeed(engine, ransomwareFleet.parser(log), log);
  const bytes = readFileSync(log);
  let start = 0;
  for (let line = 1; start < bytes.length; line++) {
    let end = bytes.indexOf(10, start);
    if (end < 0) end = bytes.length;
    feed.line(bytes, start, end, line);
    start = end + 1;
  }
  return alerts;
}

/** What `network watch --hostname HOST CAPTURES...` raises (the fleet must raise exactly these), and its packets. */
export async function networkReference(
  host: string,
  captures: string[],
): Promise<{ alerts: Alert[]; packets: number }> {
  const alerts: Alert[] = [];
  const result = await watchNetwork({
    input: { kind: "captures", paths: captures },
    hostname: host,
    stdout: null,
    onAlert: (a) => alerts.push(a),
  });
  return { alerts, packets: result.detector.packets };
}

/**
 * Waits until the alert stream holds `expected` (and no event is left unscored), then checks it holds exactly those
 * alerts, each once; returns what it holds.
 */
export async function expectExactly(nc: NatsConnection, expected: Alert[]): Promise<Alert[]> {
  await waitFor(
    async () => (await storedAlerts(nc)).length >= expected.length && (await eventsOutstanding(nc)) === 0,
    "the alerts",
  );
  const got = await storedAlerts(nc);
  assert.deepEqual(got.map((a) => a.id).sort(), expected.map((a) => a.id).sort());
  assert.equal(await alertMessageCount(nc), expected.length, "no alert stored twice");
  return got;
}

export async function storedAlerts(nc: NatsConnection): Promise<Alert[]> {
  const alerts: Alert[] = [];
  await readAlerts(nc, {}, (a) => alerts.push(a));
  return alerts;
}

/** Every alert message in the stream, duplicates included (readAlerts drops repeats: this must not). */
export async function alertMessageCount(nc: NatsConnection): Promise<number> {
  const jsm = await jetstreamManager(nc);
  return (await jsm.streams.info("TL_ALERTS")).state.messages;
}

/** Events waiting or in flight in the events stream's consumers. */
export async function eventsOutstanding(nc: NatsConnection): Promise<number> {
  const jsm = await jetstreamManager(nc);
  let n = 0;
  for await (const c of jsm.consumers.list(EVENTS_STREAM)) n += c.num_pending + c.num_ack_pending;
  return n;
}

export async function checkpoints(nc: NatsConnection): Promise<SessionCheckpoint[]> {
  const kv = await new Kvm(nc).open(STATE_BUCKET);
  const out: SessionCheckpoint[] = [];
  for await (const key of await kv.keys()) {
    const e = await kv.get(key);
    if (e?.operation === "PUT") out.push(decodeCheckpoint(e.value, key));
  }
  return out;
}

export function idCounts(alerts: Alert[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const a of alerts) m.set(a.id, (m.get(a.id) ?? 0) + 1);
  return m;
}
