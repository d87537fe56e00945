import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Alert } from "../../../src/core/stream/alerts.ts";
import {
  type AlertSubject,
  type Detector,
  Entity,
  type EntityHooks,
  type Priority,
  type Scorer,
} from "../../../src/core/stream/detector.ts";
import { type EngineOptions, StreamEngine } from "../../../src/core/stream/engine.ts";
import { EntityTable } from "../../../src/core/stream/entities.ts";
import { MemorySink } from "../../../src/core/stream/sinks.ts";

/** A toy detector: each record adds `value` to its key's running sum; `end` ends the entity. */
interface Rec {
  t: number;
  key: number;
  value: number;
  end?: boolean;
}

class SumEntity extends Entity {
  sum = 0;
  constructor(readonly key: number) {
    super();
  }
}

class SumDetector implements Detector<Rec, SumEntity> {
  readonly kind = "ransomware" as const;
  readonly table = new EntityTable<SumEntity>();
  private readonly out = new Float64Array(1);
  get activeEntities() {
    return this.table.size;
  }
  time(r: Rec) {
    return r.t;
  }
  observe(r: Rec, hooks: EntityHooks<SumEntity>) {
    let e = this.table.get(r.key);
    if (!e) {
      e = new SumEntity(r.key);
      this.table.set(r.key, e);
    }
    e.sum += r.value;
    hooks.touched(e);
    if (r.end) this.table.end(r.key, "exit", hooks);
  }
  sweep(cutoff: number, hooks: EntityHooks<SumEntity>) {
    this.table.sweep(cutoff, hooks);
  }
  drain(hooks: EntityHooks<SumEntity>) {
    this.table.drain(hooks);
  }
  features(e: SumEntity) {
    this.out[0] = e.sum;
    return this.out;
  }
  describe(e: SumEntity): AlertSubject {
    return { entity: `key ${e.key}`, fields: { pid: e.key } };
  }
  evidence(e: SumEntity) {
    return { sum: e.sum };
  }
  snapshot() {
    return [...this.table.entries()].map(([key, e]) => ({ key, sum: e.sum, tracking: e.saveTracking() }));
  }
  restore(s: unknown) {
    this.table.clear();
    for (const saved of s as { key: number; sum: number; tracking: ReturnType<Entity["saveTracking"]> }[]) {
      const e = new SumEntity(saved.key);
      e.sum = saved.sum;
      e.restoreTracking(saved.tracking);
      this.table.set(saved.key, e);
    }
  }
}

const scorer: Scorer = {
  threshold: 10,
  model: { name: "toy", version: "1", hash: "sha256:0" },
  score: (f) => f[0],
  priority: (s): Priority => (s >= 20 ? "critical" : "warning"),
};

function engine(options: Partial<EngineOptions<SumEntity>> = {}) {
  const detector = new SumDetector();
  const sink = new MemorySink();
  const e = new StreamEngine<Rec, SumEntity>(detector, {
    rule: "toy",
    hostname: "host",
    scorer,
    schedule: { minEvents: 1, everyEvents: 1, everyNs: Number.POSITIVE_INFINITY },
    sinks: [sink],
    ...options,
  });
  return { engine: e, detector, alerts: sink.alerts };
}

const recs = (values: number[], key = 1, t0 = 0, dt = 1e9): Rec[] =>
  values.map((value, i) => ({ t: t0 + i * dt, key, value }));

