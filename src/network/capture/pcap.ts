import { InputError } from "../../core/errors.ts";
import type { ChunkSource } from "./source.ts";
import { blankPacketRecord, type CaptureWarning, type PacketRecord } from "./types.ts";

/** Magic numbers as read little-endian from the first 4 bytes. */
const MAGIC_USEC = 0xa1b2c3d4;
const MAGIC_NSEC = 0xa1b23c4d;
/** Kuznetzov's "modified" libpcap format: 8 more bytes per record header (ifindex, protocol, pkt_type). */
const MAGIC_MODIFIED = 0xa1b2cd34;

const GLOBAL_HEADER_LENGTH = 24;
/**
 * Largest caplen accepted when the snapshot length does not allow more: libpcap's maximum for almost every link
 * type. Anything above both this and the file's snaplen is a corrupt record header, not a big packet.
 */
const MAX_CAPLEN = 262144;
/** Hard ceiling whatever the snaplen says, so a corrupt header never makes us buffer gigabytes. */
const ABSOLUTE_MAX_CAPLEN = 64 * 1024 * 1024;

export function isPcapMagic(b: Uint8Array): boolean {
  const le = readU32(b, 0, true);
  const be = readU32(b, 0, false);
  return [MAGIC_USEC, MAGIC_NSEC, MAGIC_MODIFIED].some((m) => m === le || m === be);
}

function readU32(b: Uint8Array, p: number, le: boolean): number {
  return le
    ? (b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (b[p + 3] << 24)) >>> 0
    : ((b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]) >>> 0;
}

/**
 * Streaming reader of classic libpcap files (either byte order, microsecond or nanosecond timestamps). Pull-based:
 * `next()` returns a packet, or null with `need > 0` when the source must be filled to `need` bytes first, or null
 * with `need === 0` at the end. A cut-short last record is a warning (the packet is dropped, as libpcap does); a
 * record header that cannot be right is an InputError, since nothing after it can be trusted.
 */
export class PcapParser {
  readonly format = "pcap" as const;
  need = 0;
  private readonly le: boolean;
  private readonly nanos: boolean;
  private readonly recordHeaderLength: number;
  private readonly snapLen: number;
  private readonly linkType: number;
  private readonly maxCaplen: number;
  private done = false;
  private readonly rec: PacketRecord;

  constructor(
    private readonly src: ChunkSource,
    private readonly file: string,
    private readonly warn: (w: CaptureWarning) => void,
  ) {
    const b = src.buf;
    const p = src.pos;
    if (src.available < GLOBAL_HEADER_LENGTH) {
      throw new InputError(`pcap global header cut short (${src.available} of 24 bytes)`, {
        file,
        offset: 0,
      });
    }
    const magicLe = readU32(b, p, true);
    this.le = magicLe === MAGIC_USEC || magicLe === MAGIC_NSEC || magicLe === MAGIC_MODIFIED;
    const magic = this.le ? magicLe : readU32(b, p, false);
    this.nanos = magic === MAGIC_NSEC;
    this.recordHeaderLength = magic === MAGIC_MODIFIED ? 24 : 16;
    const rawSnap = readU32(b, p + 16, this.le);
    // libpcap treats 0 and values that do not fit an int as "no limit".
    this.snapLen = rawSnap > 0x7fffffff ? 0 : rawSnap;
    this.linkType = readU32(b, p + 20, this.le) & 0xffff;
    this.maxCaplen = Math.min(Math.max(MAX_CAPLEN, this.snapLen), ABSOLUTE_MAX_CAPLEN);
    src.pos += GLOBAL_HEADER_LENGTH;
    this.rec = { ...blankPacketRecord(b), linkType: this.linkType, snapLen: this.snapLen };
  }

  next(): PacketRecord | null {
    if (this.done) return this.finish();
    const src = this.src;
    const b = src.buf;
    const p = src.pos;
    const avail = src.end - p;
    const hl = this.recordHeaderLength;
    if (avail < hl) {
      if (!src.eof) return this.ask(hl);
      if (avail > 0) this.warnAt(p, `record header cut short (${avail} of ${hl} bytes); file truncated`);
      return this.finish();
    }
    const le = this.le;
    let sec: number;
    let frac: number;
    let caplen: number;
    let origlen: number;
    if (le) {
      sec = (b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (b[p + 3] << 24)) >>> 0;
      frac = (b[p + 4] | (b[p + 5] << 8) | (b[p + 6] << 16) | (b[p + 7] << 24)) >>> 0;
      caplen = (b[p + 8] | (b[p + 9] << 8) | (b[p + 10] << 16) | (b[p + 11] << 24)) >>> 0;
      origlen = (b[p + 12] | (b[p + 13] << 8) | (b[p + 14] << 16) | (b[p + 15] << 24)) >>> 0;
    } else {
      sec = ((b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]) >>> 0;
      frac = ((b[p + 4] << 24) | (b[p + 5] << 16) | (b[p + 6] << 8) | b[p + 7]) >>> 0;
      caplen = ((b[p + 8] << 24) | (b[p + 9] << 16) | (b[p + 10] << 8) | b[p + 11]) >>> 0;
      origlen = ((b[p + 12] << 24) | (b[p + 13] << 16) | (b[p + 14] << 8) | b[p + 15]) >>> 0;
    }
    if (caplen > this.maxCaplen) {
      throw new InputError(
        `corrupt pcap record header: captured length ${caplen} exceeds ${this.maxCaplen} (snaplen ${this.snapLen})`,
        { file: this.file, offset: src.base + p },
      );
    }
    if (avail < hl + caplen) {
      if (!src.eof) return this.ask(hl + caplen);
      this.warnAt(
        p,
        `packet cut short (${avail - hl} of ${caplen} captured bytes); file truncated, packet dropped`,
      );
      return this.finish();
    }
    let nsec = this.nanos ? frac : frac * 1000;
    if (nsec >= 1e9) {
      // Out-of-range fractions are kept as libpcap does: they carry into the seconds.
      const carry = Math.floor(nsec / 1e9);
      sec += carry;
      nsec -= carry * 1e9;
    }
    const rec = this.rec;
    rec.data = b;
    rec.offset = p + hl;
    rec.capturedLength = caplen;
    rec.originalLength = origlen;
    rec.tsSec = sec;
    rec.tsNsec = nsec;
    rec.fileOffset = src.base + p;
    rec.index++;
    src.pos = p + hl + caplen;
    return rec;
  }

  private ask(n: number): null {
    this.need = n;
    return null;
  }

  private finish(): null {
    this.done = true;
    this.need = 0;
    return null;
  }

  private warnAt(p: number, message: string): void {
    this.warn({ file: this.file, offset: this.src.base + p, message });
  }
}
