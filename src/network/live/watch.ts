import type { Readable } from "node:stream";
import { readArtifactIdentity } from "../../core/artifact.ts";
import { UsageError } from "../../core/errors.ts";
import { dataPath } from "../../core/package-root.ts";
import type { Alert } from "../../core/stream/alerts.ts";
import type { Scorer } from "../../core/stream/detector.ts";
import { type AlertLedger, type AlertSink, StreamEngine } from "../../core/stream/engine.ts";
import { type RunSummary, StreamRun } from "../../core/stream/run.ts";
import { type AlertFormat, FileSink, StreamSink } from "../../core/stream/sinks.ts";
import { StateDirectory } from "../../core/stream/state.ts";
import { formatIp } from "../capture/ip.ts";
import type { PacketRecord } from "../capture/types.ts";
import { formatCaptureWarning } from "../capture/types.ts";
import { formatTimestamp } from "../csv/write.ts";
import { flowFeatureNames } from "../flows/features.ts";
import type { FlowCursor, FlowScoringPoints, FlowTimeouts, ScoringPointName } from "../flows/table.ts";
import { loadNetworkModel, type NetworkModel } from "../model.ts";
import {
  NETWORK_SCHEDULE,
  NetworkDetector,
  type NetworkDetectorOptions,
  SUBJECT_IDLE_S,
  type SubjectEntity,
} from "./detector.ts";
import { type FlowModel, NetworkScorer, networkFlowModel } from "./scorer.ts";
import { CaptureFileSource, CaptureStreamSource } from "./sources.ts";
import { type CaptureCounts, LiveCapture } from "./tcpdump.ts";

/** The default model shipped in the package (docs/models/network.md is its card). */
export const DEFAULT_NETWORK_MODEL = dataPath("models", "network.json");

export const NETWORK_RULE = "Suspicious network flows";

export type NetworkWatchInput =
  /** Capture files replayed to their end, each an independent recording (as batch `classify` reads them). */
  | { kind: "captures"; paths: string[] }
  /** A capture arriving on stdin (`tcpdump -w - -U … | threatlens network watch -`). */
  | { kind: "stdin" }
  | { kind: "stream"; stream: Readable; name: string }
  /** A live interface through tcpdump. */
  | { kind: "interface"; name: string; filter?: string; tcpdump?: string; snaplen?: number };

/** One scoring of one flow (`--flow-scores`): the same identity and probability as a row of batch `classify`. */
export interface FlowScore {
  capture: string;
  srcIp: string;
  srcPort: string;
  dstIp: string;
  dstPort: string;
  protocol: string;
  startTime: string;
  point: ScoringPointName;
  probability: number;
  label: "malicious" | "benign";
}

export interface NetworkWatchOptions {
  model?: string;
  input: NetworkWatchInput;
  state?: string;
  stdout?: NodeJS.WritableStream | null;
  alertsFile?: string;
  format?: AlertFormat;
  timeouts?: Partial<FlowTimeouts>;
  points?: Partial<FlowScoringPoints>;
  includeCut?: boolean;
  /** A host raises an incident at its N-th flagged flow within a minute (default 3). */
  minFlaggedFlows?: number;
  statsMs?: number;
  statsFormat?: "text" | "json";
  statsStream?: NodeJS.WritableStream;
  hostname?: string;
  /** Replay capture files at this many times their own pace (0 or absent: as fast as possible). */
  pace?: number;
  onWarning?: (message: string) => void;
  onAlert?: (alert: Alert) => void;
  onFlowScored?: (score: FlowScore) => void;
  /** Called once the input is open (tcpdump listening), e.g. to start traffic in a test. */
  onReady?: () => void;
  handleSignals?: boolean;
  /** Stops the run (as a signal would): capture files keep their position in the checkpoint. */
  signal?: AbortSignal;
}

export interface NetworkWatchResult {
  summary: RunSummary;
  detector: NetworkDetector["counters"] & { packets: number; flowsActive: number; subjectsActive: number };
  /** tcpdump's own counts for a live interface. */
  capture?: CaptureCounts;
  model: NetworkModel;
  modelPath: string;
}

/**
 * Runs the network detector over capture files, a capture on a stream, or a live interface: flows scored at their
 * scoring points and when they end, alerts per source host (or target host) in the common alert format. Replaying a
 * capture scores every flow exactly as batch `network classify` does (same flow table, same context code, same model).
 */
