import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { type ConsumerMessages, type JetStreamClient, type JsMsg, jetstream } from "@nats-io/jetstream";
import type { KV, KvEntry } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Alert } from "../core/stream/alerts.ts";
import type { AlertSink } from "../core/stream/engine.ts";
import { readBatchHeader } from "./batches.ts";
import { connectNats, errorText, FleetError, sleep } from "./connection.ts";
import type { FleetDetector } from "./detectors.ts";
import { ModelSlot, openBucket, watchModels } from "./models.ts";
import {
  alertSubject,
  checkpointKey,
  consumerName,
  EVENTS_STREAM,
  FLEET_BUCKET,
  leaseKey,
  STATE_BUCKET,
  scorerKey,
  scorerSummarySubject,
} from "./names.ts";
import { FLEET_DETECTORS } from "./registry.ts";
import { decodeCheckpoint, encodeCheckpoint, type Held, Session } from "./session.ts";
import { readTopology, type Topology } from "./setup.ts";

/**
 * `fleet scorer`: the streaming engine at the centre of a fleet. Work is split into units — one per detector and
 * partition — and each unit is held by one scorer at a time through a lease in the fleet bucket, so a host's entity
 * state lives on one scorer. Scorers share the units evenly (a new scorer takes some over, a dead one's are taken
 * over when its leases lapse). A unit's loop pulls event batches from its durable consumer, applies them to the
 * per-session engines, publishes alerts as they are raised, and every `checkpointMs` stores the touched sessions'
 * checkpoints — after the alerts they raised are stored — and only then acknowledges the batches. A scorer killed at
 * any point leaves batches unacknowledged that the next holder re-applies from the last checkpoint: the alerts it
 * raises again carry the same ids and the alerts stream drops them.
 */
export interface ScorerOptions {
  nats: string;
  /** Name in leases and summaries (default: host name, pid and a random suffix). */
  id?: string;
  detectors?: readonly FleetDetector[];
  checkpointMs?: number;
  /** A lease not renewed for this long lapses and another scorer may take the unit. */
  leaseMs?: number;
  /** Batches pulled per request. */
  pullBatch?: number;
  /** Sessions without a batch for this long are dropped from memory (their checkpoint stays in the bucket). */
  sessionIdleMs?: number;
  /** A gap in a session's batch numbers that has not filled after this long is given up (counted, reported). */
  gapTimeoutMs?: number;
  statsMs?: number;
  handleSignals?: boolean;
  onInfo?: (message: string) => void;
  onWarning?: (message: string) => void;
  /** Every alert this scorer published (tests, benchmarks). */
  onAlert?: (alert: Alert) => void;
  signal?: AbortSignal;
}

export interface ScorerStats {
  id: string;
  units: string[];
  batches: number;
  events: number;
  duplicates: number;
  held: number;
  lostBatches: number;
  alerts: number;
  checkpoints: number;
  sessions: number;
  activeEntities: number;
  /** Age of applied batches (ms from the agent closing them to the scorer applying them), recent p50/p99. */
  batchAgeP50: number | null;
  batchAgeP99: number | null;
}

interface Lease {
  owner: string;
  until: number;
}

export async function runScorer(options: ScorerOptions): Promise<ScorerStats> {
  const nc = await connectNats(options.nats, { name: "threatlens scorer", persistent: true });
  const scorer = new FleetScorer(nc, options);
  try {
    return await scorer.run();
  } finally {
    await nc.drain().catch(() => nc.close());
  }
}

export class FleetScorer {
  readonly id: string;
  private readonly js: JetStreamClient;
  private readonly detectors: readonly FleetDetector[];
  private readonly slots = new Map<string, ModelSlot>();
  private readonly units = new Map<string, Unit>();
  private readonly abort = new AbortController();
  private topology!: Topology;
  private fleet!: KV;
  private state!: KV;
  readonly stats: ScorerStats;
  private readonly ages: number[] = [];
  private readonly checkpointMs: number;
  private readonly leaseMs: number;
  /** Starts the next lease round now (a model became available). */
  private wakeBalance: (() => void) | null = null;