describe("streaming engine: scoring schedule", () => {
  test("an entity is scored after minEvents, then every everyEvents records or everyNs of event time", () => {
    const scored: number[] = [];
    const { engine: e } = engine({
      schedule: { minEvents: 3, everyEvents: 4, everyNs: 10 },
      onScored: (entity) => scored.push(entity.events),
    });
    // Records 1 ns apart: scored at 3 (min), then 7, 11 (every 4); then a 50 ns gap makes record 12 due by time.
    for (let i = 0; i < 11; i++) e.push({ t: i, key: 1, value: 0 });
    e.push({ t: 60, key: 1, value: 0 });
    assert.deepEqual(scored, [3, 7, 11, 12]);
    e.finish();
    assert.deepEqual(scored, [3, 7, 11, 12, 12], "a final scoring at the end of input");
  });

  test("a scorer's gate skips scheduled scorings until the features can cross, never the final one", () => {
    const calls: number[] = [];
    const gated: Scorer = {
      ...scorer,
      score: (f) => {
        calls.push(f[0]);
        return f[0];
      },
      canCross: (f) => f[0] >= 5,
    };
    const { engine: e, alerts } = engine({ scorer: gated });
    for (const r of recs([1, 1, 1])) e.push(r); // sums 1, 2, 3: cannot cross, not scored
    assert.deepEqual(calls, []);
    assert.equal(e.counters.gatedScorings, 3);
    for (const r of recs([3, 9], 1, 10e9)) e.push(r); // sums 6, 15: scored, 15 ≥ 10 alerts
    assert.deepEqual(calls, [6, 15]);
    assert.equal(alerts.length, 1);
    for (const r of recs([1], 2, 20e9)) e.push(r);
    e.finish();
    assert.deepEqual(calls.slice(2).sort(), [1, 15], "every entity's final scoring runs the model");
    assert.equal(e.counters.scorings, 4);
  });

  test("a detector may give an entity its own cadence (scoreEvery)", () => {
    const scored: number[] = [];
    const { engine: e, detector } = engine({
      schedule: { minEvents: 1, everyEvents: 1, everyNs: Number.POSITIVE_INFINITY },
      onScored: (entity, _score, final) => {
        if (!final) scored.push(entity.key * 100 + entity.events);
      },
    });
    (detector as SumDetector & { scoreEvery(x: SumEntity): number | undefined }).scoreEvery = (x) =>
      x.key === 2 ? 3 : undefined;
    for (let i = 0; i < 6; i++) {
      e.push({ t: i * 2, key: 1, value: 0 });
      e.push({ t: i * 2 + 1, key: 2, value: 0 });
    }
    assert.deepEqual(
      scored.filter((k) => k >= 200),
      [201, 204],
      "key 2 every 3 records after its first",
    );
    assert.equal(scored.filter((k) => k < 200).length, 6);
  });

  test("without a scorer nothing is scored, but entities still end", () => {
    const ended: number[] = [];
    const { engine: e } = engine({ scorer: undefined, onEnded: (x) => ended.push(x.key) });
    for (const r of [...recs([1, 2], 1), ...recs([3], 2)]) e.push(r);
    e.finish();
    assert.deepEqual(ended, [1, 2]);
    assert.equal(e.counters.scorings, 0);
    assert.equal(e.counters.entitiesStarted, 2);
    assert.equal(e.counters.entitiesEnded, 2);
  });
});