export async function watchNetwork(options: NetworkWatchOptions): Promise<NetworkWatchResult> {
  const modelPath = options.model ?? DEFAULT_NETWORK_MODEL;
  const model = await loadNetworkModel(modelPath);
  checkLiveModel(model, modelPath);
  const identity = await readArtifactIdentity(modelPath);
  const flowModel = networkFlowModel(model);
  const onFlowScored = options.onFlowScored;
  const sinks: AlertSink[] = [];
  const stdout = options.stdout === undefined ? process.stdout : options.stdout;
  if (stdout) sinks.push(new StreamSink(stdout, options.format ?? "json"));
  const fileSink = options.alertsFile ? new FileSink(options.alertsFile, "json") : null;
  if (fileSink) sinks.push(fileSink);
  const state = options.state ? new StateDirectory(options.state) : undefined;
  const engine = createNetworkEngine({
    flowModel,
    scorer: new NetworkScorer(flowModel, identity),
    hostname: options.hostname,
    sinks,
    ledger: state,
    onAlert: options.onAlert,
    timeouts: options.timeouts,
    points: options.points,
    includeCut: options.includeCut,
    minFlaggedFlows: options.minFlaggedFlows,
    onWarning: (w) => options.onWarning?.(formatCaptureWarning(w)),
    onFlowScored: onFlowScored
      ? (flow, score, point) => onFlowScored(flowScore(flow, score, point, flowModel.threshold))
      : undefined,
  });
  const detector = engine.detector as NetworkDetector;
  const input = options.input;
  if (state && input.kind !== "captures") {
    throw new UsageError(
      "--state resumes capture files; a live interface or a stream has no position to resume",
    );
  }
  let live: LiveCapture | null = null;
  let sources: (CaptureFileSource | CaptureStreamSource)[];
  switch (input.kind) {
    case "captures":
      if (input.paths.length === 0)
        throw new UsageError("no input: give capture files, - for stdin, or --interface");
      sources = input.paths.map((p) => {
        const s = new CaptureFileSource(p);
        s.pace = options.pace ?? 0;
        return s;
      });
      break;
    case "stdin":
      sources = [new CaptureStreamSource("stdin", process.stdin)];
      break;
    case "stream":
      sources = [new CaptureStreamSource(input.name, input.stream)];
      break;
    case "interface":
      live = new LiveCapture({
        interface: input.name,
        filter: input.filter,
        tcpdump: input.tcpdump,
        snaplen: input.snaplen,
      });
      sources = [live.source];
      break;
  }
  const isLive = input.kind !== "captures";
  const run = new StreamRun<PacketRecord, SubjectEntity>({
    engine,
    sources,
    independentSources: input.kind === "captures",
    state,
    owner: `network ${identity.hash}`,
    statsMs: options.statsMs,
    statsFormat: options.statsFormat,
    statsStream: options.statsStream,
    recordNoun: "packets",
    statsExtra: () => ({
      flowsActive: detector.activeFlows,
      subjectsActive: detector.activeSubjects,
      flowsScored: scorings(detector),
    }),
    // Packet times are this host's wall clock when the capture is live.
    lagMs: isLive ? () => wallLagMs(engine.clock) : undefined,
    onWarning: options.onWarning,
    handleSignals: options.handleSignals && live === null,
  });
  const stop = () => (live ? void live.stop() : run.stop());
  options.signal?.addEventListener("abort", stop, { once: true });
  if (options.signal?.aborted) stop();
  const untrap = live && options.handleSignals ? trapSignals(() => void live.stop()) : null;
  // tcpdump's kernel drop count grows while it runs (asked for with SIGUSR1) and is final at its exit.
  let droppedSeen = 0;
  const countDropped = () => {
    const dropped = live?.stats().dropped ?? 0;
    if (dropped > droppedSeen) engine.countDropped(dropped - droppedSeen);
    droppedSeen = Math.max(droppedSeen, dropped);
  };
  const statsTimer = live
    ? setInterval(() => {
        countDropped();
        live.refresh();
      }, 1000)
    : null;
  statsTimer?.unref();
  // A quiet live capture still moves time on: flows idle past their timeout end (and are scored) within a second or
  // so, not at the next packet. One second behind the wall clock, so that packets still in the pipe are not older;
  // and only while the packets are stamped with this host's clock (not an old capture piped to stdin).
  const clockTimer = isLive
    ? setInterval(() => {
        const now = Date.now() * 1e6 - 1e9;
        if (Number.isFinite(engine.clock) && now - engine.clock < 300e9) engine.advance(now);
      }, 500)
    : null;
  clockTimer?.unref();
  try {
    if (live) {
      // A failure to start ends the capture stream at once: report it instead of an empty run.
      await live.started();
      options.onWarning?.(`tcpdump listening on ${input.kind === "interface" ? input.name : ""}`);
    }
    options.onReady?.();
    const summary = await run.run();
    let capture: CaptureCounts | undefined;
    if (live) {
      capture = await live.stop();
      for (const w of live.warnings) options.onWarning?.(`tcpdump: ${w}`);
      countDropped();
      summary.dropped = engine.counters.dropped;
    }
    return {
      summary,
      detector: {
        ...detector.counters,
        packets: detector.extraction.packets,
        flowsActive: detector.activeFlows,
        subjectsActive: detector.activeSubjects,
      },
      capture,
      model,
      modelPath,
    };
  } finally {
    if (statsTimer) clearInterval(statsTimer);
    if (clockTimer) clearInterval(clockTimer);
    untrap?.();
    options.signal?.removeEventListener("abort", stop);
    if (live) await live.stop().catch(() => {});
    fileSink?.close();
  }
}

