import { appendFileSync, readFileSync, rmSync } from "node:fs";
import { resolve } from "node:path";
import { jetstream } from "@nats-io/jetstream";
import type { Alert } from "../core/stream/alerts.ts";
import type { AlertLedger, AlertSink } from "../core/stream/engine.ts";
import { type RunSummary, StreamRun } from "../core/stream/run.ts";
import { StateDirectory } from "../core/stream/state.ts";
import { type AgentOptions, openAgent, ServerLink } from "./agent.ts";
import { errorText, sleep } from "./connection.ts";
import { loadPointed, type ModelPointer, ModelSlot, watchModels } from "./models.ts";
import { agentSummarySubject, alertSubject } from "./names.ts";
import { SpoolPublisher } from "./publisher.ts";
import { fleetDetector } from "./registry.ts";
import { Spool, type SpoolHeader } from "./spool.ts";

/**
 * The edge agent: scores on the host with the same engine `watch` runs (so the alerts are the ones a single-host
 * watch raises) and ships only alerts and periodic summaries. Alerts go through a disk spool like the thin agent's
 * batches; the engine checkpoints into the state directory, so a restarted edge agent resumes its input and raises
 * no alert twice. The model comes from the fleet's object store (a copy is kept to start without the server) and is
 * swapped in place when a new version is pushed.
 */
export interface EdgeStats {
  host: string;
  detector: string;
  mode: "edge";
  session: string;
  modelVersion: number;
  alertsBuffered: number;
  alertsPublished: number;
  publishFailures: number;
  connected: boolean;
  engine: RunSummary | null;
}

interface AlertHeader extends SpoolHeader {
  id: string;
  detector: string;
  host: string;
}

interface CachedModel {
  pointer: ModelPointer;
  text: string;
}