  constructor(
    private readonly nc: NatsConnection,
    private readonly options: ScorerOptions,
  ) {
    this.id = options.id ?? `${hostname()}-${process.pid}-${randomBytes(3).toString("hex")}`;
    this.js = jetstream(nc);
    this.detectors = options.detectors ?? FLEET_DETECTORS;
    for (const d of this.detectors) this.slots.set(d.kind, new ModelSlot(d.kind));
    this.checkpointMs = options.checkpointMs ?? 1000;
    this.leaseMs = options.leaseMs ?? 10_000;
    this.stats = {
      id: this.id,
      units: [],
      batches: 0,
      events: 0,
      duplicates: 0,
      held: 0,
      lostBatches: 0,
      alerts: 0,
      checkpoints: 0,
      sessions: 0,
      activeEntities: 0,
      batchAgeP50: null,
      batchAgeP99: null,
    };
    options.signal?.addEventListener("abort", () => this.stop(), { once: true });
  }

  stop(): void {
    this.abort.abort();
  }

  async run(): Promise<ScorerStats> {
    this.topology = await readTopology(this.nc);
    this.fleet = await openBucket(this.nc, FLEET_BUCKET);
    this.state = await openBucket(this.nc, STATE_BUCKET);
    const signal = this.abort.signal;
    const onSignal = () => this.stop();
    if (this.options.handleSignals) {
      process.on("SIGINT", onSignal);
      process.on("SIGTERM", onSignal);
    }
    const models = watchModels(
      this.nc,
      (m) => {
        const slot = this.slots.get(m.pointer.detector);
        if (!slot) return;
        const first = !slot.ready;
        if (slot.set(m.loaded, m.pointer.version)) {
          this.info(
            `scoring ${m.pointer.detector} with model version ${m.pointer.version} (${m.pointer.name})`,
          );
          if (first) this.wakeBalance?.();
        } else {
          this.warn(
            `${m.pointer.detector} model version ${m.pointer.version} has ${m.loaded.compatibility}, unlike the one in use: not applied`,
          );
        }
      },
      (message) => this.warn(message),
      signal,
    ).catch((error) => this.warn(`model watch ended: ${errorText(error)}`));
    const statsTimer = setInterval(() => this.report(), this.options.statsMs ?? 5000);
    statsTimer.unref();
    this.info(`scorer ${this.id}: ${this.topology.partitions} partitions per detector`);
    try {
      while (!signal.aborted) {
        await this.balance().catch((error) => this.warn(`lease round failed: ${errorText(error)}`));
        const wake = new AbortController();
        this.wakeBalance = () => wake.abort();
        await sleep(Math.max(200, this.leaseMs / 4), AbortSignal.any([signal, wake.signal]));
        this.wakeBalance = null;
      }
    } finally {
      clearInterval(statsTimer);
      if (this.options.handleSignals) {
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
      }
      // Hand every unit over cleanly: last checkpoint, acknowledgements, leases released.
      await Promise.all([...this.units.values()].map((u) => u.release()));
      await this.fleet.delete(scorerKey(this.id)).catch(() => {});
      await models;
      this.report();
    }
    return this.stats;
  }

