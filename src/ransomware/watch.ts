import type { Readable } from "node:stream";
import { startCollector } from "../collector/index.ts";
import type { CollectorOptions, CollectorSummary } from "../collector/types.ts";
import { readArtifactIdentity } from "../core/artifact.ts";
import { UsageError } from "../core/errors.ts";
import { dataPath } from "../core/package-root.ts";
import type { Alert } from "../core/stream/alerts.ts";
import type { EndReason, Scorer } from "../core/stream/detector.ts";
import { type AlertLedger, type AlertSink, type Responder, StreamEngine } from "../core/stream/engine.ts";
import {
  FileLineSource,
  type LineSource,
  type OverloadPolicy,
  StreamLineSource,
} from "../core/stream/line-sources.ts";
import { ProcessResponder } from "../core/stream/respond.ts";
import { type RunSummary, StreamRun } from "../core/stream/run.ts";
import { type AlertFormat, FileSink, StreamSink } from "../core/stream/sinks.ts";
import { StateDirectory } from "../core/stream/state.ts";
import { type ProcessEntity, RANSOMWARE_SCHEDULE, RansomwareDetector } from "./detector.ts";
import type { FileEvent } from "./events.ts";
import { checkLogNames } from "./extract.ts";
import { loadRansomwareModel, type RansomwareModel } from "./model.ts";
import { RansomwareScorer } from "./scorer.ts";
import { eventLogParser } from "./stream.ts";

/** The default model shipped in the package (docs/models/ransomware.md is its card). */
export const DEFAULT_RANSOMWARE_MODEL = dataPath("models", "ransomware.json");

export const RANSOMWARE_RULE = "Ransomware-like file activity";

export type WatchInput =
  | { kind: "logs"; paths: string[] }
  /** The eBPF collector (or strace), in the extended layout; it never traces the watch itself. */
  | { kind: "collect"; options: CollectorOptions }
  | { kind: "follow"; path: string }
  | { kind: "stdin" }
  | { kind: "stream"; stream: Readable; name: string };

export interface WatchOptions {
  /** Model file; default: the model shipped in the package. */
  model?: string;
  input: WatchInput;
  /** Resume from and checkpoint to this directory. */
  state?: string;
  /** Alerts to this stream (default stdout) and/or file. */
  stdout?: NodeJS.WritableStream | null;
  alertsFile?: string;
  format?: AlertFormat;
  respond?: "stop" | "kill";
  /** Pids a response must never signal (the collector, the watch itself). */
  protectedPids?: number[];
  strict?: boolean;
  /** Appended to the error that stops a strict run. */
  strictHint?: string;
  statsMs?: number;
  statsFormat?: "text" | "json";
  statsStream?: NodeJS.WritableStream;
  overload?: OverloadPolicy;
  queueBytes?: number;
  idleTimeoutS?: number;
  hostname?: string;
  onWarning?: (message: string) => void;
  onAlert?: (alert: Alert) => void;
  /** Every process that ended, with its highest score (batch verdicts). */
  onEnded?: (entity: ProcessEntity, reason: EndReason) => void;
  handleSignals?: boolean;
}

export interface WatchResult {
  summary: RunSummary;
  model: RansomwareModel;
  modelPath: string;
  /** The collector's own summary (events, lost events, …) when the input was `collect`. */
  collector?: CollectorSummary;
}

/**
 * Runs the ransomware detector over logs, a followed log, stdin or a live stream: every process re-scored as its
 * events arrive, alerts when a score crosses the threshold. Batch `predict` is this with a verdict per process.
 */
