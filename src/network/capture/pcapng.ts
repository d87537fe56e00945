import { InputError } from "../../core/errors.ts";
import type { ChunkSource } from "./source.ts";
import { blankPacketRecord, type CaptureWarning, type PacketRecord } from "./types.ts";

const BLOCK_SHB = 0x0a0d0d0a;
const BLOCK_IDB = 0x00000001;
const BLOCK_OPB = 0x00000002; // obsolete Packet Block, still written by old tools
const BLOCK_SPB = 0x00000003;
const BLOCK_EPB = 0x00000006;
const BYTE_ORDER_MAGIC = 0x1a2b3c4d;
const OPT_END = 0;
const OPT_IF_TSRESOL = 9;
const OPT_IF_TSOFFSET = 14;
/** A block bigger than this is a corrupt length field (real blocks hold at most one packet plus options). */
const MAX_BLOCK_LENGTH = 64 * 1024 * 1024 + 4096;

export function isPcapngMagic(b: Uint8Array): boolean {
  return b[0] === 0x0a && b[1] === 0x0d && b[2] === 0x0d && b[3] === 0x0a;
}

interface Interface {
  linkType: number;
  snapLen: number;
  /** Timestamp units per second are 10^decimalExp, or 2^binaryExp when decimalExp < 0. */
  decimalExp: number;
  binaryExp: number;
  /** Decimal resolutions up to ns: units per second and ns per unit. */
  unitsPerSecond: number;
  nsPerUnit: number;
  offsetSec: number;
}

function readU32(b: Uint8Array, p: number, le: boolean): number {
  return le
    ? (b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (b[p + 3] << 24)) >>> 0
    : ((b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]) >>> 0;
}

function readU16(b: Uint8Array, p: number, le: boolean): number {
  return le ? b[p] | (b[p + 1] << 8) : (b[p] << 8) | b[p + 1];
}

/**
 * Streaming pcapng reader: any number of sections (each Section Header Block sets its own byte order and resets
 * the interfaces), several Interface Description Blocks with their own link type, snaplen, `if_tsresol` (powers
 * of 10 or of 2) and `if_tsoffset`; Enhanced, Simple and obsolete Packet Blocks. Other blocks are skipped.
 * Same pull protocol as PcapParser.
 */
export class PcapngParser {
  readonly format = "pcapng" as const;
  need = 0;
  private le = true;
  private interfaces: Interface[] = [];
  private done = false;
  private readonly rec: PacketRecord;

  constructor(
    private readonly src: ChunkSource,
    private readonly file: string,
    private readonly warn: (w: CaptureWarning) => void,
  ) {
    this.rec = blankPacketRecord(src.buf);
  }

  next(): PacketRecord | null {
    if (this.done) return this.finish();
    const src = this.src;
    for (;;) {
      const b = src.buf;
      const p = src.pos;
      const avail = src.end - p;
      const headerNeed = avail >= 4 && readU32(b, p, true) === BLOCK_SHB ? 12 : 8;
      if (avail < headerNeed) {
        if (!src.eof) return this.ask(headerNeed);
        if (avail > 0) this.warnAt(p, `block header cut short (${avail} bytes); file truncated`);
        return this.finish();
      }
      const type = readU32(b, p, this.le);
      if (type === BLOCK_SHB) {
        const magic = readU32(b, p + 8, true);
        if (magic === BYTE_ORDER_MAGIC) this.le = true;
        else if (readU32(b, p + 8, false) === BYTE_ORDER_MAGIC) this.le = false;
        else throw this.error(p, `bad section header byte-order magic 0x${magic.toString(16)}`);
      } else if (src.base + p === 0) {
        throw this.error(p, "pcapng file does not start with a section header block");
      }
      const len = readU32(b, p + 4, this.le);
      if (len < 12 || len % 4 !== 0 || len > MAX_BLOCK_LENGTH) {
        throw this.error(p, `bad block length ${len} (block type 0x${type.toString(16)})`);
      }
      if (avail < len) {
        if (!src.eof) return this.ask(len);
        this.warnAt(p, `block cut short (${avail} of ${len} bytes); file truncated`);
        return this.finish();
      }
      if (readU32(b, p + len - 4, this.le) !== len) {
        throw this.error(p, `block length ${len} does not match its trailing copy`);
      }
      src.pos = p + len;
      switch (type) {
        case BLOCK_SHB:
          this.readSectionHeader(b, p, len);
          break;
        case BLOCK_IDB:
          this.readInterface(b, p, len);
          break;
        case BLOCK_EPB:
        case BLOCK_OPB:
          return this.readPacketBlock(b, p, len, type === BLOCK_EPB);
        case BLOCK_SPB:
          return this.readSimplePacket(b, p, len);
        default:
          break; // Name resolution, statistics, secrets, custom blocks: not needed for flows.
      }
    }
  }

  private readSectionHeader(b: Uint8Array, p: number, len: number): void {
    if (len < 28) throw this.error(p, `section header block too short (${len} bytes)`);
    const major = readU16(b, p + 12, this.le);
    if (major !== 1)
      throw this.error(p, `unsupported pcapng version ${major}.${readU16(b, p + 14, this.le)}`);
    this.interfaces = [];
  }

