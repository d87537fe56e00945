import type { FileHandle } from "node:fs/promises";
import type { Readable } from "node:stream";

/** Default read size: large reads keep syscalls rare; the whole buffer is the reader's only per-file memory. */
export const DEFAULT_CHUNK_SIZE = 8 * 1024 * 1024;

/** Where a ChunkSource gets its bytes: a file, or a stream (stdin, tcpdump's output). Returns 0 at the end. */
export interface ByteReader {
  read(buffer: Buffer, offset: number, length: number): Promise<number>;
}

export function fileReader(handle: FileHandle): ByteReader {
  return {
    read: async (buffer, offset, length) => (await handle.read(buffer, offset, length, null)).bytesRead,
  };
}

/**
 * A sliding window over a file or stream, read in large chunks. Parsers work synchronously on `buf[pos .. end)` and
 * call `fill(n)` only when they need `n` bytes from `pos` that are not there yet, so there is one await per chunk
 * rather than per packet. Records are never copied except the unconsumed tail of a chunk.
 */
export class ChunkSource {
  buf: Buffer;
  /** Read position inside `buf`. */
  pos = 0;
  /** End of valid data inside `buf`. */
  end = 0;
  /** File offset of `buf[0]`. */
  base = 0;
  eof = false;

  constructor(
    private readonly reader: ByteReader,
    chunkSize = DEFAULT_CHUNK_SIZE,
  ) {
    this.buf = Buffer.allocUnsafe(chunkSize);
  }

  get available(): number {
    return this.end - this.pos;
  }

  /** File offset of the read position. */
  get offset(): number {
    return this.base + this.pos;
  }

  /** Makes at least `need` bytes available from `pos`, unless the input ends first. */
  async fill(need: number): Promise<void> {
    if (this.end - this.pos >= need || this.eof) return;
    if (need > this.buf.length) {
      const grown = Buffer.allocUnsafe(Math.max(need, this.buf.length * 2));
      this.buf.copy(grown, 0, this.pos, this.end);
      this.buf = grown;
      this.base += this.pos;
      this.end -= this.pos;
      this.pos = 0;
    } else if (this.pos > 0) {
      this.buf.copyWithin(0, this.pos, this.end);
      this.base += this.pos;
      this.end -= this.pos;
      this.pos = 0;
    }
    while (this.end - this.pos < need && !this.eof) {
      const bytesRead = await this.reader.read(this.buf, this.end, this.buf.length - this.end);
      if (bytesRead === 0) this.eof = true;
      this.end += bytesRead;
    }
  }
}

/**
 * Bytes of a stream (stdin, a capture tool's stdout) for a ChunkSource. The stream is read ahead into a bounded queue;
 * when the queue is full the stream is paused, so a writer faster than the reader waits (a pipe fills, tcpdump blocks
 * and the kernel drops and counts what it cannot buffer) instead of memory growing. `read` returns what is queued
 * (at least one byte) as soon as there is any: a live capture's packets are parsed as they arrive.
 */
export class StreamByteReader implements ByteReader {
  private readonly queue: Buffer[] = [];
  private queued = 0;
  private head = 0;
  private ended = false;
  private paused = false;
  private failure: Error | null = null;
  private wake: (() => void) | null = null;
  /** Bytes received from the stream. */
  received = 0;

  constructor(
    private readonly stream: Readable,
    private readonly maxQueueBytes = 16 << 20,
  ) {
    stream.on("data", (chunk: Buffer) => {
      this.received += chunk.length;
      this.queue.push(chunk);
      this.queued += chunk.length;
      if (this.queued > this.maxQueueBytes && !this.paused) {
        this.paused = true;
        stream.pause();
      }
      this.notify();
    });
    const end = () => {
      this.ended = true;
      this.notify();
    };
    stream.once("end", end);
    stream.once("close", end);
    stream.once("error", (error: Error) => {
      this.failure = error;
      end();
    });
  }

  /** Bytes received but not yet read. */
  get queuedBytes(): number {
    return this.queued;
  }

  /** Wakes a pending read with nothing (it returns 0, as at the end of input): the consumer is stopping. */
  interrupt(): void {
    this.ended = true;
    this.notify();
  }

  async read(buffer: Buffer, offset: number, length: number): Promise<number> {
    while (this.queue.length === 0) {
      if (this.failure) throw this.failure;
      if (this.ended) return 0;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
    let copied = 0;
    while (copied < length && this.queue.length > 0) {
      const chunk = this.queue[0];
      const n = Math.min(length - copied, chunk.length - this.head);
      chunk.copy(buffer, offset + copied, this.head, this.head + n);
      copied += n;
      this.head += n;
      if (this.head === chunk.length) {
        this.queue.shift();
        this.head = 0;
      }
    }
    this.queued -= copied;
    if (this.paused && this.queued <= this.maxQueueBytes / 2) {
      this.paused = false;
      this.stream.resume();
    }
    return copied;
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }
}