export async function watchRansomware(options: WatchOptions): Promise<WatchResult> {
  const modelPath = options.model ?? DEFAULT_RANSOMWARE_MODEL;
  const model = await loadRansomwareModel(modelPath);
  const identity = await readArtifactIdentity(modelPath);
  const sinks: AlertSink[] = [];
  const stdout = options.stdout === undefined ? process.stdout : options.stdout;
  if (stdout) sinks.push(new StreamSink(stdout, options.format ?? "json"));
  const fileSink = options.alertsFile ? new FileSink(options.alertsFile, "json") : null;
  if (fileSink) sinks.push(fileSink);
  const state = options.state ? new StateDirectory(options.state) : undefined;
  const engine = createRansomwareEngine({
    windowMs: model.windowMs,
    idleTimeoutS: options.idleTimeoutS,
    hostname: options.hostname,
    scorer: new RansomwareScorer(model, identity),
    sinks,
    ledger: state,
    responder: options.respond
      ? new ProcessResponder(options.respond, new Set([1, process.pid, ...(options.protectedPids ?? [])]))
      : undefined,
    onAlert: options.onAlert ? (a) => options.onAlert!(a) : undefined,
    onEnded: options.onEnded,
  });
  const collector =
    options.input.kind === "collect"
      ? startCollector({
          ...options.input.options,
          format: "extended",
          excludePids: [...(options.input.options.excludePids ?? []), process.pid],
        })
      : null;
  const { sources, independent, live } = collector
    ? {
        sources: [
          new StreamLineSource(collector.output, {
            name: "collector",
            overload: options.overload,
            maxQueueBytes: options.queueBytes,
          }),
        ],
        independent: false,
        live: true,
      }
    : sourcesFor(options);
  const run = new StreamRun({
    engine,
    sources,
    parser: eventLogParser,
    strict: options.strict,
    strictHint: options.strictHint ?? "(the run stops at malformed rows because of --strict)",
    independentSources: independent,
    state,
    owner: `ransomware ${identity.hash}`,
    statsMs: options.statsMs,
    statsFormat: options.statsFormat,
    statsStream: options.statsStream,
    lagMs: live ? () => monotonicLagMs(engine.clock) : undefined,
    onWarning: options.onWarning,
    // With the collector, a signal stops the collector: what it emitted is still read, then the input ends. The
    // processes still running stay in the checkpoint rather than being ended as if they had exited.
    handleSignals: options.handleSignals && !collector,
    drainAtEnd: !collector,
  });
  const untrap = collector && options.handleSignals ? trapSignals(() => void collector.stop()) : null;
  // Events the kernel emitted that never reached the collector are dropped events too: counted as they happen.
  let lostSeen = 0;
  const countLost = () => {
    const lost = collector?.stats().lost ?? 0;
    if (lost > lostSeen) engine.countDropped(lost - lostSeen);
    lostSeen = Math.max(lostSeen, lost);
  };
  const lostTimer = collector ? setInterval(countLost, 1000) : null;
  lostTimer?.unref();
  try {
    if (collector) {
      collector.done.catch(() => {}); // awaited below; a tracer failure also rejects `ready`
      await collector.ready;
      options.onWarning?.(`collector: ${collector.stats().scope}, probes attached`);
    }
    const summary = await run.run();
    let collected: CollectorSummary | undefined;
    if (collector) {
      collected = await collector.stop();
      countLost();
      summary.dropped = engine.counters.dropped;
    }
    return { summary, model, modelPath, collector: collected };
  } finally {
    if (lostTimer) clearInterval(lostTimer);
    untrap?.();
    if (collector) await collector.stop().catch(() => {});
    fileSink?.close();
  }
}

function trapSignals(onSignal: () => void): () => void {
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  return () => {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  };
}

export interface RansomwareEngineOptions {
  windowMs: number;
  idleTimeoutS?: number;
  hostname?: string;
  scorer: Scorer;
  sinks: AlertSink[];
  ledger?: AlertLedger;
  responder?: Responder;
  onAlert?: (alert: Alert, entity: ProcessEntity) => void;
  onEnded?: (entity: ProcessEntity, reason: EndReason) => void;
}

/**
 * The ransomware detector in the streaming engine, as every live path runs it: `watch`, and the fleet's scorers and
 * edge agents (src/fleet), so one host watched alone and the same host in a fleet raise the same alerts.
 */
export function createRansomwareEngine(
  options: RansomwareEngineOptions,
): StreamEngine<FileEvent, ProcessEntity> {
  const detector = new RansomwareDetector({ windowMs: options.windowMs, idleTimeoutS: options.idleTimeoutS });
  return new StreamEngine<FileEvent, ProcessEntity>(detector, {
    rule: RANSOMWARE_RULE,
    hostname: options.hostname,
    scorer: options.scorer,
    schedule: RANSOMWARE_SCHEDULE,
    idleNs: detector.idleNs,
    sinks: options.sinks,
    ledger: options.ledger,
    responder: options.responder,
    onAlert: options.onAlert,
    onEnded: options.onEnded,
  });
}

/**
 * How far behind the events the detector is, when they are stamped with this host's monotonic clock (the collector's
 * TS, a log it is writing): null for logs from elsewhere, whose clock says nothing about now.
 */
function monotonicLagMs(eventTimeNs: number): number | null {
  const delay = Number(process.hrtime.bigint()) - eventTimeNs;
  return delay >= 0 && delay < 86400e9 ? delay / 1e6 : null;
}

function sourcesFor(options: WatchOptions): {
  sources: LineSource[];
  independent: boolean;
  live: boolean;
} {
  const input = options.input;
  const streamOptions = { overload: options.overload, maxQueueBytes: options.queueBytes };
  switch (input.kind) {
    case "collect":
      throw new Error("the collector's source is made by watchRansomware");
    case "logs":
      if (input.paths.length === 0)
        throw new UsageError("no input: give event logs, --follow LOG, --collect or -");
      checkLogNames(input.paths);
      return { sources: input.paths.map((p) => new FileLineSource(p)), independent: true, live: false };
    case "follow":
      return { sources: [new FileLineSource(input.path, { follow: true })], independent: false, live: true };
    case "stdin":
      return {
        sources: [new StreamLineSource(process.stdin, { name: "stdin", ...streamOptions })],
        independent: false,
        live: true,
      };
    case "stream":
      return {
        sources: [new StreamLineSource(input.stream, { name: input.name, ...streamOptions })],
        independent: false,
        live: true,
      };
  }
}
