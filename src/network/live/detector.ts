import type { AlertSubject, Detector, EntityHooks } from "../../core/stream/detector.ts";
import { Entity } from "../../core/stream/detector.ts";
import type { ScoringSchedule } from "../../core/stream/engine.ts";
import { decodeTyped, encodeTyped, type TypedJSON } from "../../core/typed-json.ts";
import { formatIp } from "../capture/ip.ts";
import type { CaptureWarning, PacketRecord } from "../capture/types.ts";
import { type ExtractionStats, newStats, PacketSink } from "../flows/extract.ts";
import { flowFeatureNames } from "../flows/features.ts";
import {
  DEFAULT_SCORING_POINTS,
  type FlowCursor,
  type FlowScoringPoints,
  type FlowTableJSON,
  type FlowTimeouts,
  SCORE_FINAL,
  SCORING_POINT_NAMES,
  type ScoringPointName,
} from "../flows/table.ts";
import type { FlowModel } from "./scorer.ts";

/**
 * The network detector as the streaming engine sees it. Packets go through the same packet sink, flow table and
 * context code as `network flows` / `train` / `classify`; every flow is scored by the flow model at its scoring points
 * (early: after N packets or T seconds; at a TCP close; when it ends, if packets came since — see FlowScoringPoints).
 *
 * Alerts are not about flows but about the hosts behind them: a port scan is thousands of flagged flows and must be
 * one incident. So the engine's entities are **subjects**: the source host of a flagged flow (its initiator), or — when
 * flagged flows converge on one destination from many sources within seconds, as spoofed floods and reflection do —
 * the target host. A subject exists only once one of its flows was flagged; every later scoring of its flows (flagged
 * or not) is one event of the subject and is scored by the engine, so its incident opens at the first flagged flow,
 * gets rate-limited updates while the host goes on, and closes once its flows score below the release level for the
 * alert policy's release time. Memory is bounded by the open flows (the flow table's timeouts) and the subjects
 * (idle ones end, at most `maxSubjects`).
 */
export interface NetworkDetectorOptions {
  model: FlowModel;
  timeouts?: Partial<FlowTimeouts>;
  points?: Partial<FlowScoringPoints>;
  /** Most subjects held at once; the least recently scored is ended beyond (counted as evicted). */
  maxSubjects?: number;
  /** Flagged flows to one destination from this many distinct sources… */
  targetSources?: number;
  /** …within this many seconds make the destination the subject (a flood or reflection aimed at it). */
  targetWindow?: number;
  /**
   * A source host becomes a subject (and can raise an incident) at its N-th flagged flow within `hostWindow` seconds:
   * scans, floods and brute force are many flows, while one odd-looking flow of ordinary traffic stays quiet.
   */
  minFlaggedFlows?: number;
  hostWindow?: number;
  /** Score the connection attempts cut short by the end of the input too (batch `--include-cut`). */
  includeCut?: boolean;
  /** Every flow scoring (batch verdicts, tests). */
  onFlowScored?: (flow: FlowCursor, score: number, point: ScoringPointName) => void;
  onWarning?: (warning: CaptureWarning) => void;
}

/**
 * Every scoring of a subject's flows is one event of the subject, scored as it happens: the detector decides when
 * flows are scored (their scoring points), the engine turns each into the subject's running score.
 */
export const NETWORK_SCHEDULE: ScoringSchedule = { minEvents: 1, everyEvents: 1, everyNs: 0 };

/** A subject without any scoring of its flows for this long (event time) ends: longer than the release time. */
export const SUBJECT_IDLE_S = 120;
const MAX_SUBJECTS = 10_000;
const RECENT_FLOWS = 8;
const MAX_DISTINCT = 256;
const TARGET_SOURCES = 4;
const TARGET_WINDOW_S = 10;
const MAX_TARGETS = 4096;
export const DEFAULT_MIN_FLAGGED_FLOWS = 3;
const HOST_WINDOW_S = 60;
/** IPv4 subjects are keyed by their address word; target keys are offset so that host and target never collide. */
const TARGET_OFFSET = 2 ** 32;

