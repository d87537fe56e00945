import { hostname as osHostname } from "node:os";
import {
  type Alert,
  AlertPolicy,
  type AlertPolicyOptions,
  alertId,
  type Decision,
  type ResponseRecord,
} from "./alerts.ts";
import type { Detector, EndReason, Entity, EntityHooks, Scorer } from "./detector.ts";

/**
 * The streaming engine: records go into their entities' incremental state (the detector's code, the same for batch
 * and live), entities are scored on a schedule that depends only on the records (so a replayed log and the same
 * events seen live give the same verdicts), scores go through the alert policy, and alerts go to the sinks. Everything
 * here is synchronous per record; sources decide how records arrive (see run.ts).
 */
export interface ScoringSchedule {
  /** No scoring before an entity has this many records (a handful of events says little). Final scorings ignore it. */
  minEvents: number;
  /** Re-score an entity after this many new records… */
  everyEvents: number;
  /** …or once this much event time (ns) has passed since its last scoring, whichever comes first. */
  everyNs: number;
}

export const DEFAULT_SCHEDULE: ScoringSchedule = { minEvents: 8, everyEvents: 8, everyNs: 100e6 };

export interface AlertSink {
  write(alert: Alert): void;
}

/** Acts on an alerted entity (stop or kill its processes) before the alert is written, so the alert can say so. */
export interface Responder {
  respond(pids: number[]): ResponseRecord;
}

/** Remembers alert ids already written, so a restarted watch does not repeat them (see journal.ts). */
export interface AlertLedger {
  has(id: string): boolean;
  add(id: string): void;
}

export interface EngineOptions<E extends Entity> {
  /** Rule name in alerts, e.g. "ransomware-like file activity". */
  rule: string;
  hostname?: string;
  /** Distinguishes incident ids of different runs or sources on one host (e.g. the input's name). */
  scope?: string;
  /** Score live, on this schedule; without a scorer entities are only featurised. */
  scorer?: Scorer;
  schedule?: Partial<ScoringSchedule>;
  /** Entities without a record for this long (event time, ns) are ended; Infinity keeps them to the end of input. */
  idleNs?: number;
  alertPolicy?: Partial<AlertPolicyOptions>;
  sinks?: AlertSink[];
  responder?: Responder;
  ledger?: AlertLedger;
  /** Called for every ended entity, after its final scoring (batch sinks: feature rows, verdicts). */
  onEnded?: (entity: E, reason: EndReason) => void;
  /** Called after every scoring. */
  onScored?: (entity: E, score: number, final: boolean) => void;
  /** Called after every alert written. */
  onAlert?: (alert: Alert, entity: E) => void;
}

export interface EngineCounters {
  records: number;
  /** Records the sources dropped under overload or skipped as invalid, reported through `countDropped`. */
  dropped: number;
  entitiesStarted: number;
  entitiesEnded: number;
  /** Entities ended because they were idle. */
  evicted: number;
  scorings: number;
  /** Scheduled scorings skipped because the features could not cross the threshold (`Scorer.canCross`). */
  gatedScorings: number;
  alerts: number;
  incidents: number;
  /** Alert lines not written again after a restart because the ledger had them. */
  repeatsSuppressed: number;
}

export class StreamEngine<R, E extends Entity> {
  readonly counters: EngineCounters = {
    records: 0,
    dropped: 0,
    entitiesStarted: 0,
    entitiesEnded: 0,
    evicted: 0,
    scorings: 0,
    gatedScorings: 0,
    alerts: 0,
    incidents: 0,
    repeatsSuppressed: 0,
  };
  /** Latest event time seen (ns): the engine's clock. */
  clock = Number.NEGATIVE_INFINITY;
  readonly hostname: string;
  private readonly schedule: ScoringSchedule;
  private readonly idleNs: number;
  private readonly sweepEveryNs: number;
  private nextSweep = Number.NEGATIVE_INFINITY;
  private readonly policy: AlertPolicy;
  private readonly hooks: EntityHooks<E>;
  private current: R | undefined;

  constructor(
    readonly detector: Detector<R, E>,
    private readonly options: EngineOptions<E>,
  ) {
    this.hostname = options.hostname ?? osHostname();
    this.schedule = { ...DEFAULT_SCHEDULE, ...options.schedule };
    if (!(this.schedule.everyEvents >= 1)) throw new RangeError("the schedule's everyEvents must be ≥ 1");
    this.idleNs = options.idleNs ?? Number.POSITIVE_INFINITY;
    this.sweepEveryNs = Number.isFinite(this.idleNs)
      ? Math.max(this.idleNs / 4, 1e6)
      : Number.POSITIVE_INFINITY;
    this.policy = new AlertPolicy(
      `${this.hostname}\u0000${detector.kind}\u0000${options.scope ?? ""}`,
      options.alertPolicy,
    );
    const scorer = options.scorer;
    const { minEvents, everyEvents, everyNs } = this.schedule;
    this.hooks = {
      touched: (e) => {
        if (e.events === 0) this.counters.entitiesStarted++;
        e.events++;
        e.lastSeen = this.clock;
        if (
          scorer !== undefined &&
          e.events >= minEvents &&
          (e.events - e.scoredEvents >= (detector.scoreEvery?.(e) ?? everyEvents) ||
            this.clock - e.scoredAt >= everyNs) &&
          (detector.scorable?.(e) ?? true)
        ) {
          this.score(e, false);
        }
      },
      ended: (e, reason) => {
        if (e.events === 0) this.counters.entitiesStarted++;
        this.counters.entitiesEnded++;
        if (reason === "idle") this.counters.evicted++;
        if (scorer !== undefined && (detector.scorable?.(e) ?? true)) this.score(e, true);
        this.options.onEnded?.(e, reason);
      },
    };
  }

