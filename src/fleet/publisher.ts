import type { JetStreamClient } from "@nats-io/jetstream";
import type { MsgHdrs } from "@nats-io/transport-node";
import { sleep } from "./connection.ts";
import type { Spool, SpoolHeader, SpoolRecord } from "./spool.ts";

/**
 * Publishes a spool's records to JetStream in order, a bounded number in flight, each under a message id derived
 * from the record so that a record published twice (a lost acknowledgement, an agent restarted) is stored once.
 * A record is dropped from the spool only when the server acknowledged it; a failure (server gone, restarting,
 * stream full) rewinds to the failed record and tries again after a pause, forever — the spool bounds what waits.
 */
export interface PublishPlan<H extends SpoolHeader> {
  subject(header: H): string;
  msgId(header: H): string;
  headers?(header: H): MsgHdrs | undefined;
}

export interface PublisherStats {
  published: number;
  duplicates: number;
  failures: number;
  lastError: string | null;
}

export class SpoolPublisher<H extends SpoolHeader> {
  readonly stats: PublisherStats = { published: 0, duplicates: 0, failures: 0, lastError: null };
  private cursor = 0;
  private inflight = 0;
  private backoffUntil = 0;
  private stopped = false;
  /** Sends of an older generation were overtaken by a resend: their outcome no longer counts in the window. */
  private generation = 0;
  private wake: (() => void) | null = null;
  private readonly done: Promise<void>;

  constructor(
    private readonly js: JetStreamClient,
    private readonly spool: Spool<H>,
    private readonly plan: PublishPlan<H>,
    private readonly options: { window?: number; retryMs?: number; onError?: (message: string) => void } = {},
  ) {
    const unacked = spool.unackedSeqs();
    this.cursor = unacked.length > 0 ? unacked[0] : spool.nextSeq;
    this.done = this.loop();
  }

  /** New records were appended. */
  kick(): void {
    this.wake?.();
  }

  /**
   * The connection came back: replies to what was in flight may be lost with it, so send every unacknowledged record
   * again now rather than after its timeout (the server drops the copies it already has by message id).
   */
  resend(): void {
    this.generation++;
    this.inflight = 0;
    const unacked = this.spool.unackedSeqs();
    this.cursor = unacked.length > 0 ? unacked[0] : this.spool.nextSeq;
    this.backoffUntil = 0;
    this.wake?.();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.done;
  }

  private async loop(): Promise<void> {
    const window = this.options.window ?? 32;
    while (!this.stopped) {
      const now = Date.now();
      if (now < this.backoffUntil) {
        await sleep(this.backoffUntil - now);
        continue;
      }
      while (this.inflight < window && this.cursor < this.spool.nextSeq && Date.now() >= this.backoffUntil) {
        const seq = this.cursor++;
        const record = this.spool.get(seq);
        if (record === null) continue; // acknowledged already
        this.send(record);
      }
      await new Promise<void>((resolve) => {
        this.wake = () => {
          this.wake = null;
          resolve();
        };
        if (this.stopped) resolve();
      });
    }
  }

  private send(record: SpoolRecord<H>): void {
    const { header, payload } = record;
    const generation = this.generation;
    this.inflight++;
    this.js
      .publish(this.plan.subject(header), payload, {
        msgID: this.plan.msgId(header),
        headers: this.plan.headers?.(header),
        timeout: 5000,
      })
      .then(
        (ack) => {
          this.stats.published++;
          if (ack.duplicate) this.stats.duplicates++;
          this.spool.ack(header.seq);
        },
        (error: Error) => {
          if (generation !== this.generation || this.spool.isAcked(header.seq)) return;
          this.stats.failures++;
          const message = error.message;
          if (message !== this.stats.lastError) this.options.onError?.(message);
          this.stats.lastError = message;
          // Rewind: this record and everything after it that is not acknowledged go again, in order.
          if (header.seq < this.cursor) this.cursor = header.seq;
          this.backoffUntil = Date.now() + (this.options.retryMs ?? 1000);
        },
      )
      .finally(() => {
        if (generation === this.generation) this.inflight--;
        this.wake?.();
      });
  }
}