/** Context features shown in the evidence: what tells a scan, a flood or a brute force at a glance. */
const EVIDENCE_CONTEXT = [
  "hostFlowRate_2s",
  "hostDistinctDsts_20s",
  "hostDistinctPorts_20s",
  "hostFailShare_2s",
  "hostAnswerShare_2s",
  "pairDistinctPorts_20s",
  "serviceDistinctClients_20s",
  "serviceAnswerShare_2s",
].map((name) => ({ name, index: flowFeatureNames.indexOf(name) }));
const F_PACKETS = flowFeatureNames.indexOf("flowLength");
const F_BYTES = flowFeatureNames.indexOf("packetSizeTotal");
const F_DURATION = flowFeatureNames.indexOf("flowDuration");

export type SubjectKind = "host" | "target";

/** What a subject's latest scored flow was, for the alert's evidence. */
interface FlowNote {
  src: string;
  sport: number;
  dst: string;
  dport: number;
  proto: string;
  point: ScoringPointName;
  score: number;
}

export class SubjectEntity extends Entity {
  flowsScored = 0;
  flowsFlagged = 0;
  /** Distinct peers (destinations of a host, sources of a target) and services of its flagged flows. */
  readonly flaggedPeers = new Set<string>();
  readonly flaggedServices = new Set<string>();
  /** Latest flagged flows, oldest first. */
  recent: string[] = [];
  lastFlow: FlowNote | null = null;
  readonly lastFeatures = new Float64Array(flowFeatureNames.length);

  constructor(
    readonly key: number | string,
    readonly kind: SubjectKind,
    readonly address: string,
  ) {
    super();
  }

  /** The subject host as the entity; the fields name its latest scored flow (5-tuple), so the alert says which. */
  describe(): AlertSubject {
    const flow = this.lastFlow;
    const fields: Record<string, string | number> =
      flow === null
        ? this.kind === "host"
          ? { src: this.address }
          : { dst: this.address }
        : { src: flow.src, sport: flow.sport, dst: flow.dst, dport: flow.dport, proto: flow.proto };
    return { entity: `${this.kind} ${this.address}`, fields };
  }
}

interface TargetSources {
  /** Source key → event time (s) of its latest flagged flow to this target. */
  sources: Map<number | string, number>;
}

export class NetworkDetector implements Detector<PacketRecord, SubjectEntity> {
  readonly kind = "network" as const;
  readonly idleNs = SUBJECT_IDLE_S * 1e9;
  /** Packets read, decoded, skipped by reason; flows finished. */
  readonly extraction: ExtractionStats = newStats();
  readonly counters = {
    flowScorings: { early: 0, close: 0, final: 0 },
    flaggedScorings: 0,
    flowsEnded: 0,
    /** Connection attempts cut short by the end of the input, not scored (see `includeCut`). */
    cutNotScored: 0,
    subjectsEvicted: 0,
  };
  private readonly sink: PacketSink;
  private readonly model: FlowModel;
  private readonly buffer = new Float64Array(flowFeatureNames.length);
  private readonly subjects = new Map<number | string, SubjectEntity>();
  private readonly targets = new Map<number | string, TargetSources>();
  private readonly maxSubjects: number;
  private readonly targetSources: number;
  private readonly targetWindow: number;
  private readonly minFlagged: number;
  private readonly hostWindow: number;
  /** Hosts with flagged flows that are not subjects yet: key → flagged count and the time of the first. */
  private readonly pending = new Map<number | string, { count: number; since: number }>();
  private hooks: EntityHooks<SubjectEntity> | null = null;
  private started = false;

  constructor(private readonly options: NetworkDetectorOptions) {
    this.model = options.model;
    this.maxSubjects = options.maxSubjects ?? MAX_SUBJECTS;
    this.targetSources = options.targetSources ?? TARGET_SOURCES;
    this.targetWindow = options.targetWindow ?? TARGET_WINDOW_S;
    this.minFlagged = options.minFlaggedFlows ?? DEFAULT_MIN_FLAGGED_FLOWS;
    this.hostWindow = options.hostWindow ?? HOST_WINDOW_S;
    if (!(Number.isInteger(this.minFlagged) && this.minFlagged >= 1)) {
      throw new RangeError("minFlaggedFlows must be an integer ≥ 1");
    }
    this.sink = new PacketSink(this.extraction, (w) => options.onWarning?.(w), { ...options.timeouts });
    this.sink.table.scoreAt({ ...DEFAULT_SCORING_POINTS, ...options.points }, (slot, point) =>
      this.scoreFlow(this.sink.table.cursorAt(slot), point),
    );
  }

