import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  type AlertSubject,
  type Detector,
  Entity,
  type EntityHooks,
  type Priority,
  type Scorer,
} from "../../../src/core/stream/detector.ts";
import { StreamEngine } from "../../../src/core/stream/engine.ts";
import type { FilePosition } from "../../../src/core/stream/line-sources.ts";
import { type RecordSource, StreamRun } from "../../../src/core/stream/run.ts";
import { formatStatsLine } from "../../../src/core/stream/stats.ts";

/** Binary inputs in the streaming engine: a source that hands out records itself (packets), and `advance`. */
interface Rec {
  t: number;
  key: number;
}

class Counted extends Entity {
  constructor(readonly key: number) {
    super();
  }
}

/** Counts records per key; entities idle for `idleNs` end; `advance` calls are recorded. */
class CountDetector implements Detector<Rec, Counted> {
  readonly kind = "network" as const;
  readonly entities = new Map<number, Counted>();
  readonly advanced: number[] = [];
  readonly ended: number[] = [];
  private readonly out = new Float64Array(1);
  get activeEntities() {
    return this.entities.size;
  }
  time(r: Rec) {
    return r.t;
  }
  observe(r: Rec, hooks: EntityHooks<Counted>) {
    let e = this.entities.get(r.key);
    if (!e) {
      e = new Counted(r.key);
      this.entities.set(r.key, e);
    }
    hooks.touched(e);
  }
  advance(time: number) {
    this.advanced.push(time);
  }
  sweep(cutoff: number, hooks: EntityHooks<Counted>) {
    for (const [key, e] of this.entities) {
      if (e.lastSeen < cutoff) {
        this.entities.delete(key);
        this.ended.push(key);
        hooks.ended(e, "idle");
      }
    }
  }
  drain(hooks: EntityHooks<Counted>) {
    for (const [key, e] of this.entities) {
      this.entities.delete(key);
      hooks.ended(e, "end-of-input");
    }
  }
  features(e: Counted) {
    this.out[0] = e.events;
    return this.out;
  }
  describe(e: Counted): AlertSubject {
    return { entity: `key ${e.key}`, fields: {} };
  }
  evidence(e: Counted) {
    return { events: e.events };
  }
  snapshot() {
    return null;
  }
  restore() {}
}

const scorer: Scorer = {
  threshold: 1e9,
  model: { name: "count", version: "1", hash: "sha256:0" },
  score: (f) => f[0],
  priority: (): Priority => "warning",
};

/** Records in fixed chunks; drops and notices announced between chunks, as a capture source does. */
class ArraySource implements RecordSource<Rec> {
  readonly kind = "records" as const;
  readonly stats = { bytes: 0, droppedRecords: 0 };
  readonly notices: string[] = [];
  chunks = 0;
  constructor(
    readonly name: string,
    private readonly batches: { records: Rec[]; dropped?: number; notice?: string }[],
  ) {}
  async run(onRecord: (r: Rec) => void, onChunk?: () => void) {
    for (const batch of this.batches) {
      for (const r of batch.records) onRecord(r);
      this.stats.droppedRecords += batch.dropped ?? 0;
      if (batch.notice) this.notices.push(batch.notice);
      this.chunks++;
      onChunk?.();
      await new Promise((r) => setImmediate(r));
    }
  }
  stop() {}
  position(): FilePosition | null {
    return null;
  }
  behind() {
    return 0;
  }
}

describe("StreamRun with a record source", () => {
  test("every record applied, drops counted, notices passed on, chunks reported", async () => {
    const detector = new CountDetector();
    const engine = new StreamEngine<Rec, Counted>(detector, { rule: "count", scorer, hostname: "h" });
    const source = new ArraySource("packets", [
      { records: [1, 2, 3].map((t) => ({ t, key: t % 2 })) },
      { records: [{ t: 4, key: 7 }], dropped: 5, notice: "5 packets cut short" },
      { records: [], dropped: 2 },
    ]);
    const warnings: string[] = [];
    let chunks = 0;
    const summary = await new StreamRun<Rec, Counted>({
      engine,
      sources: [source],
      onWarning: (w) => warnings.push(w),
      onChunk: () => chunks++,
      statsExtra: () => ({ flowsActive: detector.activeEntities }),
      recordNoun: "packets",
    }).run();
    assert.equal(summary.records, 4);
    assert.equal(summary.dropped, 7);
    assert.equal(summary.entitiesStarted, 3);
    assert.equal(summary.entitiesEnded, 3);
    assert.deepEqual(warnings, ["5 packets cut short"]);
    assert.equal(chunks, 3);
    assert.deepEqual(summary.extra, { flowsActive: 0 });
    assert.match(formatStatsLine(summary), /^threatlens: packets 4, .*dropped 7, .*flows active 0$/);
  });

  test("a line source without a parser is a programming error, not a silent skip", async () => {
    const detector = new CountDetector();
    const engine = new StreamEngine<Rec, Counted>(detector, { rule: "count", scorer });
    const lines = {
      name: "log",
      stats: { bytes: 0, droppedLines: 0 },
      notices: [],
      run: async () => {},
      stop() {},
      position: () => null,
      behind: () => 0,
    };
    await assert.rejects(
      new StreamRun<Rec, Counted>({ engine, sources: [lines as never] }).run(),
      /needs a parser/,
    );
  });
});

describe("StreamEngine.advance", () => {
  test("moves event time on without a record: idle entities end, the detector hears of it", () => {
    const detector = new CountDetector();
    const engine = new StreamEngine<Rec, Counted>(detector, { rule: "count", scorer, idleNs: 10e9 });
    engine.advance(100e9); // before any record: nothing to move
    assert.deepEqual(detector.advanced, []);
    engine.push({ t: 1e9, key: 1 });
    engine.push({ t: 2e9, key: 2 });
    engine.push({ t: 5e9, key: 1 });
    engine.advance(4e9); // not after the clock
    assert.deepEqual(detector.advanced, []);
    engine.advance(11e9);
    assert.deepEqual(detector.ended, [], "nothing idle for 10 s yet");
    engine.advance(30e9);
    assert.deepEqual(detector.advanced, [11e9, 30e9]);
    assert.equal(engine.clock, 30e9);
    assert.deepEqual(detector.ended.sort(), [1, 2]);
    assert.equal(engine.counters.records, 3, "advancing is not a record");
    assert.equal(engine.counters.evicted, 2);
  });
});
