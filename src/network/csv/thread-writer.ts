import { createRequire } from "node:module";
import { extname } from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { FlowRecordRing } from "../flows/records.ts";
import type { FlowCursor } from "../flows/table.ts";

/**
 * Flows per batch and batches in the ring. A batch must hold more flows than the extraction hands out between two
 * `ready()` calls (visitFlows: 256), so that at most one batch is published in between.
 */
const BATCH_FLOWS = 4096;
const SLOTS = 4;

/** What the thread (csv-thread.ts) gets. */
export interface CsvThreadData {
  /** Descriptor of the output file, opened (and closed) by the calling thread. */
  fd: number;
  context: boolean;
  ring: SharedArrayBuffer;
  slots: number;
  batchFlows: number;
  /** Capture names by source index (the order in which the captures are read). */
  names: string[];
}

export type FromCsvThread = { type: "done" } | { type: "error"; message: string; code?: string };

/**
 * Writes the rows of a flow CSV (header, then FlowCsvRowWriter rows) to an open file on a worker thread, so that
 * turning flows into text — about as costly as extracting them — runs on a second core while the calling thread
 * reads packets. Finished flows are copied out of the flow table in their raw state into a ring of batches in shared
 * memory (FlowRecordRing); the thread computes their features and text with the same code as the single-threaded
 * writer, so the bytes are the same. The ring is the only buffer between the threads: memory stays bounded, and
 * when the thread falls behind, `ready` makes the extraction wait.
 */
export class FlowCsvThreadWriter {
  private readonly worker: Worker;
  private readonly ring: FlowRecordRing;
  private failure: Error | null = null;
  private finished = false;
  private wake: (() => void) | null = null;
  private source = -1;

  constructor(
    fd: number,
    withContext: boolean,
    private readonly names: string[],
  ) {
    this.ring = FlowRecordRing.allocate(SLOTS, BATCH_FLOWS, withContext, names);
    const data: CsvThreadData = {
      fd,
      context: withContext,
      ring: this.ring.buffer,
      slots: SLOTS,
      batchFlows: BATCH_FLOWS,
      names,
    };
    const ext = extname(fileURLToPath(import.meta.url));
    const module = new URL(`./csv-thread${ext}`, import.meta.url);
    // Tests and benches run the sources under tsx, whose ESM hooks do not reach a worker on Node 20: there the .ts
    // module is required through tsx's CommonJS hook (csv-thread has no top-level await). The build imports its .js.
    const load =
      ext === ".ts"
        ? `require(${JSON.stringify(createRequire(import.meta.url).resolve("tsx/cjs"))});require(${JSON.stringify(fileURLToPath(module))})`
        : `import(${JSON.stringify(module.href)})`;
    this.worker = new Worker(load, { eval: true, workerData: data });
    this.worker.on("message", (m: FromCsvThread) => {
      if (m.type === "done") this.finished = true;
      else this.failure = Object.assign(new Error(m.message), { code: m.code });
      this.notify();
    });
    this.worker.on("error", (error) => {
      this.failure = error;
      this.notify();
    });
    this.worker.on("exit", (code) => {
      if (!this.finished && this.failure === null)
        this.failure = new Error(`the CSV writer thread exited (code ${code}) before the end of the flows`);
      this.notify();
    });
  }

  /** Queues one finished flow's row (the flow is copied: the cursor may move on). */
  row(flow: FlowCursor): void {
    if (flow.source !== this.source) this.checkSource(flow);
    const batch = this.ring.filling;
    batch.append(flow);
    if (batch.count === BATCH_FLOWS) {
      this.ring.publish();
      // `ready` keeps a free batch ahead of the one being filled; without it rows would overwrite unread ones.
      if (this.ring.outstanding >= SLOTS)
        throw new Error("flow CSV writer: row() called without awaiting ready()");
    }
  }

  /**
   * Resolves once the thread has room for more rows than visitFlows hands out between two calls; rejects if the
   * thread failed.
   */
  async ready(): Promise<void> {
    for (;;) {
      if (this.failure !== null) throw this.failure;
      const seen = this.ring.consumed;
      if (this.ring.published - seen < SLOTS - 1) return;
      // The thread's events (a failure, its exit) wake this too: a pending waitAsync alone would not keep the
      // process alive once the thread is gone.
      await Promise.race([this.ring.waitConsumed(seen), this.nextEvent()]);
    }
  }

  /** Sends what is left and resolves once every row is written; the caller then closes the file. */
  async end(): Promise<void> {
    await this.ready();
    if (this.ring.filling.count > 0) this.ring.publish();
    this.ring.close();
    while (!this.finished && this.failure === null) await this.nextEvent();
    if (this.failure !== null) throw this.failure;
  }

  /** Stops the thread without waiting for its rows (the output is being discarded). */
  async abort(): Promise<void> {
    this.finished = true;
    await this.worker.terminate();
  }

  /** The thread knows captures by the names given at the start, in reading order: check that this flow agrees. */
  private checkSource(flow: FlowCursor): void {
    if (this.names[flow.source] !== flow.capture) {
      throw new Error(
        `flow CSV writer: capture ${flow.source} is ${flow.capture}, not ${this.names[flow.source]}`,
      );
    }
    this.source = flow.source;
  }

  private nextEvent(): Promise<void> {
    return new Promise((resolve) => {
      this.wake = resolve;
    });
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }
}