  get activeEntities(): number {
    return this.sink.table.size + this.subjects.size;
  }

  /** Open flows (the flow table) and subjects, separately. */
  get activeFlows(): number {
    return this.sink.table.size;
  }

  get activeSubjects(): number {
    return this.subjects.size;
  }

  beginSource(name: string): void {
    this.sink.startCapture(name);
    this.started = true;
  }

  time(rec: PacketRecord): number {
    return rec.tsSec * 1e9 + rec.tsNsec;
  }

  /** Exact nanoseconds since 1970, as text (a double cannot hold them). */
  timeText(rec: PacketRecord): string {
    return rec.tsSec === 0 ? String(rec.tsNsec) : `${rec.tsSec}${String(rec.tsNsec).padStart(9, "0")}`;
  }

  observe(rec: PacketRecord, hooks: EntityHooks<SubjectEntity>): void {
    if (!this.started) this.beginSource("input");
    this.hooks = hooks;
    this.sink.add(rec);
    if (this.sink.table.pending > 0) this.finishFlows();
  }

  /**
   * Live inputs only: the wall clock moved on without packets, so flows idle past their timeout end and are scored now
   * rather than at the next packet (which may not come). Replays never call this, so they score as batch does.
   */
  advance(timeNs: number, hooks: EntityHooks<SubjectEntity>): void {
    if (!this.started) return;
    this.hooks = hooks;
    const sec = Math.floor(timeNs / 1e9);
    this.sink.table.advanceTo(sec, timeNs - sec * 1e9);
    if (this.sink.table.pending > 0) this.finishFlows();
  }

  /** Scores the flows that ended (if packets came since their last scoring) and frees them. */
  private finishFlows(): void {
    const includeCut = this.options.includeCut === true;
    this.counters.flowsEnded += this.sink.table.drain(Number.POSITIVE_INFINITY, (c) => {
      if (c.endReason === "cut" && !includeCut) {
        this.counters.cutNotScored++;
        return;
      }
      if (c.packets > c.scoredPackets) this.scoreFlow(c, SCORE_FINAL);
    });
  }

  private scoreFlow(c: FlowCursor, point: number): void {
    const features = c.features(this.buffer);
    const score = this.model.score(features);
    const name = SCORING_POINT_NAMES[point];
    this.counters.flowScorings[name]++;
    const flagged = score >= this.model.threshold;
    if (flagged) this.counters.flaggedScorings++;
    this.options.onFlowScored?.(c, score, name);
    if (!flagged && this.subjects.size === 0) return;
    const owner = this.ownerOf(c, flagged);
    if (owner === null) return;
    owner.flowsScored++;
    owner.lastFeatures.set(features);
    const note: FlowNote = {
      src: formatIp(c.ipVersion, c.src),
      sport: c.srcPort,
      dst: formatIp(c.ipVersion, c.dst),
      dport: c.dstPort,
      proto: protocolName(c.protocol),
      point: name,
      score,
    };
    owner.lastFlow = note;
    if (flagged) {
      owner.flowsFlagged++;
      const peer = owner.kind === "host" ? note.dst : note.src;
      if (owner.flaggedPeers.size < MAX_DISTINCT) owner.flaggedPeers.add(peer);
      const service = `${note.dport}/${note.proto}`;
      if (owner.flaggedServices.size < MAX_DISTINCT) owner.flaggedServices.add(service);
      owner.recent.push(
        `${note.src}:${note.sport} > ${note.dst}:${note.dport}/${note.proto} ${score.toFixed(3)} (${name})`,
      );
      if (owner.recent.length > RECENT_FLOWS) owner.recent.shift();
    }
    // Most recently scored last: the map's order is the eviction order.
    this.subjects.delete(owner.key);
    this.subjects.set(owner.key, owner);
    this.hooks!.touched(owner);
    if (this.subjects.size > this.maxSubjects) {
      const [oldestKey, oldest] = this.subjects.entries().next().value!;
      this.subjects.delete(oldestKey);
      this.counters.subjectsEvicted++;
      this.hooks!.ended(oldest, "evicted");
    }
  }