describe("streaming engine: incidents", () => {
  test("one incident per episode: opened once, escalated, then ended with new evidence", () => {
    const { engine: e, alerts } = engine();
    for (const r of recs([5, 6, 1, 9, 1, 1])) e.push(r);
    e.finish();
    assert.deepEqual(
      alerts.map((a) => [a.status, a.update, a.priority, a.score]),
      [
        ["new", 0, "warning", 11],
        ["escalated", 1, "critical", 21],
        ["ended", 2, "critical", 23],
      ],
    );
    assert.equal(new Set(alerts.map((a) => a.incident)).size, 1);
    assert.equal(new Set(alerts.map((a) => a.id)).size, 3);
    assert.equal(e.counters.incidents, 1);
    assert.equal(alerts[0].pid, 1);
    assert.deepEqual(alerts[0].evidence, { sum: 11 });
  });

  test("updates are rate-limited in event time and need new records", () => {
    const { engine: e, alerts } = engine({ alertPolicy: { updateEveryNs: 5e9 } });
    // Above the threshold from the first record, one record per second for 12 s.
    for (const r of recs(Array(12).fill(11))) e.push(r);
    assert.deepEqual(
      alerts.map((a) => a.status),
      ["new", "escalated", "update", "update"],
    );
    assert.deepEqual(
      alerts.map((a) => a.eventTime),
      ["0", "1000000000", "6000000000", "11000000000"],
    );
  });

  test("hysteresis: an incident closes only after the score stays below threshold − h for the release time", () => {
    const { engine: e, alerts } = engine({ alertPolicy: { hysteresis: 2, releaseNs: 3e9 } });
    const values = [11, -3.5, 0, 0, 0, 0, 3.5];
    for (const r of recs(values)) e.push(r);
    // 11 → new; 7.5 (below 10 − 2) for 3 s releases it; 11 again opens a second incident.
    const statuses = alerts.map((a) => a.status);
    assert.deepEqual(statuses, ["new", "new"]);
    assert.notEqual(alerts[0].incident, alerts[1].incident);
    assert.equal(e.counters.incidents, 2);
  });

  test("a score dipping into the hysteresis band does not close the incident", () => {
    const { engine: e, alerts } = engine({ alertPolicy: { hysteresis: 5, releaseNs: 1e9 } });
    for (const r of recs([11, -3, 0, 0, 0, 3])) e.push(r);
    assert.deepEqual(
      alerts.map((a) => a.status),
      ["new"],
    );
  });

  test("idle entities are ended by the sweep and counted as evicted", () => {
    const ended: string[] = [];
    const { engine: e } = engine({ idleNs: 10e9, onEnded: (x, reason) => ended.push(`${x.key}:${reason}`) });
    e.push({ t: 0, key: 1, value: 1 });
    e.push({ t: 1e9, key: 2, value: 1 });
    for (let t = 2e9; t <= 30e9; t += 1e9) e.push({ t, key: 2, value: 0 });
    assert.deepEqual(ended, ["1:idle"]);
    assert.equal(e.counters.evicted, 1);
    assert.equal(e.activeEntities, 1);
  });
});

describe("streaming engine: restarts", () => {
  const stream = [...recs([3, 4, 5, 9, 2], 1), ...recs([20, 1, 1], 2, 0.5e9)].sort((a, b) => a.t - b.t);

  function run(records: Rec[], ledger?: Set<string>) {
    const set = ledger ?? new Set<string>();
    const t = engine({ ledger: { has: (id) => set.has(id), add: (id) => set.add(id) } });
    for (const r of records) t.engine.push(r);
    return { ...t, ledger: set };
  }

  test("snapshot and restore in the middle give the alerts of an uninterrupted run", () => {
    const whole = run(stream);
    whole.engine.finish();
    const first = run(stream.slice(0, 4));
    const saved = JSON.parse(JSON.stringify(first.engine.snapshot()));
    const second = engine();
    second.engine.restore(saved);
    for (const r of stream.slice(4)) second.engine.push(r);
    second.engine.finish();
    const ids = (a: Alert[]) => a.map((x) => x.id);
    assert.deepEqual([...ids(first.alerts), ...ids(second.alerts)], ids(whole.alerts));
    assert.equal(second.engine.counters.records, stream.length);
  });

  test("after a crash, replaying from an older checkpoint writes no alert twice (the ledger has them)", () => {
    const early = run(stream.slice(0, 2));
    const saved = JSON.parse(JSON.stringify(early.engine.snapshot()));
    // The run went on past the checkpoint and wrote alerts, then died.
    const crashed = engine({
      ledger: { has: (id) => early.ledger.has(id), add: (id) => early.ledger.add(id) },
    });
    crashed.engine.restore(saved);
    for (const r of stream.slice(2, 6)) crashed.engine.push(r);
    const written = crashed.alerts.map((a) => a.id);
    assert.ok(written.length > 0);
    // Restart from the same checkpoint with the same ledger: the replayed alerts are suppressed, the rest written.
    const restarted = engine({
      ledger: { has: (id) => early.ledger.has(id), add: (id) => early.ledger.add(id) },
    });
    restarted.engine.restore(saved);
    for (const r of stream.slice(2)) restarted.engine.push(r);
    restarted.engine.finish();
    const whole = run(stream);
    whole.engine.finish();
    const all = [...early.alerts, ...crashed.alerts, ...restarted.alerts].map((a) => a.id);
    assert.deepEqual(
      all,
      whole.alerts.map((a) => a.id),
    );
    assert.equal(restarted.engine.counters.repeatsSuppressed, written.length);
  });
});
