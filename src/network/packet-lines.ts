import { InputError } from "../core/errors.ts";
import type {
  ChunkHandler,
  FilePosition,
  LineHandler,
  LineSource,
  LineSourceStats,
} from "../core/stream/line-sources.ts";
import { type LineParser, RecordError } from "../core/stream/run.ts";
import { blankPacketRecord, type PacketRecord } from "./capture/types.ts";
import type { CaptureFileSource, CaptureStreamSource } from "./live/sources.ts";

/**
 * Packets as text lines, so that fleet agents ship captures through the same batches, spool, message ids and resume
 * points as event logs, and scorers feed them to the network detector unchanged. One line per packet:
 *
 *     SECONDS.NANOSECONDS LINKTYPE WIRE_LENGTH FILE_OFFSET BASE64_BYTES
 *
 * after a header line naming the format. The bytes are the packet as captured, cut to the agent's snap length: the
 * detector reads headers only (sizes come from the IP header), so 256 bytes carry everything it uses, as with
 * `network watch --interface` (tcpdump -s 256).
 */
export const PACKET_LINES_HEADER = "#threatlens-packets v1";

/** Bytes of each packet an agent ships by default (0 ships whole packets). */
export const DEFAULT_SHIPPED_SNAPLEN = 256;

/**
 * A capture (file, stdin, tcpdump's output) read as packet lines. The packet source does the reading, resuming and
 * loss accounting; this turns each packet into its line at once (the record is reused). Line n + 1 is packet n, so a
 * resume point's line number is the count of packets handed out plus the header.
 */
export class PacketLineSource implements LineSource {
  readonly stats: LineSourceStats = { bytes: 0, lines: 0, droppedLines: 0, rotations: 0, truncations: 0 };
  private buffer = Buffer.allocUnsafe(4096);

  constructor(
    private readonly packets: CaptureFileSource | CaptureStreamSource,
    private readonly snaplen = DEFAULT_SHIPPED_SNAPLEN,
  ) {}

  get name(): string {
    return this.packets.name;
  }

  get notices(): string[] {
    return this.packets.notices;
  }

  stop(): void {
    this.packets.stop();
  }

  behind(): number {
    return this.packets.behind();
  }

  position(): FilePosition | null {
    const p = this.packets.position();
    return p && { ...p, line: p.line + 1 };
  }

  resume(position: FilePosition): void {
    if ("resume" in this.packets) this.packets.resume({ ...position, line: Math.max(0, position.line - 1) });
  }

  async run(onLine: LineHandler, onChunk?: ChunkHandler): Promise<void> {
    const header = Buffer.from(PACKET_LINES_HEADER);
    // The header goes first, also on resume: parsers learn the format from it, and it carries no packet.
    onLine(header, 0, header.length, 1);
    this.stats.lines++;
    await this.packets.run(
      (rec) => this.packet(rec, onLine),
      () => {
        this.stats.bytes = this.packets.stats.bytes;
        return onChunk?.();
      },
    );
    this.stats.bytes = this.packets.stats.bytes;
  }

  private packet(rec: PacketRecord, onLine: LineHandler): void {
    const kept = this.snaplen > 0 ? Math.min(rec.capturedLength, this.snaplen) : rec.capturedLength;
    const bytes = Buffer.from(rec.data.buffer, rec.data.byteOffset + rec.offset, kept).toString("base64");
    const text = `${rec.tsSec}.${String(rec.tsNsec).padStart(9, "0")} ${rec.linkType} ${rec.originalLength} ${rec.fileOffset} ${bytes}`;
    if (text.length > this.buffer.length) this.buffer = Buffer.allocUnsafe(text.length * 2);
    const length = this.buffer.write(text, 0, "latin1");
    this.stats.lines++;
    onLine(this.buffer, 0, length, this.packets.handedOut + 1);
  }
}

const SPACE = 32;
const DOT = 46;
const ZERO = 48;
const NINE = 57;

/** Reads packet lines back into packet records (one reused record, as the capture readers hand out). */
export class PacketLineParser implements LineParser<PacketRecord> {
  private data = Buffer.allocUnsafe(4096);
  private readonly record: PacketRecord = blankPacketRecord(this.data);
  private sawHeader = false;
  private view: Buffer | null = null;
  private viewOf: Uint8Array | null = null;

  constructor(private readonly name: string) {}

  parse(bytes: Uint8Array, start: number, end: number, line: number): PacketRecord | null {
    const text = this.textOf(bytes);
    if (line === 1) {
      const first = text.toString("latin1", start, end);
      if (first !== PACKET_LINES_HEADER) {
        throw new InputError(
          `expected the packet-lines header ${JSON.stringify(PACKET_LINES_HEADER)}, found ${JSON.stringify(first.slice(0, 80))}`,
          { file: this.name, line },
        );
      }
      this.sawHeader = true;
      return null;
    }
    if (!this.sawHeader) {
      throw new InputError(
        `expected the packet-lines header ${JSON.stringify(PACKET_LINES_HEADER)} on line 1`,
        {
          file: this.name,
          line,
        },
      );
    }
    const rec = this.record;
    let p = start;
    const field = (what: string, stop: number): number => {
      let value = 0;
      const from = p;
      while (p < end && bytes[p] >= ZERO && bytes[p] <= NINE) value = value * 10 + bytes[p++] - ZERO;
      if (p === from || p - from > 15 || p >= end || bytes[p] !== stop) {
        throw new RecordError(`expected ${what} followed by '${String.fromCharCode(stop)}'`);
      }
      p++;
      return value;
    };
    rec.tsSec = field("the timestamp's seconds", DOT);
    const nsFrom = p;
    rec.tsNsec = field("the timestamp's nanoseconds (9 digits)", SPACE);
    if (p - nsFrom !== 10) throw new RecordError("expected the timestamp's nanoseconds as 9 digits");
    rec.linkType = field("the link type", SPACE);
    rec.originalLength = field("the length on the wire", SPACE);
    rec.fileOffset = field("the packet's byte offset", SPACE);
    const encoded = end - p;
    if (encoded === 0 || encoded % 4 !== 0) throw new RecordError("expected the packet's bytes in base64");
    const padding = (bytes[end - 1] === 61 ? 1 : 0) + (bytes[end - 2] === 61 ? 1 : 0);
    const expected = (encoded / 4) * 3 - padding;
    if (expected > this.data.length) {
      this.data = Buffer.allocUnsafe(expected * 2);
      rec.data = this.data;
    }
    // Node's decoder skips characters outside the alphabet: a length short of the expected one is what tells them.
    const written = this.data.write(text.toString("latin1", p, end), 0, "base64");
    if (written !== expected) throw new RecordError("the packet's bytes are not valid base64");
    rec.capturedLength = written;
    rec.index = line - 2;
    return rec;
  }

  /** A Buffer over the batch's bytes (made once per batch) for its latin1 and base64 methods. */
  private textOf(bytes: Uint8Array): Buffer {
    if (this.viewOf !== bytes) {
      this.viewOf = bytes;
      this.view = Buffer.isBuffer(bytes)
        ? bytes
        : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    }
    return this.view!;
  }
}
