import type { Readable } from "node:stream";
import { readArtifactIdentity } from "../core/artifact.ts";
import { UsageError } from "../core/errors.ts";
import { dataPath } from "../core/package-root.ts";
import type { Alert } from "../core/stream/alerts.ts";
import type { EndReason, Scorer } from "../core/stream/detector.ts";
import {
  type AlertLedger,
  type AlertSink,
  type Responder,
  type ScoringSchedule,
  StreamEngine,
} from "../core/stream/engine.ts";
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
import { type ProcessEntity, RansomwareDetector } from "./detector.ts";
import type { FileEvent } from "./events.ts";
import { checkLogNames } from "./extract.ts";
import { loadRansomwareModel, type RansomwareModel } from "./model.ts";
import { RansomwareScorer } from "./scorer.ts";
import { eventLogParser } from "./stream.ts";

/** The default model shipped in the package (docs/models/ransomware.md is its card). */
export const DEFAULT_RANSOMWARE_MODEL = dataPath("models", "ransomware.json");

export const RANSOMWARE_RULE = "Ransomware-like file activity";

/**
 * When the live detector scores a process: once it has 8 events, then after every 8 more or every 100 ms of event
 * time. A process that encrypts a file costs 3–4 events (open, create, encrypt, delete), so a score is at most about
 * two files old; linear scoring costs ~1 µs, so this keeps up with hundreds of thousands of events per second.
 */
export const RANSOMWARE_SCHEDULE: ScoringSchedule = { minEvents: 8, everyEvents: 8, everyNs: 100e6 };

export type WatchInput =
  | { kind: "logs"; paths: string[] }
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
  const { sources, independent, live } = sourcesFor(options);
  const run = new StreamRun({
    engine,
    sources,
    parser: eventLogParser,
    strict: options.strict,
    strictHint: "(the run stops at malformed rows because of --strict)",
    independentSources: independent,
    state,
    owner: `ransomware ${identity.hash}`,
    statsMs: options.statsMs,
    statsFormat: options.statsFormat,
    statsStream: options.statsStream,
    lagMs: live ? () => monotonicLagMs(engine.clock) : undefined,
    onWarning: options.onWarning,
    handleSignals: options.handleSignals,
  });
  try {
    const summary = await run.run();
    return { summary, model, modelPath };
  } finally {
    fileSink?.close();
  }
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