/** Refuses a model that live scoring cannot feed: its features must be a prefix of the flow features it computes. */
export function checkLiveModel(model: NetworkModel, path: string): void {
  const width = model.featureNames.length;
  if (model.featureNames.some((name, i) => flowFeatureNames[i] !== name)) {
    throw new UsageError(
      `${path}: this model's features are not threatlens flow features in order (a FlowMeter-flow or CSV-only model?); live scoring computes ${flowFeatureNames.length} features per flow`,
    );
  }
  if (width > flowFeatureNames.length)
    throw new UsageError(`${path}: ${width} features, more than live scoring computes`);
}

export interface NetworkEngineOptions
  extends Omit<
    NetworkDetectorOptions,
    "model" | "targetSources" | "targetWindow" | "hostWindow" | "maxSubjects"
  > {
  /** The flow model: its scale sets the alert policy's hysteresis. */
  flowModel: FlowModel;
  /**
   * What scores flows and subjects: the flow model's own scorer, or one that follows model versions (fleet mode) —
   * the detector flags flows with it too, so that flows and subjects are always judged by the same version.
   */
  scorer: Scorer;
  hostname?: string;
  sinks: AlertSink[];
  ledger?: AlertLedger;
  onAlert?: (alert: Alert) => void;
}

/**
 * The network detector in the streaming engine, as every live path runs it: `watch`, and the fleet's scorers and edge
 * agents (src/fleet), so one host watched alone and the same host in a fleet raise the same alerts.
 */
export function createNetworkEngine(
  options: NetworkEngineOptions,
): StreamEngine<PacketRecord, SubjectEntity> {
  const { flowModel, scorer, hostname, sinks, ledger, onAlert, ...detectorOptions } = options;
  const flows: FlowModel = {
    score: (features) => scorer.score(features),
    get threshold() {
      return scorer.threshold;
    },
    hysteresis: flowModel.hysteresis,
    priority: (score) => scorer.priority(score),
    width: flowModel.width,
  };
  const detector = new NetworkDetector({ ...detectorOptions, model: flows });
  return new StreamEngine<PacketRecord, SubjectEntity>(detector, {
    rule: NETWORK_RULE,
    hostname,
    scorer,
    schedule: NETWORK_SCHEDULE,
    idleNs: SUBJECT_IDLE_S * 1e9,
    alertPolicy: { hysteresis: flowModel.hysteresis },
    sinks,
    ledger,
    onAlert,
  });
}

function scorings(detector: NetworkDetector): number {
  const s = detector.counters.flowScorings;
  return s.early + s.close + s.final;
}

function flowScore(flow: FlowCursor, score: number, point: ScoringPointName, threshold: number): FlowScore {
  return {
    capture: flow.capture,
    srcIp: formatAddress(flow, "src"),
    srcPort: String(flow.srcPort),
    dstIp: formatAddress(flow, "dst"),
    dstPort: String(flow.dstPort),
    protocol: String(flow.protocol),
    startTime: formatTimestamp(flow.startSec, flow.startNsec),
    point,
    probability: score,
    label: score >= threshold ? "malicious" : "benign",
  };
}

function formatAddress(flow: FlowCursor, side: "src" | "dst"): string {
  return formatIp(flow.ipVersion, side === "src" ? flow.src : flow.dst);
}

function wallLagMs(eventTimeNs: number): number | null {
  const delay = Date.now() - eventTimeNs / 1e6;
  return Number.isFinite(delay) && delay > -1000 && delay < 86400e3 ? delay : null;
}

function trapSignals(onSignal: () => void): () => void {
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  return () => {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  };
}