export async function runEdgeAgent(options: AgentOptions): Promise<EdgeStats> {
  const { host, detector: input, sources, state } = openAgent(options);
  const detector = fleetDetector(input.kind);
  const spool = new Spool<AlertHeader>(state.path("alerts-spool"), { maxBytes: options.spoolMaxBytes });
  const link = new ServerLink(
    options.nats,
    `threatlens edge agent ${host} ${detector.kind}`,
    options.onWarning,
  );
  const stats: EdgeStats = {
    host,
    detector: detector.kind,
    mode: "edge",
    session: state.session.session,
    modelVersion: 0,
    alertsBuffered: spool.unacknowledged,
    alertsPublished: 0,
    publishFailures: 0,
    connected: false,
    engine: null,
  };
  const abort = new AbortController();
  const slot = new ModelSlot(detector.kind);
  const useModel = (pointer: ModelPointer, text: string, loaded = loadPointed(pointer, text)) => {
    if (pointer.version === slot.version) return;
    if (!slot.set(loaded, pointer.version)) {
      options.onWarning?.(
        `${detector.kind} model version ${pointer.version} has ${loaded.compatibility}: not applied`,
      );
      return;
    }
    stats.modelVersion = pointer.version;
    state.writeJson("model-cache.json", { pointer, text } satisfies CachedModel);
    options.onInfo?.(`scoring with ${detector.kind} model version ${pointer.version} (${pointer.name})`);
  };
  const cached = state.readJson<CachedModel>("model-cache.json");
  if (cached) {
    try {
      useModel(cached.pointer, cached.text);
    } catch (error) {
      options.onWarning?.(`the cached model is unusable (${errorText(error)}): waiting for the server's`);
    }
  }
  let publisher: SpoolPublisher<AlertHeader> | null = null;
  link.ready.then((nc) => {
    publisher = new SpoolPublisher(
      jetstream(nc),
      spool,
      { subject: (h) => alertSubject(h.detector, h.host), msgId: (h) => h.id },
      {
        window: 64,
        onError: (m) => options.onWarning?.(`publishing alerts: ${m} (retrying; alerts stay in the spool)`),
      },
    );
    watchModels(
      nc,
      (m) => {
        if (m.pointer.detector === detector.kind) useModel(m.pointer, m.text, m.loaded);
      },
      (message) => options.onWarning?.(message),
      abort.signal,
    ).catch(() => {});
  });
  while (!slot.ready) {
    if (!options.onInfo) await sleep(200);
    else {
      options.onInfo(`waiting for a ${detector.kind} model from the server (threatlens fleet models push)`);
      await sleep(2000);
    }
  }

  // The spool is the ledger: an alert's id is recorded once the alert is in the spool, so a restart that raises it
  // again (from an older checkpoint) finds it and writes nothing.
  const idsFile = state.path("alerts.ids");
  const ids = new Set<string>();
  try {
    for (const line of readFileSync(idsFile, "utf8").split("\n")) if (line) ids.add(line);
  } catch {
    // No alerts yet.
  }
  const ledger: AlertLedger = { has: (id) => ids.has(id), add: () => {} };
  const sink: AlertSink = {
    write(alert: Alert) {
      spool.append({ id: alert.id, detector: alert.detector, host }, Buffer.from(JSON.stringify(alert)));
      appendFileSync(idsFile, `${alert.id}\n`);
      ids.add(alert.id);
      (publisher as SpoolPublisher<AlertHeader> | null)?.kick();
    },
  };
  const engine = detector.createEngine({
    hostname: host,
    model: slot.loaded,
    scorer: slot,
    sinks: [sink],
    ledger,
  });
  const files = options.input.kind === "files";
  const engineDir = state.path("engine");
  if (files) {
    // A files run starts afresh unless it is the same files, interrupted: then it resumes from the checkpoint.
    const run = {
      paths: (options.input as { paths: string[] }).paths.map((p) => resolve(p)),
      complete: false,
    };
    const previous = state.readJson<typeof run>("run.json");
    if (!previous || previous.complete || JSON.stringify(previous.paths) !== JSON.stringify(run.paths))
      rmSync(engineDir, { recursive: true, force: true });
    state.writeJson("run.json", run);
  }
  const run = new StreamRun({
    engine,
    sources,
    parser: (source) => detector.parser(source.name),
    state: new StateDirectory(engineDir),
    owner: `fleet-edge ${detector.kind} ${host}`,
    independentSources: files,
    drainAtEnd: true,
    statsMs: options.statsMs,
    onWarning: options.onWarning,
    handleSignals: options.handleSignals,
  });
  const update = () => {
    stats.alertsBuffered = spool.unacknowledged;
    stats.connected = link.connected;
    const p = publisher as SpoolPublisher<AlertHeader> | null;
    if (p) {
      stats.alertsPublished = p.stats.published;
      stats.publishFailures = p.stats.failures;
    }
    stats.engine = {
      ...run.snapshot(),
      skippedLines: 0,
      skippedExamples: [],
      resumed: false,
      stoppedBySignal: false,
    };
  };
  const subject = agentSummarySubject(detector.kind, host);
  const summaryTimer = setInterval(() => {
    update();
    link.summary(subject, stats);
  }, options.summaryMs ?? 5000);
  const metaTimer = setInterval(() => spool.saveMeta(), 200);
  summaryTimer.unref();
  metaTimer.unref();
  try {
    const summary = await run.run();
    update();
    stats.engine = summary;
    if (files && !summary.stoppedBySignal) state.writeJson("run.json", { paths: [], complete: true });
    const deadline =
      options.timeoutMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + options.timeoutMs;
    while (spool.unacknowledged > 0 && Date.now() < deadline) {
      await Promise.race([spool.waitForEmpty(), sleep(1000)]);
    }
    update();
  } finally {
    clearInterval(summaryTimer);
    clearInterval(metaTimer);
    abort.abort();
    await (publisher as SpoolPublisher<AlertHeader> | null)?.stop();
    await link.summaryNow(subject, stats);
    spool.close();
    await link.close();
    state.unlock();
  }
  return stats;
}