  /** One lease round: heartbeat, renew what we hold, give up or take units to hold our share. */
  private async balance(): Promise<void> {
    const now = Date.now();
    await this.fleet.put(
      scorerKey(this.id),
      JSON.stringify({ id: this.id, until: now + this.leaseMs, units: [...this.units.keys()] }),
    );
    for (const unit of [...this.units.values()]) {
      if (unit.closed) {
        this.units.delete(unit.key);
        continue;
      }
      await unit.renew(now + this.leaseMs);
    }
    const live = await this.liveScorers(now);
    const wanted: { detector: FleetDetector; partition: number; key: string }[] = [];
    for (const d of this.detectors) {
      if (!this.slots.get(d.kind)!.ready) continue;
      for (let p = 0; p < this.topology.partitions; p++)
        wanted.push({ detector: d, partition: p, key: leaseKey(d.kind, p) });
    }
    const share = Math.ceil(wanted.length / Math.max(1, live));
    const held = [...this.units.values()].filter((u) => !u.closing);
    if (held.length > share) {
      for (const unit of held.slice(share)) {
        this.info(`handing over ${unit.key} (sharing ${wanted.length} units among ${live} scorers)`);
        void unit.release();
      }
      return;
    }
    if (held.length === share) return;
    // Start at a place derived from our id, so scorers starting together try different units first.
    const offset = wanted.length > 0 ? Number.parseInt(this.id.slice(-6), 16) % wanted.length || 0 : 0;
    const candidates: typeof wanted = [];
    for (let i = 0; i < wanted.length; i++) {
      const w = wanted[(i + (Number.isNaN(offset) ? 0 : offset)) % wanted.length];
      if (!this.units.has(w.key)) candidates.push(w);
    }
    // Look at every lease at once, then claim free or lapsed ones (together: a round trip each) up to our share.
    let count = held.length;
    const entries = await Promise.all(candidates.map((w) => this.fleet.get(w.key)));
    const free = candidates
      .map((w, i) => ({ w, entry: entries[i] }))
      .filter(({ entry }) => {
        if (entry === null || entry.operation !== "PUT") return true;
        const lease = entry.json<Lease>();
        return lease.until <= now || lease.owner === this.id;
      })
      .slice(0, share - count);
    const claims = await Promise.all(free.map(({ w, entry }) => this.claim(w.key, entry, now)));
    claims.forEach((revision, i) => {
      const w = free[i].w;
      if (revision === null || count >= share) return;
      const unit = new Unit(this, w.detector, w.partition, w.key, revision, now + this.leaseMs);
      this.units.set(w.key, unit);
      unit.start();
      count++;
      this.info(`took ${w.key}`);
    });
  }

  private async liveScorers(now: number): Promise<number> {
    let live = 0;
    const keys = await this.fleet.keys(scorerKey("*"));
    for await (const key of keys) {
      const entry = await this.fleet.get(key);
      if (entry?.operation !== "PUT") continue;
      if ((entry.json<{ until: number }>().until ?? 0) > now) live++;
    }
    return Math.max(live, 1);
  }

  /** Takes a free or lapsed lease (as last read); its revision, or null when another scorer was faster. */
  private async claim(key: string, entry: KvEntry | null, now: number): Promise<number | null> {
    const lease = JSON.stringify({ owner: this.id, until: now + this.leaseMs } satisfies Lease);
    try {
      if (entry === null) return await this.fleet.create(key, lease);
      return await this.fleet.update(key, lease, entry.revision);
    } catch {
      return null;
    }
  }

  /** Renews a lease we hold; the new revision, or null when it is no longer ours. */
  async renewLease(key: string, revision: number, until: number): Promise<number | null> {
    const lease = JSON.stringify({ owner: this.id, until } satisfies Lease);
    try {
      return await this.fleet.update(key, lease, revision);
    } catch (error) {
      if (!/wrong last sequence/i.test(errorText(error))) throw error;
      // An earlier renewal may have timed out here yet been stored: the lease is still ours if it names us.
      const entry = await this.fleet.get(key);
      if (entry?.operation !== "PUT" || entry.json<Lease>().owner !== this.id) return null;
      return await this.fleet.update(key, lease, entry.revision);
    }
  }

  async releaseLease(key: string, revision: number): Promise<void> {
    await this.fleet.delete(key, { previousSeq: revision }).catch(() => {});
  }

  consumer(detector: string, partition: number) {
    return this.js.consumers.get(EVENTS_STREAM, consumerName(detector, partition));
  }

  slot(detector: string): ModelSlot {
    return this.slots.get(detector)!;
  }

  get stateBucket(): KV {
    return this.state;
  }

  get checkpointEvery(): number {
    return this.checkpointMs;
  }

  get gapTimeoutMs(): number {
    return this.options.gapTimeoutMs ?? 3 * this.topology.ackWaitMs + 30_000;
  }

  get sessionIdleMs(): number {
    return this.options.sessionIdleMs ?? 300_000;
  }

  get pullBatch(): number {
    return this.options.pullBatch ?? 16;
  }

  /** Publishes an alert until the server stores it (or the unit is lost: the next holder raises it again). */
  async publishAlert(alert: Alert, unit: Unit): Promise<void> {
    for (;;) {
      try {
        const ack = await this.js.publish(
          alertSubject(alert.detector, alert.hostname),
          JSON.stringify(alert),
          {
            msgID: alert.id,
            timeout: 5000,
          },
        );
        if (!ack.duplicate) {
          this.stats.alerts++;
          this.options.onAlert?.(alert);
        }
        return;
      } catch (error) {
        if (unit.lost) throw new FleetError(`unit ${unit.key} lost while publishing an alert`);
        this.warn(`publishing alert ${alert.id}: ${errorText(error)} (retrying)`);
        await sleep(500);
      }
    }
  }