  /**
   * The subject a flow scoring counts for: an open incident of its source host, else of its destination; for a new
   * flagged flow, its source host — unless flagged flows from several sources converge on its destination (a
   * spoofed flood, reflection), then the destination. Unflagged flows only count for subjects that already exist.
   */
  private ownerOf(c: FlowCursor, flagged: boolean): SubjectEntity | null {
    const hostKey = subjectKey(c.ipVersion, c.src, "host");
    const targetKey = subjectKey(c.ipVersion, c.dst, "target");
    const host = this.subjects.get(hostKey);
    const target = this.subjects.get(targetKey);
    const convergent = flagged && this.noteTarget(targetKey, hostKey) >= this.targetSources;
    if (host?.incident) return host;
    if (target?.incident) return target;
    if (!flagged) return host ?? target ?? null;
    if (host === undefined && convergent) {
      return target ?? new SubjectEntity(targetKey, "target", formatIp(c.ipVersion, c.dst));
    }
    if (host !== undefined) return host;
    const earlier = this.notePending(hostKey);
    if (earlier === null) return null;
    const subject = new SubjectEntity(hostKey, "host", formatIp(c.ipVersion, c.src));
    subject.flowsFlagged = earlier;
    subject.flowsScored = earlier;
    return subject;
  }

  /**
   * Counts a flagged flow of a host that is not a subject yet; returns the flagged flows before this one once the
   * host reaches `minFlagged` within the host window (it becomes a subject), else null.
   */
  private notePending(key: number | string): number | null {
    if (this.minFlagged <= 1) return 0;
    const now = this.sink.table.clockSeconds;
    let entry = this.pending.get(key);
    if (entry === undefined || entry.since < now - this.hostWindow) entry = { count: 0, since: now };
    this.pending.delete(key);
    entry.count++;
    if (entry.count >= this.minFlagged) return entry.count - 1;
    this.pending.set(key, entry);
    if (this.pending.size > MAX_TARGETS) this.pending.delete(this.pending.keys().next().value!);
    return null;
  }

  /** Records a flagged flow from `source` to `target`; returns the distinct sources within the target window. */
  private noteTarget(target: number | string, source: number | string): number {
    const now = this.sink.table.clockSeconds;
    let entry = this.targets.get(target);
    if (entry === undefined) {
      entry = { sources: new Map() };
      if (this.targets.size >= MAX_TARGETS) this.targets.delete(this.targets.keys().next().value!);
    } else this.targets.delete(target);
    this.targets.set(target, entry);
    entry.sources.delete(source);
    entry.sources.set(source, now);
    if (entry.sources.size > 2 * this.targetSources) {
      entry.sources.delete(entry.sources.keys().next().value!);
    }
    let recent = 0;
    for (const t of entry.sources.values()) if (t >= now - this.targetWindow) recent++;
    return recent;
  }

  sweep(cutoff: number, hooks: EntityHooks<SubjectEntity>): void {
    for (const [key, subject] of this.subjects) {
      if (subject.lastSeen >= cutoff) break;
      this.subjects.delete(key);
      hooks.ended(subject, "idle");
    }
  }

  /** End of input: every flow ends and is scored, then every subject ends. */
  drain(hooks: EntityHooks<SubjectEntity>): void {
    this.hooks = hooks;
    this.sink.endCapture(true);
    this.finishFlows();
    for (const subject of [...this.subjects.values()]) {
      this.subjects.delete(subject.key);
      hooks.ended(subject, "end-of-input");
    }
    this.targets.clear();
    this.pending.clear();
    this.started = false;
  }

  features(subject: SubjectEntity): Float64Array {
    return subject.lastFeatures;
  }

  describe(subject: SubjectEntity): AlertSubject {
    return subject.describe();
  }

