/**
 * What a detector is to the streaming engine (see ../../../docs/live.md and the shape in DESIGN.md): how a record
 * updates the state of the entities it belongs to, when an entity ends, how a state becomes a feature vector and what
 * evidence it can show. Detectors keep their own state tables (a process map, a flow table) because the fastest
 * layout differs per detector; the engine drives them, decides when to score, and turns scores into alerts.
 */
import type { IncidentState } from "./alerts.ts";

export type DetectorKind = "ransomware" | "syscalls" | "network";

/**
 * Bookkeeping the engine keeps on every entity (a process, a flow, a host). Detectors extend this class, so the
 * engine's per-record checks read plain fields instead of looking entities up in a side table.
 */
export class Entity {
  /** Records applied to this entity. */
  events = 0;
  /** `events` when the entity was last scored, and the event time of that scoring (ns). */
  scoredEvents = 0;
  scoredAt = Number.NEGATIVE_INFINITY;
  /** Event time of the entity's latest record (ns). */
  lastSeen = 0;
  lastScore = Number.NaN;
  maxScore = Number.NEGATIVE_INFINITY;
  /** The open incident of this entity, if its score crossed the threshold and has not fallen back. */
  incident: IncidentState | null = null;
  /** Incidents opened over the entity's life (an entity can have several episodes). */
  incidents = 0;

  /** The engine's fields, for checkpoints. */
  saveTracking(): EntityTracking {
    return {
      events: this.events,
      scoredEvents: this.scoredEvents,
      scoredAt: finiteOrNull(this.scoredAt),
      lastSeen: this.lastSeen,
      lastScore: finiteOrNull(this.lastScore),
      maxScore: finiteOrNull(this.maxScore),
      incident: this.incident,
      incidents: this.incidents,
    };
  }

  restoreTracking(t: EntityTracking): void {
    this.events = t.events;
    this.scoredEvents = t.scoredEvents;
    this.scoredAt = t.scoredAt ?? Number.NEGATIVE_INFINITY;
    this.lastSeen = t.lastSeen;
    this.lastScore = t.lastScore ?? Number.NaN;
    this.maxScore = t.maxScore ?? Number.NEGATIVE_INFINITY;
    this.incident = t.incident;
    this.incidents = t.incidents;
  }
}

export interface EntityTracking {
  events: number;
  scoredEvents: number;
  scoredAt: number | null;
  lastSeen: number;
  lastScore: number | null;
  maxScore: number | null;
  incident: IncidentState | null;
  incidents: number;
}

function finiteOrNull(v: number): number | null {
  return Number.isFinite(v) ? v : null;
}

/** Callbacks through which a detector tells the engine what a record did. */
export interface EntityHooks<E extends Entity> {
  /** The record updated `entity` (called once per entity the record belongs to). */
  touched(entity: E): void;
  /** `entity` is over (process exit, flow finished, idle): the engine scores it a last time and forgets it. */
  ended(entity: E, reason: EndReason): void;
}

export type EndReason = "exit" | "finished" | "idle" | "end-of-input" | "evicted";

/** Who an alert is about, in the alert's fields. */
export interface AlertSubject {
  /** Stable identifier of the entity within its source, e.g. "pid 4242" or "10.0.0.1:5353 > 10.0.0.2:53/udp". */
  entity: string;
  /** Fields copied into the alert: `pid`, `ppid`, `comm`, `log` for processes; `src`, `sport`, `dst`, `dport`,
   * `proto` for flows and hosts. */
  fields: Record<string, string | number>;
  /** Processes a response (stop/kill) would act on, when the entity is a live process. */
  pids?: number[];
}

export interface Detector<R, E extends Entity> {
  readonly kind: DetectorKind;
  /** Event time of a record in nanoseconds (the log's TS, the packet's timestamp), not the wall clock. */
  time(record: R): number;
  /** The record's event time as the source wrote it (exact), for alerts. */
  timeText?(record: R): string;
  /** A new input starts (a log file): its records' entities are distinct from those of earlier inputs. */
  beginSource?(name: string): void;
  /** Applies one record, calling `hooks.touched` for each entity it updated and `hooks.ended` for each it ended. */
  observe(record: R, hooks: EntityHooks<E>): void;
  /** Whether the entity is scored yet (default: always). An entity that would only repeat another's scores and
   * alerts (a group of one process) waits until it means something of its own. */
  scorable?(entity: E): boolean;
  /** Records between scheduled scorings of this entity; undefined: the schedule's `everyEvents`. */
  scoreEvery?(entity: E): number | undefined;
  /** Live inputs: event time moved on to `time` (ns) without a record (a quiet capture); optional. */
  advance?(time: number, hooks: EntityHooks<E>): void;
  /** Ends every entity whose last record is older than `cutoff` (event time). */
  sweep(cutoff: number, hooks: EntityHooks<E>): void;
  /** Ends every entity (end of input). */
  drain(hooks: EntityHooks<E>): void;
  /** Entities currently held: what memory is bounded by. */
  readonly activeEntities: number;
  /** The entity's current features (the buffer may be reused by the next call). */
  features(entity: E): Float64Array;
  describe(entity: E): AlertSubject;
  /** What a person needs to judge the alert: recent paths, event counts, the most anomalous window… */
  evidence(entity: E): Record<string, unknown>;
  /** Entity states as JSON-safe data, for checkpoints; `restore` is its inverse. */
  snapshot(): unknown;
  restore(snapshot: unknown): void;
}

/** Names the model that raised an alert. */
export interface ModelRef {
  name: string;
  version: string;
  /** The model file's checksum (sha256:…). */
  hash: string;
}

export type Priority = "critical" | "error" | "warning" | "notice";
export const PRIORITIES: readonly Priority[] = ["notice", "warning", "error", "critical"];

/** Turns an entity's features into a score: higher is more suspicious; at or above `threshold` is an alert. */
export interface Scorer {
  readonly threshold: number;
  readonly model: ModelRef;
  score(features: Float64Array): number;
  /**
   * False when no score of these features can reach the threshold (a gate on the features, like the ransomware
   * model's harm gate), so that a scheduled scoring may skip the model; the final scoring of an entity never does.
   * Once true for an entity it must stay true as the entity grows.
   */
  canCross?(features: Float64Array): boolean;
  /** How serious a score at or above the threshold is. */
  priority(score: number): Priority;
  /** The features that moved this score most, for the alert's evidence (optional). */
  explain?(features: Float64Array, top: number): { feature: string; value: number; weight: number }[];
}