  noteAge(ms: number): void {
    if (this.ages.length >= 10_000) this.ages.splice(0, 5_000);
    this.ages.push(ms);
  }

  info(message: string): void {
    this.options.onInfo?.(message);
  }

  warn(message: string): void {
    this.options.onWarning?.(message);
  }

  private report(): void {
    const s = this.stats;
    s.units = [...this.units.keys()];
    let sessions = 0;
    let entities = 0;
    let held = 0;
    for (const u of this.units.values()) {
      sessions += u.sessions.size;
      for (const session of u.sessions.values()) {
        entities += session.engine.activeEntities;
        held += session.held.size;
      }
    }
    s.sessions = sessions;
    s.activeEntities = entities;
    s.held = held;
    if (this.ages.length > 0) {
      const sorted = [...this.ages].sort((a, b) => a - b);
      s.batchAgeP50 = sorted[Math.floor(sorted.length * 0.5)];
      s.batchAgeP99 = sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))];
      this.ages.length = 0;
    }
    this.info(
      `threatlens scorer ${this.id}: units ${s.units.length}, batches ${s.batches}, events ${s.events.toLocaleString("en-US")}, duplicates ${s.duplicates}, held ${s.held}, lost ${s.lostBatches}, alerts ${s.alerts}, sessions ${s.sessions}, entities ${s.activeEntities}, batch age p50 ${s.batchAgeP50 ?? "n/a"} ms p99 ${s.batchAgeP99 ?? "n/a"} ms`,
    );
    this.js
      .publish(scorerSummarySubject(this.id), JSON.stringify({ ...s, at: new Date().toISOString() }))
      .catch(() => {});
  }
}

/**
 * How long before its lease runs out a unit stops applying batches. Another scorer takes a lease once its time has
 * run out, so a unit whose renewals are late (an overloaded machine) must not go on scoring meanwhile: it would take
 * batches from the new holder's consumer and leave it gaps to wait for.
 */
const LEASE_MARGIN_MS = 1000;

/** One detector partition held by this scorer. */
class Unit {
  readonly sessions = new Map<string, Session>();
  private toAck: JsMsg[] = [];
  private alerts: Promise<void>[] = [];
  private messages: ConsumerMessages | null = null;
  private loop: Promise<void> = Promise.resolve();
  private flushing: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  closing = false;
  closed = false;
  lost = false;
  private releasing: Promise<void> | null = null;

  constructor(
    private readonly scorer: FleetScorer,
    readonly detector: FleetDetector,
    readonly partition: number,
    readonly key: string,
    private leaseRevision: number,
    private leaseUntil: number,
  ) {}

  /** Whether the lease still runs, with a margin: past it the unit hands batches back instead of applying them. */
  private get leaseRuns(): boolean {
    return Date.now() < this.leaseUntil - LEASE_MARGIN_MS;
  }

  start(): void {
    this.loop = this.pull().catch((error) => {
      this.scorer.warn(`${this.key}: ${errorText(error)}; giving the unit up`);
      this.lost = true;
    });
    this.timer = setInterval(() => {
      void this.flush().catch((error) => this.fail(error));
      this.dropIdleSessions();
      if (this.leaseRuns) this.checkGaps();
    }, this.scorer.checkpointEvery);
    this.timer.unref();
  }

  async renew(until: number): Promise<void> {
    if (this.closing) return;
    try {
      const revision = await this.scorer.renewLease(this.key, this.leaseRevision, until);
      if (revision === null) {
        this.scorer.warn(`${this.key}: another scorer holds the lease now; dropping the unit`);
        this.lose();
        return;
      }
      this.leaseRevision = revision;
      this.leaseUntil = until;
    } catch (error) {
      if (Date.now() > this.leaseUntil) {
        this.scorer.warn(
          `${this.key}: lease lapsed while the server was unreachable (${errorText(error)}); dropping the unit`,
        );
        this.lose();
      }
    }
  }

