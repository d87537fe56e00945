/** Writers of pcap and pcapng files for tests (the inverse of the readers under test). */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface TestPacket {
  sec: number;
  /** Nanoseconds (pcap µs files store nsec / 1000, so use multiples of 1000 there). */
  nsec: number;
  data: number[] | Uint8Array;
  /** Original length; defaults to the data length. */
  orig?: number;
}

export interface PcapOptions {
  littleEndian?: boolean;
  nanos?: boolean;
  linkType?: number;
  snapLen?: number;
}

class Bytes {
  private readonly parts: Buffer[] = [];
  constructor(readonly le: boolean) {}
  u8(v: number): this {
    this.parts.push(Buffer.from([v & 0xff]));
    return this;
  }
  u16(v: number): this {
    const b = Buffer.alloc(2);
    if (this.le) b.writeUInt16LE(v);
    else b.writeUInt16BE(v);
    this.parts.push(b);
    return this;
  }
  u32(v: number): this {
    const b = Buffer.alloc(4);
    if (this.le) b.writeUInt32LE(v >>> 0);
    else b.writeUInt32BE(v >>> 0);
    this.parts.push(b);
    return this;
  }
  i64(v: bigint): this {
    const b = Buffer.alloc(8);
    if (this.le) b.writeBigInt64LE(v);
    else b.writeBigInt64BE(v);
    this.parts.push(b);
    return this;
  }
  bytes(data: ArrayLike<number>): this {
    this.parts.push(Buffer.from(Array.from(data)));
    return this;
  }
  pad4(): this {
    const n = this.length % 4;
    if (n !== 0) this.parts.push(Buffer.alloc(4 - n));
    return this;
  }
  get length(): number {
    return this.parts.reduce((a, p) => a + p.length, 0);
  }
  build(): Buffer {
    return Buffer.concat(this.parts);
  }
}

export function pcapFile(packets: TestPacket[], o: PcapOptions = {}): Buffer {
  const w = new Bytes(o.littleEndian ?? true);
  w.u32(o.nanos ? 0xa1b23c4d : 0xa1b2c3d4)
    .u16(2)
    .u16(4)
    .u32(0)
    .u32(0)
    .u32(o.snapLen ?? 262144)
    .u32(o.linkType ?? 1);
  for (const p of packets) {
    w.u32(p.sec)
      .u32(o.nanos ? p.nsec : Math.floor(p.nsec / 1000))
      .u32(p.data.length)
      .u32(p.orig ?? p.data.length)
      .bytes(p.data);
  }
  return w.build();
}

export interface NgInterface {
  linkType: number;
  snapLen?: number;
  /** Raw if_tsresol byte (default: option absent, i.e. µs). */
  tsresol?: number;
  tsoffset?: bigint;
}

export type NgBlock =
  | { kind: "epb"; interfaceId: number; units: bigint; data: ArrayLike<number>; orig?: number }
  | { kind: "opb"; interfaceId: number; units: bigint; data: ArrayLike<number>; orig?: number }
  | { kind: "spb"; data: ArrayLike<number>; orig?: number }
  | { kind: "raw"; type: number; body: ArrayLike<number> };

export interface NgSection {
  littleEndian?: boolean;
  interfaces: NgInterface[];
  blocks: NgBlock[];
}

function block(le: boolean, type: number, body: Bytes): Buffer {
  const content = body.pad4().build();
  const len = content.length + 12;
  return new Bytes(le).u32(type).u32(len).bytes(content).u32(len).build();
}

export function pcapngFile(sections: NgSection[]): Buffer {
  const out: Buffer[] = [];
  for (const s of sections) {
    const le = s.littleEndian ?? true;
    out.push(block(le, 0x0a0d0d0a, new Bytes(le).u32(0x1a2b3c4d).u16(1).u16(0).i64(-1n)));
    for (const i of s.interfaces) {
      const body = new Bytes(le)
        .u16(i.linkType)
        .u16(0)
        .u32(i.snapLen ?? 0);
      if (i.tsresol !== undefined) body.u16(9).u16(1).u8(i.tsresol).pad4();
      if (i.tsoffset !== undefined) body.u16(14).u16(8).i64(i.tsoffset);
      if (i.tsresol !== undefined || i.tsoffset !== undefined) body.u16(0).u16(0);
      out.push(block(le, 1, body));
    }
    for (const b of s.blocks) {
      if (b.kind === "epb" || b.kind === "opb") {
        const body = new Bytes(le);
        if (b.kind === "epb") body.u32(b.interfaceId);
        else body.u16(b.interfaceId).u16(0);
        body
          .u32(Number(b.units >> 32n))
          .u32(Number(b.units & 0xffffffffn))
          .u32(b.data.length)
          .u32(b.orig ?? b.data.length)
          .bytes(b.data);
        out.push(block(le, b.kind === "epb" ? 6 : 2, body));
      } else if (b.kind === "spb") {
        out.push(block(le, 3, new Bytes(le).u32(b.orig ?? b.data.length).bytes(b.data)));
      } else {
        out.push(block(le, b.type, new Bytes(le).bytes(b.body)));
      }
    }
  }
  return Buffer.concat(out);
}

/** A temporary directory for one test file, removed by `cleanup`. */
export function tempDir(): {
  dir: string;
  write: (name: string, data: Uint8Array) => string;
  cleanup: () => void;
} {
  const dir = mkdtempSync(join(tmpdir(), "threatlens-net-"));
  return {
    dir,
    write: (name, data) => {
      const path = join(dir, name);
      writeFileSync(path, data);
      return path;
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
