import { type FileHandle, open } from "node:fs/promises";
import type { Readable } from "node:stream";
import { InputError } from "../../core/errors.ts";
import { isPcapMagic, PcapParser } from "./pcap.ts";
import { isPcapngMagic, PcapngParser } from "./pcapng.ts";
import { type ByteReader, ChunkSource, DEFAULT_CHUNK_SIZE, fileReader, StreamByteReader } from "./source.ts";
import type { CaptureFormat, CaptureWarning, PacketRecord } from "./types.ts";

export interface ReadCaptureOptions {
  /** Bytes per read (default 8 MiB). */
  chunkSize?: number;
  /** Called for every warning as it happens (they are also kept in `CaptureReader.warnings`). */
  onWarning?: (warning: CaptureWarning) => void;
}

/**
 * An open capture file. `readBatch` hands every packet of the next chunk to a callback synchronously, so that
 * hot loops pay one await per chunk (several MiB), not one per packet.
 */
export class CaptureReader {
  packets = 0;

  private constructor(
    readonly file: string,
    readonly format: CaptureFormat,
    readonly size: number,
    private readonly handle: FileHandle | null,
    private readonly source: ChunkSource,
    private readonly parser: PcapParser | PcapngParser,
    readonly warnings: CaptureWarning[],
  ) {}

  static async open(file: string, options: ReadCaptureOptions = {}): Promise<CaptureReader> {
    let handle: FileHandle;
    try {
      handle = await open(file, "r");
    } catch (err) {
      throw new InputError(`cannot open capture: ${(err as Error).message}`, { file });
    }
    try {
      const size = (await handle.stat()).size;
      // Small files get a buffer of their own size: hundreds of small captures should not cost 8 MiB each.
      const chunk = Math.min(options.chunkSize ?? DEFAULT_CHUNK_SIZE, Math.max(size, 64 * 1024));
      return await CaptureReader.start(file, fileReader(handle), handle, size, chunk, options);
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  /**
   * A capture arriving on a stream (stdin, `tcpdump -w -`): the same parsers, fed as bytes arrive. Waits for the
   * file header; `size` is unknown (0).
   */
  static async fromStream(
    name: string,
    stream: Readable | StreamByteReader,
    options: ReadCaptureOptions = {},
  ): Promise<CaptureReader> {
    const reader = stream instanceof StreamByteReader ? stream : new StreamByteReader(stream);
    return CaptureReader.start(name, reader, null, 0, options.chunkSize ?? 1 << 20, options);
  }

  private static async start(
    file: string,
    bytes: ByteReader,
    handle: FileHandle | null,
    size: number,
    chunk: number,
    options: ReadCaptureOptions,
  ): Promise<CaptureReader> {
    const source = new ChunkSource(bytes, chunk);
    await source.fill(24);
    const what = handle ? "file" : "input";
    if (source.available === 0) throw new InputError(`empty ${what}, not a capture`, { file, offset: 0 });
    if (source.available < 4) throw new InputError(`${what} too short to be a capture`, { file, offset: 0 });
    const warnings: CaptureWarning[] = [];
    const warn = (w: CaptureWarning) => {
      warnings.push(w);
      options.onWarning?.(w);
    };
    const head = source.buf.subarray(0, 4);
    let parser: PcapParser | PcapngParser;
    if (isPcapMagic(head)) parser = new PcapParser(source, file, warn);
    else if (isPcapngMagic(head)) parser = new PcapngParser(source, file, warn);
    else {
      throw new InputError(`not a pcap or pcapng file (starts with 0x${Buffer.from(head).toString("hex")})`, {
        file,
        offset: 0,
      });
    }
    return new CaptureReader(file, parser.format, size, handle, source, parser, warnings);
  }

  /** Bytes consumed so far (for progress). */
  get position(): number {
    return this.source.offset;
  }

  /**
   * Calls `onPacket` for each packet available without reading, then reads the next chunk. Returns false once
   * the file is exhausted. `onPacket` may return true to end the batch early (the rest stays buffered), so that
   * a consumer can hand out its results while they are young. The record passed to `onPacket` is reused: copy
   * what must outlive the call.
   */
  async readBatch(onPacket: (packet: PacketRecord) => unknown, beforeWait?: () => void): Promise<boolean> {
    const parser = this.parser;
    for (;;) {
      const rec = parser.next();
      if (rec !== null) {
        this.packets++;
        if (onPacket(rec) === true) return true;
        continue;
      }
      if (parser.need === 0) return false;
      // Everything that had arrived is handled: a live reader's moment to report (lag, stats) before it waits.
      beforeWait?.();
      await this.source.fill(parser.need);
      return true;
    }
  }

  /** Next packet, or null at the end. One await per call: prefer `readBatch` in hot loops. */
  async next(): Promise<PacketRecord | null> {
    for (;;) {
      const rec = this.parser.next();
      if (rec !== null) {
        this.packets++;
        return rec;
      }
      if (this.parser.need === 0) return null;
      await this.source.fill(this.parser.need);
    }
  }

  async close(): Promise<void> {
    await this.handle?.close();
  }
}

/**
 * Streams the packets of a pcap or pcapng file. The yielded record is reused between iterations (see
 * PacketRecord). Warnings go to `options.onWarning`.
 */
export async function* readCapture(
  file: string,
  options: ReadCaptureOptions = {},
): AsyncGenerator<PacketRecord> {
  const reader = await CaptureReader.open(file, options);
  try {
    for (;;) {
      const rec = await reader.next();
      if (rec === null) return;
      yield rec;
    }
  } finally {
    await reader.close();
  }
}
