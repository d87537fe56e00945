import { CONTEXT_FEATURES } from "./context.ts";
import { STRIDE } from "./state.ts";
import { type FlowCursor, type FlowStore, KEY_WORDS } from "./table.ts";

const CONTEXT_WIDTH = CONTEXT_FEATURES.length;

/**
 * Finished flows copied out of their flow table, slot by slot in the table's own layout: a batch that another thread
 * can read (over shared memory, see FlowRecordRing) with a FlowCursor exactly as in the table — the same state, so
 * the same features and the same text. Capture names are looked up in `names`, by source index.
 */
export class FlowRecords implements FlowStore {
  count = 0;

  constructor(
    readonly state: Float64Array,
    readonly keyWords: Uint32Array,
    /** Context features per flow, or empty when the flows carry none. */
    readonly context: Float64Array,
    private readonly names: readonly string[],
  ) {}

  /** Copies the flow under `flow` into the next slot (there must be room: count < capacity). */
  append(flow: FlowCursor): void {
    const from = flow.slotIndex;
    const store = flow.store;
    const i = this.count++;
    const src = store.state;
    const dst = this.state;
    const b = from * STRIDE;
    const o = i * STRIDE;
    for (let k = 0; k < STRIDE; k++) dst[o + k] = src[b + k];
    const srcKeys = store.keyWords;
    const keys = this.keyWords;
    const kb = from * KEY_WORDS;
    const ko = i * KEY_WORDS;
    for (let k = 0; k < KEY_WORDS; k++) keys[ko + k] = srcKeys[kb + k];
    if (this.context.length > 0) store.contextOf(from, this.context, i * CONTEXT_WIDTH);
  }

  contextOf(slot: number, out: Float64Array, offset: number): void {
    if (this.context.length === 0) out.fill(0, offset, offset + CONTEXT_WIDTH);
    else out.set(this.context.subarray(slot * CONTEXT_WIDTH, (slot + 1) * CONTEXT_WIDTH), offset);
  }

  sourceName(index: number): string {
    return this.names[index] ?? "";
  }
}

/** Atomics.waitAsync (in Node since 16; its types come with ES2024, past this project's ES2023 library). */
const waitAsync = (
  Atomics as unknown as {
    waitAsync(
      array: Int32Array,
      index: number,
      value: number,
      timeout: number,
    ): { async: boolean; value: Promise<string> | string };
  }
).waitAsync;

/** Control words of a FlowRecordRing. */
const PUBLISHED = 0;
const CONSUMED = 1;
const CLOSED = 2;
const CONTROL_WORDS = 4;

/**
 * A ring of FlowRecords batches in one SharedArrayBuffer, between one producer thread and one consumer thread: the
 * producer fills the batch at `published % slots` and publishes it; the consumer reads batches in order and marks
 * them consumed, which frees them. Nothing is copied between threads or allocated per batch (transferring buffers
 * instead made each batch external memory to account and collect on both sides). Counters only grow; a batch's
 * flow count is stored beside it.
 */
export class FlowRecordRing {
  readonly batches: FlowRecords[];
  private readonly control: Int32Array;
  private readonly counts: Int32Array;

  constructor(
    readonly buffer: SharedArrayBuffer,
    readonly slots: number,
    readonly batchFlows: number,
    readonly withContext: boolean,
    names: readonly string[],
  ) {
    const layout = ringLayout(slots, batchFlows, withContext);
    if (buffer.byteLength !== layout.bytes)
      throw new RangeError("flow record ring: buffer of the wrong size");
    this.control = new Int32Array(buffer, 0, CONTROL_WORDS);
    this.counts = new Int32Array(buffer, CONTROL_WORDS * 4, slots);
    this.batches = Array.from(
      { length: slots },
      (_, i) =>
        new FlowRecords(
          new Float64Array(buffer, layout.state + i * batchFlows * STRIDE * 8, batchFlows * STRIDE),
          new Uint32Array(buffer, layout.keys + i * batchFlows * KEY_WORDS * 4, batchFlows * KEY_WORDS),
          new Float64Array(
            buffer,
            layout.context + i * batchFlows * layout.contextWidth * 8,
            batchFlows * layout.contextWidth,
          ),
          names,
        ),
    );
  }

  static allocate(
    slots: number,
    batchFlows: number,
    withContext: boolean,
    names: readonly string[],
  ): FlowRecordRing {
    const buffer = new SharedArrayBuffer(ringLayout(slots, batchFlows, withContext).bytes);
    return new FlowRecordRing(buffer, slots, batchFlows, withContext, names);
  }

  get published(): number {
    return Atomics.load(this.control, PUBLISHED);
  }

  get consumed(): number {
    return Atomics.load(this.control, CONSUMED);
  }

  get closed(): boolean {
    return Atomics.load(this.control, CLOSED) !== 0;
  }

  /** Producer: the batch being filled. */
  get filling(): FlowRecords {
    return this.batches[this.published % this.slots];
  }

  /** Producer: hands the batch being filled to the consumer (the next one must be free: see `free`). */
  publish(): void {
    const n = this.published;
    const batch = this.batches[n % this.slots];
    this.counts[n % this.slots] = batch.count;
    batch.count = 0;
    Atomics.store(this.control, PUBLISHED, n + 1);
    Atomics.notify(this.control, PUBLISHED);
  }

  /** Producer: batches not yet consumed, the one being filled excluded. */
  get outstanding(): number {
    return this.published - this.consumed;
  }

  /** Producer: resolves when the consumer has consumed past `seen`. */
  async waitConsumed(seen: number): Promise<void> {
    const r = waitAsync(this.control, CONSUMED, seen, Number.POSITIVE_INFINITY);
    if (r.async) await r.value;
  }

  /** Producer: no more batches. */
  close(): void {
    Atomics.store(this.control, CLOSED, 1);
    Atomics.notify(this.control, PUBLISHED);
  }

  /**
   * Consumer: blocks until the next batch is published, then returns it with its count set; null once the producer
   * has closed the ring and every batch was read.
   */
  next(): FlowRecords | null {
    const n = this.consumed;
    for (;;) {
      if (Atomics.load(this.control, PUBLISHED) > n) break;
      if (this.closed) {
        if (Atomics.load(this.control, PUBLISHED) > n) break;
        return null;
      }
      Atomics.wait(this.control, PUBLISHED, n);
    }
    const batch = this.batches[n % this.slots];
    batch.count = this.counts[n % this.slots];
    return batch;
  }

  /** Consumer: the batch returned by `next` is read; its slot is free again. */
  release(): void {
    Atomics.add(this.control, CONSUMED, 1);
    Atomics.notify(this.control, CONSUMED);
  }
}

function ringLayout(slots: number, batchFlows: number, withContext: boolean) {
  const contextWidth = withContext ? CONTEXT_WIDTH : 0;
  // Float64 regions first (8-byte aligned), then the key words.
  const head = Math.ceil(((CONTROL_WORDS + slots) * 4) / 8) * 8;
  const state = head;
  const context = state + slots * batchFlows * STRIDE * 8;
  const keys = context + slots * batchFlows * contextWidth * 8;
  const bytes = keys + slots * batchFlows * KEY_WORDS * 4;
  return { state, context, keys, bytes, contextWidth };
}