  evidence(subject: SubjectEntity): Record<string, unknown> {
    const f = subject.lastFeatures;
    const flow = subject.lastFlow;
    const context: Record<string, number> = {};
    for (const { name, index } of EVIDENCE_CONTEXT) context[name] = round(f[index]);
    return {
      scope: subject.kind === "host" ? "source host" : "target host",
      flowsScored: subject.flowsScored,
      flowsFlagged: subject.flowsFlagged,
      [subject.kind === "host" ? "flaggedDestinations" : "flaggedSources"]: subject.flaggedPeers.size,
      flaggedServices: subject.flaggedServices.size,
      services: [...subject.flaggedServices].slice(0, 10),
      recentFlows: [...subject.recent],
      flow: flow && {
        ...flow,
        score: round(flow.score),
        packets: f[F_PACKETS],
        bytes: f[F_BYTES],
        durationS: round(f[F_DURATION] / 1e9),
      },
      context,
    };
  }

  snapshot(): NetworkSnapshot {
    return {
      table: this.sink.table.toJSON(),
      fragments: this.sink.fragments.toJSON(),
      extraction: { ...this.extraction, warnings: [] },
      counters: structuredClone(this.counters),
      started: this.started,
      subjects: [...this.subjects.values()].map((s) => ({
        key: s.key,
        kind: s.kind,
        address: s.address,
        flowsScored: s.flowsScored,
        flowsFlagged: s.flowsFlagged,
        peers: [...s.flaggedPeers],
        services: [...s.flaggedServices],
        recent: s.recent,
        lastFlow: s.lastFlow,
        lastFeatures: encodeTyped(s.lastFeatures),
        tracking: s.saveTracking(),
      })),
      targets: [...this.targets].map(([key, t]) => [key, [...t.sources]]),
      pending: [...this.pending].map(([key, p]) => [key, p.count, p.since]),
    };
  }

  restore(snapshot: unknown): void {
    const s = snapshot as NetworkSnapshot;
    this.sink.table.restore(s.table);
    this.sink.fragments.restore(s.fragments);
    Object.assign(this.extraction, s.extraction);
    Object.assign(this.counters, s.counters);
    this.started = s.started;
    this.subjects.clear();
    for (const saved of s.subjects) {
      const subject = new SubjectEntity(saved.key, saved.kind, saved.address);
      subject.flowsScored = saved.flowsScored;
      subject.flowsFlagged = saved.flowsFlagged;
      for (const p of saved.peers) subject.flaggedPeers.add(p);
      for (const p of saved.services) subject.flaggedServices.add(p);
      subject.recent = saved.recent;
      subject.lastFlow = saved.lastFlow;
      subject.lastFeatures.set(decodeTyped(saved.lastFeatures, "f64"));
      subject.restoreTracking(saved.tracking);
      this.subjects.set(saved.key, subject);
    }
    this.targets.clear();
    for (const [key, sources] of s.targets) this.targets.set(key, { sources: new Map(sources) });
    this.pending.clear();
    for (const [key, count, since] of s.pending) this.pending.set(key, { count, since });
  }
}

export interface NetworkSnapshot {
  table: FlowTableJSON;
  fragments: [string, number, number][];
  extraction: ExtractionStats;
  counters: NetworkDetector["counters"];
  started: boolean;
  subjects: {
    key: number | string;
    kind: SubjectKind;
    address: string;
    flowsScored: number;
    flowsFlagged: number;
    peers: string[];
    services: string[];
    recent: string[];
    lastFlow: FlowNote | null;
    lastFeatures: TypedJSON;
    tracking: ReturnType<Entity["saveTracking"]>;
  }[];
  targets: [number | string, [number | string, number][]][];
  pending: [number | string, number, number][];
}

function subjectKey(version: number, words: Uint32Array, kind: SubjectKind): number | string {
  if (version === 4) return kind === "host" ? words[0] : words[0] + TARGET_OFFSET;
  return `${kind[0]}${words[0].toString(16)}:${words[1].toString(16)}:${words[2].toString(16)}:${words[3].toString(16)}`;
}

const PROTOCOLS: Record<number, string> = { 1: "icmp", 6: "tcp", 17: "udp", 58: "icmp6", 132: "sctp" };

export function protocolName(protocol: number): string {
  return PROTOCOLS[protocol] ?? String(protocol);
}

function round(v: number): number {
  return Number.isFinite(v) ? Number(v.toPrecision(4)) : v;
}