  /**
   * Pulls batches while the unit is held. Fetches (up to `pullBatch` messages or one second) rather than a continuous
   * consume: a unit being handed over finishes the fetch it has and so applies — and acknowledges — every batch it
   * was given, instead of leaving them to come back after the ack wait.
   */
  private async pull(): Promise<void> {
    while (!this.closing) {
      try {
        const consumer = await this.scorer.consumer(this.detector.kind, this.partition);
        while (!this.closing) {
          if (!this.leaseRuns) {
            await sleep(100);
            continue;
          }
          this.messages = await consumer.fetch({
            max_messages: this.scorer.pullBatch,
            expires: 5000,
            idle_heartbeat: 2000,
          });
          let busySince = performance.now();
          for await (const m of this.messages) {
            if (this.lost) return;
            if (!this.leaseRuns) {
              // Handed back at once (not after the ack wait): whoever holds the lease next gets it.
              m.nak();
              continue;
            }
            await this.handle(m);
            // Batches queued in the client are yielded without a turn of the event loop: let it turn every 20 ms of
            // work, or heartbeats, lease renewals and acknowledgements starve and the unit is lost for nothing.
            if (performance.now() - busySince > 20) {
              await new Promise((r) => setImmediate(r));
              busySince = performance.now();
            }
          }
        }
      } catch (error) {
        if (this.closing) break;
        this.scorer.warn(`${this.key}: pulling events: ${errorText(error)} (retrying)`);
        await sleep(1000);
      }
    }
  }

  private async handle(m: JsMsg): Promise<void> {
    const h = readBatchHeader(m.headers);
    if (h === null) {
      this.scorer.warn(
        `${this.key}: a message without a batch header on ${m.subject}: acknowledged and ignored`,
      );
      m.ack();
      return;
    }
    const key = checkpointKey(h.detector, h.host, h.session);
    let session = this.sessions.get(key);
    if (!session) {
      session = await this.openSession(key, h.host, h.session);
      if (this.lost) return;
    }
    session.lastActivity = Date.now();
    if (h.seq < session.next) {
      session.duplicates++;
      this.scorer.stats.duplicates++;
      this.toAck.push(m);
      return;
    }
    if (h.seq > session.next) {
      const held = session.held.get(h.seq);
      if (held) held.msg = m;
      else session.held.set(h.seq, { header: h, msg: m, since: Date.now() });
      return;
    }
    this.apply(session, h, m);
    for (let next = session.held.get(session.next); next; next = session.held.get(session.next)) {
      session.held.delete(next.header.seq);
      this.apply(session, next.header, next.msg);
    }
  }

  private apply(session: Session, h: Held["header"], m: JsMsg): void {
    const before = session.engine.counters.records;
    session.apply(h, m.data);
    this.scorer.stats.batches++;
    this.scorer.stats.events += session.engine.counters.records - before;
    this.scorer.noteAge(Date.now() - h.closedAt);
    this.toAck.push(m);
  }

  private async openSession(key: string, host: string, id: string): Promise<Session> {
    const slot = this.scorer.slot(this.detector.kind);
    const sink: AlertSink = {
      write: (alert) => {
        const published = this.scorer.publishAlert(alert, this);
        // Awaited by the next flush; a unit dropped before then leaves it to the next holder, not to a crash.
        published.catch(() => {});
        this.alerts.push(published);
      },
    };
    const engine = this.detector.createEngine({
      hostname: host,
      model: slot.loaded,
      scorer: slot,
      sinks: [sink],
    });
    const session = new Session(key, host, id, this.detector, engine, (message) => this.scorer.warn(message));
    for (;;) {
      try {
        const entry = await this.scorer.stateBucket.get(key);
        if (entry?.operation === "PUT") {
          session.restore(decodeCheckpoint(entry.value, key));
          session.revision = entry.revision;
        }
        break;
      } catch (error) {
        if (this.lost) break;
        this.scorer.warn(`${this.key}: loading the checkpoint of ${key}: ${errorText(error)} (retrying)`);
        await sleep(500);
      }
    }
    this.sessions.set(key, session);
    return session;
  }

