import { promisify } from "node:util";
import { gunzipSync, gzip } from "node:zlib";
import type { JsMsg } from "@nats-io/jetstream";
import { InputError } from "../core/errors.ts";
import type { Entity } from "../core/stream/detector.ts";
import type { EngineSnapshot, StreamEngine } from "../core/stream/engine.ts";
import { LineFeed } from "../core/stream/run.ts";
import { type BatchHeader, forEachLine } from "./batches.ts";
import type { FleetDetector } from "./detectors.ts";

/**
 * One agent session's events on a scorer: the engine the detector's `watch` would run for that host, fed batch by
 * batch in the order the agent numbered them. Batches seen before (JetStream redelivery, an agent's retry) are
 * recognised by number and not applied twice; batches that arrive early (a retry overtaken by later batches) wait
 * until the gap is filled. The whole state — engine, parser position, next batch number — is one checkpoint.
 */
export interface SessionCheckpoint {
  format: "threatlens-fleet-session";
  version: 1;
  host: string;
  detector: string;
  session: string;
  /** The next batch number to apply. */
  next: number;
  /** The source being read and its first line (the header the parser needs to resume), or null between sources. */
  source: string | null;
  header: string | null;
  badSource: boolean;
  batches: number;
  lines: number;
  duplicates: number;
  /** Batches given up as lost (a gap that never filled). */
  lostBatches: number;
  skippedLines: number;
  engine: EngineSnapshot;
  updatedAt: string;
}

export interface Held {
  header: BatchHeader;
  msg: JsMsg;
  since: number;
}

export class Session {
  next = 0;
  readonly held = new Map<number, Held>();
  /** KV revision of the stored checkpoint (0: none yet). */
  revision = 0;
  dirty = false;
  lastActivity = Date.now();
  batches = 0;
  lines = 0;
  duplicates = 0;
  lostBatches = 0;
  skippedLines = 0;
  private source: string | null = null;
  private header: string | null = null;
  private badSource = false;
  private feed: LineFeed<unknown> | null = null;

  constructor(
    readonly key: string,
    readonly host: string,
    readonly id: string,
    readonly detector: FleetDetector,
    readonly engine: StreamEngine<unknown, Entity>,
    private readonly warn: (message: string) => void,
  ) {}

  /** Applies one batch (its number must be `next`). */
  apply(h: BatchHeader, payload: Uint8Array): void {
    if (h.flags.includes("b") || this.source !== h.source) this.startSource(h.source, true);
    const feed = this.feed!;
    const lines = forEachLine(payload, h.lines, (bytes, start, end, line) => {
      if (line === 1)
        this.header = Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start).toString();
      if (this.badSource) {
        this.engine.countDropped(1);
        this.skippedLines++;
        return;
      }
      try {
        feed.line(bytes, start, end, line);
      } catch (error) {
        if (!(error instanceof InputError)) throw error;
        // Not this detector's input at all (a header the parser refuses): the rest of the source is skipped, counted.
        this.badSource = true;
        this.engine.countDropped(1);
        this.skippedLines++;
        this.warn(`host ${this.host}: ${error.message}; skipping the rest of this source`);
      }
    });
    if (h.flags.includes("e")) {
      this.engine.finish();
      this.source = null;
      this.header = null;
      this.feed = null;
    }
    this.next = h.seq + 1;
    this.batches++;
    this.lines += lines;
    this.dirty = true;
    this.lastActivity = Date.now();
  }

  private startSource(name: string, begin: boolean): void {
    if (begin) this.engine.detector.beginSource?.(name);
    this.source = name;
    this.header = null;
    this.badSource = false;
    this.feed = new LineFeed(this.engine, this.detector.parser(name), `${this.host}:${name}`, {
      onSkipped: (example) => {
        this.skippedLines++;
        if (this.skippedLines <= 5) this.warn(`skipped a malformed record: ${example}`);
      },
    });
  }

  checkpoint(): SessionCheckpoint {
    return {
      format: "threatlens-fleet-session",
      version: 1,
      host: this.host,
      detector: this.detector.kind,
      session: this.id,
      next: this.next,
      source: this.source,
      header: this.header,
      badSource: this.badSource,
      batches: this.batches,
      lines: this.lines,
      duplicates: this.duplicates,
      lostBatches: this.lostBatches,
      skippedLines: this.skippedLines,
      engine: this.engine.snapshot(),
      updatedAt: new Date().toISOString(),
    };
  }

  restore(c: SessionCheckpoint): void {
    this.engine.restore(c.engine);
    this.next = c.next;
    this.batches = c.batches;
    this.lines = c.lines;
    this.duplicates = c.duplicates;
    this.lostBatches = c.lostBatches;
    this.skippedLines = c.skippedLines;
    if (c.source !== null) {
      // The detector's own state already knows the source (restored above): only the parser starts again, from the
      // source's header, which carries no record.
      this.startSource(c.source, false);
      this.badSource = c.badSource;
      if (c.header !== null && !c.badSource) {
        const bytes = Buffer.from(c.header);
        this.feed!.line(bytes, 0, bytes.length, 1);
        this.header = c.header;
      }
    }
  }
}

const gzipAsync = promisify(gzip);

/**
 * Checkpoints are gzipped JSON: entity states compress about 7:1. The JSON is taken at once (a snapshot of the
 * session as it is now); the compression runs on libuv's thread pool, because a network session's flow and context
 * tables make checkpoints of 5–6 MB even gzipped, and compressing them held the event loop for over a second, long
 * enough for the scorer to miss its heartbeats and lease renewals.
 */
export function encodeCheckpoint(c: SessionCheckpoint): Promise<Uint8Array> {
  return gzipAsync(JSON.stringify(c), { level: 1 });
}

export function decodeCheckpoint(bytes: Uint8Array, key: string): SessionCheckpoint {
  let c: SessionCheckpoint;
  try {
    c = JSON.parse(gunzipSync(bytes).toString()) as SessionCheckpoint;
  } catch {
    throw new InputError("a scorer checkpoint is corrupted (not gzipped JSON)", { file: key });
  }
  if (c.format !== "threatlens-fleet-session" || c.version !== 1) {
    throw new InputError("not a threatlens fleet session checkpoint of version 1", { file: key });
  }
  return c;
}