  /** Applies one record. */
  push(record: R): void {
    const t = this.detector.time(record);
    if (t > this.clock) {
      this.clock = t;
      if (t >= this.nextSweep) this.sweep();
    }
    this.counters.records++;
    this.current = record;
    this.detector.observe(record, this.hooks);
  }

  /**
   * A live source went quiet: event time is at least `time` (ns, e.g. the wall clock for a live capture). Entities
   * that time out by then end now instead of at the next record. Records must not be older than `time` afterwards.
   */
  advance(time: number): void {
    if (!(time > this.clock) || this.clock === Number.NEGATIVE_INFINITY) return;
    this.clock = time;
    this.current = undefined;
    if (time >= this.nextSweep) this.sweep();
    this.detector.advance?.(time, this.hooks);
  }

  /** Records a source could not deliver (overload, invalid rows): counted, never silent. */
  countDropped(n: number): void {
    this.counters.dropped += n;
  }

  /**
   * End of input: every entity ends and is scored a last time, and the clock restarts (the next input, another log,
   * may come from another boot with older timestamps).
   */
  finish(): void {
    this.current = undefined;
    this.detector.drain({ touched: this.hooks.touched, ended: (e) => this.hooks.ended(e, "end-of-input") });
    this.clock = Number.NEGATIVE_INFINITY;
    this.nextSweep = Number.NEGATIVE_INFINITY;
  }

  get activeEntities(): number {
    return this.detector.activeEntities;
  }

  private sweep(): void {
    if (this.nextSweep !== Number.NEGATIVE_INFINITY)
      this.detector.sweep(this.clock - this.idleNs, this.hooks);
    this.nextSweep = this.clock + this.sweepEveryNs;
  }

  private score(e: E, final: boolean): void {
    const scorer = this.options.scorer!;
    const features = this.detector.features(e);
    e.scoredEvents = e.events;
    e.scoredAt = this.clock;
    // Nothing to decide before the features can cross the threshold (no incident can be open then either).
    if (!final && scorer.canCross?.(features) === false) {
      this.counters.gatedScorings++;
      return;
    }
    const score = scorer.score(features);
    this.counters.scorings++;
    e.lastScore = score;
    if (score > e.maxScore) e.maxScore = score;
    const priority = scorer.priority(score);
    const subject = this.detector.describe(e);
    const { decision, next } = this.policy.decide(
      e.incident,
      subject.entity,
      e.events,
      score,
      scorer.threshold,
      priority,
      this.clock,
      final,
    );
    if (next !== null && e.incident === null) {
      e.incidents++;
      this.counters.incidents++;
    }
    e.incident = next;
    if (decision !== null) this.raise(e, decision, score, subject);
    this.options.onScored?.(e, score, final);
  }

  private raise(
    e: E,
    decision: NonNullable<Decision>,
    score: number,
    subject: ReturnType<Detector<R, E>["describe"]>,
  ): void {
    const { incident, status } = decision;
    const id = alertId(incident.id, incident.updates);
    const ledger = this.options.ledger;
    if (ledger?.has(id)) {
      this.counters.repeatsSuppressed++;
      return;
    }
    const scorer = this.options.scorer!;
    const features = this.detector.features(e);
    const evidence: Record<string, unknown> = { ...this.detector.evidence(e) };
    const top = scorer.explain?.(features, 5);
    if (top && top.length > 0) evidence.topFeatures = top;
    const comm = subject.fields.comm;
    const alert: Alert = {
      id,
      incident: incident.id,
      update: incident.updates,
      status,
      time: new Date().toISOString(),
      eventTime: this.eventTimeText(),
      hostname: this.hostname,
      detector: this.detector.kind,
      rule: this.options.rule,
      priority: status === "new" ? scorer.priority(score) : incident.priority,
      output: `${this.options.rule}: ${subject.entity}${comm !== undefined ? ` (${comm})` : ""}, score ${score.toFixed(3)} ${score >= scorer.threshold ? "≥" : "<"} threshold ${scorer.threshold}${status === "ended" ? ", ended" : ""}`,
      score,
      threshold: scorer.threshold,
      model: scorer.model,
      entity: subject.entity,
      ...subject.fields,
      evidence,
    };
    if (status === "new" && this.options.responder && subject.pids && subject.pids.length > 0) {
      alert.response = this.options.responder.respond(subject.pids);
    }
    ledger?.add(id);
    this.counters.alerts++;
    for (const sink of this.options.sinks ?? []) sink.write(alert);
    this.options.onAlert?.(alert, e);
  }

  private eventTimeText(): string {
    const record = this.current;
    if (record !== undefined && this.detector.timeText) return this.detector.timeText(record);
    return Number.isFinite(this.clock) ? String(Math.round(this.clock)) : "";
  }

  /** Engine state for a checkpoint (the detector's entities included). */
  snapshot(): EngineSnapshot {
    return {
      clock: Number.isFinite(this.clock) ? this.clock : null,
      nextSweep: Number.isFinite(this.nextSweep) ? this.nextSweep : null,
      counters: { ...this.counters },
      detector: this.detector.snapshot(),
    };
  }

  restore(s: EngineSnapshot): void {
    this.clock = s.clock ?? Number.NEGATIVE_INFINITY;
    this.nextSweep = s.nextSweep ?? Number.NEGATIVE_INFINITY;
    Object.assign(this.counters, s.counters);
    this.detector.restore(s.detector);
  }
}

export interface EngineSnapshot {
  clock: number | null;
  nextSweep: number | null;
  counters: EngineCounters;
  detector: unknown;
}
