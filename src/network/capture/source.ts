import type { FileHandle } from "node:fs/promises";

/** Default read size: large reads keep syscalls rare; the whole buffer is the reader's only per-file memory. */
export const DEFAULT_CHUNK_SIZE = 8 * 1024 * 1024;

/**
 * A sliding window over a file, read in large chunks. Parsers work synchronously on `buf[pos .. end)` and call
 * `fill(n)` only when they need `n` bytes from `pos` that are not there yet, so there is one await per chunk
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
    private readonly handle: FileHandle,
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

  /** Makes at least `need` bytes available from `pos`, unless the file ends first. */
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
      const { bytesRead } = await this.handle.read(this.buf, this.end, this.buf.length - this.end, null);
      if (bytesRead === 0) this.eof = true;
      this.end += bytesRead;
    }
  }
}
