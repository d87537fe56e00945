import {
  closeSync,
  fstatSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import { InputError } from "../core/errors.ts";

/**
 * An agent's disk buffer: every batch (or alert) is appended here before it is published, and forgotten once the
 * server acknowledged it. An agent that cannot reach the server keeps reading into the spool up to `maxBytes`, then
 * pushes back on its input (or drops, counted, when told to); a restarted agent — even after `kill -9` — publishes
 * again whatever was not acknowledged, under the same message ids, so the server keeps one copy.
 *
 * Layout: segment files `seg-<first seq>.spool` of framed records (magic, header and payload lengths, CRC-32, JSON
 * header, payload) and `spool.json` (the acknowledged watermark and the header of the last record). Records are
 * written with one write(2) each and not fsynced: they survive the agent's death, not the machine's.
 */
export interface SpoolHeader {
  seq: number;
  [field: string]: unknown;
}

export interface SpoolRecord<H extends SpoolHeader = SpoolHeader> {
  header: H;
  payload: Uint8Array;
}

export interface SpoolOptions {
  /** Unacknowledged bytes kept at most (the bound on the buffer). */
  maxBytes?: number;
  segmentBytes?: number;
  /** Unacknowledged payload kept in memory as well (beyond, records are read back from disk). */
  memoryBytes?: number;
}

interface Located<H extends SpoolHeader> {
  header: H;
  payload: Uint8Array | null;
  segment: number;
  offset: number;
  size: number;
}

interface SpoolMeta {
  ackedThrough: number;
  /** Acknowledged out of order, above the watermark (a few: what was in flight around a failure). */
  ackedAbove: number[];
  nextSeq: number;
  last: SpoolHeader | null;
}

const MAGIC = 0x544c5350; // "TLSP"
const FRAME = 16;
const META_FILE = "spool.json";

export class Spool<H extends SpoolHeader = SpoolHeader> {
  readonly maxBytes: number;
  private readonly segmentBytes: number;
  private readonly memoryBytes: number;
  private readonly pending = new Map<number, Located<H>>();
  /** Acknowledged out of order, above the contiguous watermark. */
  private readonly ackedAbove = new Set<number>();
  private ackedThrough = -1;
  private next = 0;
  private lastHeader: H | null = null;
  private pendingBytes = 0;
  private memoryUsed = 0;
  private segments: number[] = [];
  private segmentFd = -1;
  private segmentSize = 0;
  private metaDirty = false;
  private waiters: (() => boolean)[] = [];
  /** Records recovered from disk when the spool was opened (not yet acknowledged by the server then). */
  readonly recovered: number;
  /** Bytes cut from the end of the last segment because the agent died in the middle of writing a record. */
  tornBytes = 0;

  constructor(
    readonly dir: string,
    options: SpoolOptions = {},
  ) {
    this.maxBytes = options.maxBytes ?? 256 << 20;
    this.segmentBytes = options.segmentBytes ?? 16 << 20;
    this.memoryBytes = options.memoryBytes ?? 32 << 20;
    mkdirSync(dir, { recursive: true });
    this.readMeta();
    this.recovered = this.scan();
  }

  /** The next record's sequence number. */
  get nextSeq(): number {
    return this.next;
  }

  /** Header of the newest record ever appended (kept after it was acknowledged): where the input was. */
  get last(): H | null {
    return this.lastHeader;
  }

  get unacknowledged(): number {
    return this.pending.size;
  }

  get unacknowledgedBytes(): number {
    return this.pendingBytes;
  }

  get full(): boolean {
    return this.pendingBytes >= this.maxBytes;
  }

  /** Appends a record (assigning its sequence number) and returns its header. The payload is copied. */
  append(fields: Omit<H, "seq">, payload: Uint8Array): H {
    const header = { ...fields, seq: this.next } as H;
    const head = Buffer.from(JSON.stringify(header));
    const frame = Buffer.allocUnsafe(FRAME + head.length + payload.length);
    frame.writeUInt32LE(MAGIC, 0);
    frame.writeUInt32LE(head.length, 4);
    frame.writeUInt32LE(payload.length, 8);
    head.copy(frame, FRAME);
    frame.set(payload, FRAME + head.length);
    frame.writeUInt32LE(crc32(frame.subarray(FRAME)), 12);
    if (this.segmentFd < 0 || this.segmentSize >= this.segmentBytes) this.rotate();
    writeSync(this.segmentFd, frame);
    const located: Located<H> = {
      header,
      payload: null,
      segment: this.segments[this.segments.length - 1],
      offset: this.segmentSize,
      size: frame.length,
    };
    if (this.memoryUsed + payload.length <= this.memoryBytes) {
      // The frame's own copy: the caller may reuse its buffer as soon as append returns.
      located.payload = frame.subarray(FRAME + head.length);
      this.memoryUsed += payload.length;
    }
    this.segmentSize += frame.length;
    this.pending.set(header.seq, located);
    this.pendingBytes += frame.length;
    this.next++;
    this.lastHeader = header;
    this.metaDirty = true;
    return header;
  }

  /** The record with this sequence number, if it is still unacknowledged. */
  get(seq: number): SpoolRecord<H> | null {
    const located = this.pending.get(seq);
    if (!located) return null;
    if (located.payload) return { header: located.header, payload: located.payload };
    const frame = this.readFrame(located.segment, located.offset, located.size);
    const headLength = frame.readUInt32LE(4);
    return { header: located.header, payload: frame.subarray(FRAME + headLength) };
  }

  /** Sequence numbers still to acknowledge, in order. */
  unackedSeqs(): number[] {
    return [...this.pending.keys()].sort((a, b) => a - b);
  }

  isAcked(seq: number): boolean {
    return seq <= this.ackedThrough || this.ackedAbove.has(seq);
  }

  ack(seq: number): void {
    const located = this.pending.get(seq);
    if (!located) return;
    this.pending.delete(seq);
    this.pendingBytes -= located.size;
    if (located.payload) this.memoryUsed -= located.payload.length;
    this.ackedAbove.add(seq);
    while (this.ackedAbove.has(this.ackedThrough + 1)) {
      this.ackedAbove.delete(this.ackedThrough + 1);
      this.ackedThrough++;
    }
    this.metaDirty = true;
    this.dropAckedSegments();
    if (!this.full || this.pending.size === 0) this.wake();
  }

  /** Resolves once there is room for more (immediately when there is). */
  waitForRoom(): Promise<void> {
    if (!this.full) return Promise.resolve();
    return new Promise((resolve) =>
      this.waiters.push(() => {
        if (this.full) return false;
        resolve();
        return true;
      }),
    );
  }

  /** Resolves once every record has been acknowledged. */
  waitForEmpty(): Promise<void> {
    if (this.pending.size === 0) return Promise.resolve();
    return new Promise((resolve) =>
      this.waiters.push(() => {
        if (this.pending.size > 0) return false;
        resolve();
        return true;
      }),
    );
  }

  /** Writes the acknowledged watermark (cheap; called on a timer and at exit). */
  saveMeta(): void {
    if (!this.metaDirty) return;
    const meta: SpoolMeta = {
      ackedThrough: this.ackedThrough,
      ackedAbove: [...this.ackedAbove],
      nextSeq: this.next,
      last: this.lastHeader,
    };
    const file = join(this.dir, META_FILE);
    writeFileSync(`${file}.tmp`, JSON.stringify(meta));
    renameSync(`${file}.tmp`, file);
    this.metaDirty = false;
  }

  close(): void {
    this.saveMeta();
    if (this.segmentFd >= 0) closeSync(this.segmentFd);
    this.segmentFd = -1;
  }

  private wake(): void {
    this.waiters = this.waiters.filter((w) => !w());
  }

  private rotate(): void {
    if (this.segmentFd >= 0) closeSync(this.segmentFd);
    const first = this.next;
    this.segments.push(first);
    this.segmentFd = openSync(this.segmentPath(first), "a");
    this.segmentSize = fstatSync(this.segmentFd).size;
    this.dropAckedSegments();
  }

  private segmentPath(first: number): string {
    return join(this.dir, `seg-${String(first).padStart(12, "0")}.spool`);
  }

  /** Deletes segments every record of which is acknowledged (never the one being written). */
  private dropAckedSegments(): void {
    while (this.segments.length > 1) {
      const nextFirst = this.segments[1];
      if (this.ackedThrough < nextFirst - 1) break;
      // Save the watermark first: a restart must not find records of a deleted segment unacknowledged.
      this.saveMeta();
      unlinkSync(this.segmentPath(this.segments[0]));
      this.segments.shift();
    }
  }

  private readMeta(): void {
    let text: string;
    try {
      text = readFileSync(join(this.dir, META_FILE), "utf8");
    } catch {
      return;
    }
    try {
      const meta = JSON.parse(text) as SpoolMeta;
      this.ackedThrough = meta.ackedThrough;
      for (const seq of meta.ackedAbove ?? []) this.ackedAbove.add(seq);
      this.next = meta.nextSeq;
      this.lastHeader = meta.last as H | null;
    } catch {
      throw new InputError("the spool's metadata is not valid JSON", { file: join(this.dir, META_FILE) });
    }
  }

  /** Reads every segment, keeps the unacknowledged records, and cuts a record torn by a crash. */
  private scan(): number {
    const firsts = readdirSync(this.dir)
      .map((f) => /^seg-(\d{12})\.spool$/.exec(f))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);
    for (const first of firsts) {
      const path = this.segmentPath(first);
      const data = readFileSync(path);
      let offset = 0;
      while (offset + FRAME <= data.length) {
        const magic = data.readUInt32LE(offset);
        const headLength = data.readUInt32LE(offset + 4);
        const payloadLength = data.readUInt32LE(offset + 8);
        const size = FRAME + headLength + payloadLength;
        if (magic !== MAGIC || offset + size > data.length) break;
        const body = data.subarray(offset + FRAME, offset + size);
        if (crc32(body) !== data.readUInt32LE(offset + 12)) break;
        const header = JSON.parse(body.subarray(0, headLength).toString()) as H;
        if (!this.isAcked(header.seq)) {
          this.pending.set(header.seq, { header, payload: null, segment: first, offset, size });
          this.pendingBytes += size;
        }
        if (header.seq >= this.next) this.next = header.seq + 1;
        if (this.lastHeader === null || header.seq >= this.lastHeader.seq) this.lastHeader = header;
        offset += size;
      }
      if (offset < data.length) {
        // The agent died while writing: the record was never published (publishing follows the write), so the
        // torn bytes are cut and the input is read again from the last whole record's position.
        this.tornBytes += data.length - offset;
        const fd = openSync(path, "r+");
        ftruncateSync(fd, offset);
        closeSync(fd);
      }
      this.segments.push(first);
    }
    if (this.segments.length > 0) {
      const last = this.segments[this.segments.length - 1];
      this.segmentFd = openSync(this.segmentPath(last), "a");
      this.segmentSize = fstatSync(this.segmentFd).size;
    }
    this.dropAckedSegments();
    return this.pending.size;
  }

  private readFrame(segment: number, offset: number, size: number): Buffer {
    const fd = openSync(this.segmentPath(segment), "r");
    try {
      const frame = Buffer.allocUnsafe(size);
      readSync(fd, frame, 0, size, offset);
      return frame;
    } finally {
      closeSync(fd);
    }
  }
}