  private readInterface(b: Uint8Array, p: number, len: number): void {
    if (len < 20) throw this.error(p, `interface description block too short (${len} bytes)`);
    const iface: Interface = {
      linkType: readU16(b, p + 8, this.le),
      snapLen: readU32(b, p + 12, this.le),
      decimalExp: 6,
      binaryExp: 0,
      unitsPerSecond: 1e6,
      nsPerUnit: 1000,
      offsetSec: 0,
    };
    const end = p + len - 4;
    let o = p + 16;
    while (o + 4 <= end) {
      const code = readU16(b, o, this.le);
      const olen = readU16(b, o + 2, this.le);
      if (code === OPT_END) break;
      if (o + 4 + olen > end) {
        this.warnAt(p, `interface option ${code} overruns its block; remaining options ignored`);
        break;
      }
      if (code === OPT_IF_TSRESOL && olen >= 1) {
        const v = b[o + 4];
        if (v & 0x80) {
          iface.decimalExp = -1;
          iface.binaryExp = v & 0x7f;
        } else {
          iface.decimalExp = v;
          iface.unitsPerSecond = 10 ** v;
          iface.nsPerUnit = v <= 9 ? 10 ** (9 - v) : 0;
        }
      } else if (code === OPT_IF_TSOFFSET && olen >= 8) {
        const hi = readU32(b, o + 4 + (this.le ? 4 : 0), this.le) | 0; // signed
        const lo = readU32(b, o + 4 + (this.le ? 0 : 4), this.le);
        iface.offsetSec = hi * 4294967296 + lo;
      }
      o += 4 + ((olen + 3) & ~3);
    }
    this.interfaces.push(iface);
  }

  private readPacketBlock(b: Uint8Array, p: number, len: number, enhanced: boolean): PacketRecord {
    if (len < 32) throw this.error(p, `packet block too short (${len} bytes)`);
    const ifId = enhanced ? readU32(b, p + 8, this.le) : readU16(b, p + 8, this.le);
    const iface = this.interfaces[ifId];
    if (iface === undefined) {
      throw this.error(
        p,
        `packet block refers to interface ${ifId}, but the section defines ${this.interfaces.length}`,
      );
    }
    const caplen = readU32(b, p + 20, this.le);
    if (28 + caplen > len - 4) {
      throw this.error(p, `captured length ${caplen} exceeds its ${len}-byte packet block`);
    }
    const rec = this.fill(b, p, iface, ifId, p + 28, caplen, readU32(b, p + 24, this.le));
    this.setTimestamp(iface, readU32(b, p + 12, this.le), readU32(b, p + 16, this.le));
    return rec;
  }

  private readSimplePacket(b: Uint8Array, p: number, len: number): PacketRecord {
    if (len < 16) throw this.error(p, `simple packet block too short (${len} bytes)`);
    const iface = this.interfaces[0];
    if (iface === undefined)
      throw this.error(p, "simple packet block before any interface description block");
    const origlen = readU32(b, p + 8, this.le);
    let caplen = Math.min(origlen, len - 16);
    if (iface.snapLen > 0) caplen = Math.min(caplen, iface.snapLen);
    const rec = this.fill(b, p, iface, 0, p + 12, caplen, origlen);
    // A simple packet block has no timestamp; libpcap reports 0 (plus the interface's offset).
    rec.tsSec = iface.offsetSec;
    rec.tsNsec = 0;
    return rec;
  }

  private fill(
    b: Uint8Array,
    p: number,
    iface: Interface,
    ifId: number,
    dataOffset: number,
    caplen: number,
    origlen: number,
  ): PacketRecord {
    const rec = this.rec;
    rec.data = b;
    rec.offset = dataOffset;
    rec.capturedLength = caplen;
    rec.originalLength = origlen;
    rec.linkType = iface.linkType;
    rec.snapLen = iface.snapLen;
    rec.interfaceId = ifId;
    rec.fileOffset = this.src.base + p;
    rec.index++;
    return rec;
  }

  /** Converts a 64-bit count of interface time units to exact seconds + nanoseconds (truncating sub-ns parts). */
  private setTimestamp(iface: Interface, hi: number, lo: number): void {
    const rec = this.rec;
    if (iface.decimalExp >= 0 && iface.decimalExp <= 9) {
      // Long division by 10^n in base 2^16: every intermediate stays below 2^46, so doubles are exact.
      const d = iface.unitsPerSecond;
      let cur = hi >>> 16;
      let q = Math.floor(cur / d);
      let r = cur - q * d;
      cur = r * 65536 + (hi & 0xffff);
      let qd = Math.floor(cur / d);
      r = cur - qd * d;
      q = q * 65536 + qd;
      cur = r * 65536 + (lo >>> 16);
      qd = Math.floor(cur / d);
      r = cur - qd * d;
      q = q * 65536 + qd;
      cur = r * 65536 + (lo & 0xffff);
      qd = Math.floor(cur / d);
      r = cur - qd * d;
      q = q * 65536 + qd;
      rec.tsSec = q + iface.offsetSec;
      rec.tsNsec = r * iface.nsPerUnit;
      return;
    }
    const units = (BigInt(hi) << 32n) | BigInt(lo);
    const perSecond = iface.decimalExp >= 0 ? 10n ** BigInt(iface.decimalExp) : 1n << BigInt(iface.binaryExp);
    const sec = units / perSecond;
    rec.tsSec = Number(sec) + iface.offsetSec;
    rec.tsNsec = Number(((units - sec * perSecond) * 1_000_000_000n) / perSecond);
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

  private error(p: number, message: string): InputError {
    return new InputError(message, { file: this.file, offset: this.src.base + p });
  }

  private warnAt(p: number, message: string): void {
    this.warn({ file: this.file, offset: this.src.base + p, message });
  }
}