  /**
   * Stores what was applied, in the order that makes a crash harmless: the alerts raised, then the sessions'
   * checkpoints, then the acknowledgements of the batches they cover.
   */
  flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    this.flushing = this.doFlush().finally(() => {
      this.flushing = null;
    });
    return this.flushing;
  }

  private async doFlush(): Promise<void> {
    if (this.lost) return;
    const acks = this.toAck;
    this.toAck = [];
    const alerts = this.alerts;
    this.alerts = [];
    // Every snapshot is taken now, with the acknowledgements above, before anything is awaited.
    const dirty: { session: Session; bytes: Promise<Uint8Array> }[] = [];
    for (const session of this.sessions.values()) {
      if (!session.dirty) continue;
      session.dirty = false;
      dirty.push({ session, bytes: encodeCheckpoint(session.checkpoint()) });
    }
    if (acks.length === 0 && dirty.length === 0 && alerts.length === 0) return;
    await Promise.all(alerts);
    const bucket = this.scorer.stateBucket;
    for (const { session, bytes: compressing } of dirty) {
      const bytes = await compressing;
      for (;;) {
        if (this.lost) return;
        try {
          session.revision =
            session.revision === 0
              ? await bucket.create(session.key, bytes)
              : await bucket.update(session.key, bytes, session.revision);
          this.scorer.stats.checkpoints++;
          break;
        } catch (error) {
          const message = errorText(error);
          if (/wrong last sequence|key exists/i.test(message)) {
            throw new FleetError(
              `${this.key}: the checkpoint of ${session.key} was written by another scorer`,
            );
          }
          this.scorer.warn(`${this.key}: storing the checkpoint of ${session.key}: ${message} (retrying)`);
          await sleep(500);
        }
      }
    }
    for (const m of acks) m.ack();
  }

  private fail(error: unknown): void {
    this.scorer.warn(`${errorText(error)}; dropping the unit`);
    this.lose();
  }

  /** Sessions idle for long leave memory; their checkpoints stay in the bucket for when their host sends again. */
  private dropIdleSessions(): void {
    const cutoff = Date.now() - this.scorer.sessionIdleMs;
    for (const [key, s] of this.sessions) {
      // Not while a flush is storing its checkpoint: reloading it before the write lands would go back in time.
      if (s.lastActivity < cutoff && !s.dirty && s.held.size === 0 && this.flushing === null)
        this.sessions.delete(key);
    }
  }

  /** A gap that never fills (its batch is gone for good) is given up loudly rather than stalling the host forever. */
  private checkGaps(): void {
    const limit = Date.now() - this.scorer.gapTimeoutMs;
    for (const s of this.sessions.values()) {
      if (s.held.size === 0) continue;
      const oldest = Math.min(...[...s.held.values()].map((h) => h.since));
      if (oldest > limit) continue;
      const first = Math.min(...s.held.keys());
      const lost = first - s.next;
      s.lostBatches += lost;
      this.scorer.stats.lostBatches += lost;
      this.scorer.warn(
        `host ${s.host}: batches ${s.next}–${first - 1} of session ${s.id} never arrived within ${Math.round(this.scorer.gapTimeoutMs / 1000)} s: counted as lost, going on from ${first}`,
      );
      s.next = first;
      for (let next = s.held.get(s.next); next; next = s.held.get(s.next)) {
        s.held.delete(next.header.seq);
        this.apply(s, next.header, next.msg);
      }
    }
  }

  private lose(): void {
    if (this.lost) return;
    this.lost = true;
    this.closing = true;
    this.stopTimers();
    this.messages?.stop();
    // Whatever was pulled and not acknowledged goes back to the consumer for the next holder.
    for (const m of this.toAck) m.nak();
    this.toAck = [];
    for (const s of this.sessions.values()) for (const h of s.held.values()) h.msg.nak();
    this.sessions.clear();
    this.closed = true;
  }

  /** Hands the unit over: stop pulling, store everything applied, release the lease. */
  release(): Promise<void> {
    if (this.releasing) return this.releasing;
    this.releasing = (async () => {
      this.closing = true;
      await this.loop;
      this.stopTimers();
      if (!this.lost) {
        try {
          await this.flush();
          for (const s of this.sessions.values()) for (const h of s.held.values()) h.msg.nak();
          await this.scorer.releaseLease(this.key, this.leaseRevision);
        } catch (error) {
          this.scorer.warn(`${this.key}: handing over: ${errorText(error)}`);
        }
      }
      this.sessions.clear();
      this.closed = true;
    })();
    return this.releasing;
  }

  private stopTimers(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
