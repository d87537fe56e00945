/** Builders of raw packets (network byte order) for tests. */

export function ipv4Bytes(text: string): number[] {
  return text.split(".").map(Number);
}

export function ipv6Bytes(text: string): number[] {
  const [head, tail] = text.includes("::") ? text.split("::") : [text, undefined];
  const parse = (s: string | undefined) => (s ? s.split(":").map((g) => Number.parseInt(g, 16)) : []);
  const h = parse(head);
  const t = parse(tail);
  const groups = tail === undefined ? h : [...h, ...new Array(8 - h.length - t.length).fill(0), ...t];
  return groups.flatMap((g) => [g >> 8, g & 0xff]);
}

function u16(v: number): number[] {
  return [(v >> 8) & 0xff, v & 0xff];
}

function u32(v: number): number[] {
  return [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
}

export interface TcpOptions {
  sport: number;
  dport: number;
  flags?: number;
  window?: number;
  seq?: number;
  /** Raw option bytes (padded to 4 by the caller). */
  options?: number[];
  payload?: number[];
  /** Override the data offset field (in 32-bit words). */
  dataOffset?: number;
}

export function tcp(o: TcpOptions): number[] {
  const options = o.options ?? [];
  const offset = o.dataOffset ?? 5 + options.length / 4;
  const flags = o.flags ?? 0x10;
  return [
    ...u16(o.sport),
    ...u16(o.dport),
    ...u32(o.seq ?? 1),
    ...u32(0),
    (offset << 4) | ((flags >> 8) & 1),
    flags & 0xff,
    ...u16(o.window ?? 65535),
    0,
    0,
    0,
    0,
    ...options,
    ...(o.payload ?? []),
  ];
}

export function udp(sport: number, dport: number, payload: number[] = [], length?: number): number[] {
  return [...u16(sport), ...u16(dport), ...u16(length ?? 8 + payload.length), 0, 0, ...payload];
}

export function icmpEcho(payload: number[] = []): number[] {
  return [8, 0, 0, 0, 0, 1, 0, 1, ...payload];
}

export interface Ipv4Options {
  src: string;
  dst: string;
  protocol: number;
  payload: number[];
  id?: number;
  /** More-fragments flag. */
  mf?: boolean;
  /** Fragment offset in 8-byte units. */
  fragmentOffset?: number;
  options?: number[];
  ttl?: number;
  /** Override the total length field. */
  totalLength?: number;
  version?: number;
  /** Override the IHL field (32-bit words). */
  ihl?: number;
}

export function ipv4(o: Ipv4Options): number[] {
  const options = o.options ?? [];
  const ihl = o.ihl ?? 5 + options.length / 4;
  const total = o.totalLength ?? 20 + options.length + o.payload.length;
  const flags = ((o.mf ? 1 : 0) << 13) | (o.fragmentOffset ?? 0);
  return [
    ((o.version ?? 4) << 4) | ihl,
    0,
    ...u16(total),
    ...u16(o.id ?? 1),
    ...u16(flags),
    o.ttl ?? 64,
    o.protocol,
    0,
    0,
    ...ipv4Bytes(o.src),
    ...ipv4Bytes(o.dst),
    ...options,
    ...o.payload,
  ];
}

export interface Ipv6Options {
  src: string;
  dst: string;
  /** Next header of the fixed header (the first extension header's type, if any). */
  nextHeader: number;
  /** Extension headers and transport, already chained by the caller. */
  payload: number[];
  payloadLength?: number;
}

export function ipv6(o: Ipv6Options): number[] {
  return [
    0x60,
    0,
    0,
    0,
    ...u16(o.payloadLength ?? o.payload.length),
    o.nextHeader,
    64,
    ...ipv6Bytes(o.src),
    ...ipv6Bytes(o.dst),
    ...o.payload,
  ];
}

/** A generic IPv6 extension header (hop-by-hop, routing, destination options): 8 bytes, padded with PadN. */
export function ipv6Extension(next: number, body: number[] = [1, 4, 0, 0, 0, 0]): number[] {
  const len = Math.ceil((body.length + 2) / 8) * 8;
  const bytes = [next, len / 8 - 1, ...body];
  while (bytes.length < len) bytes.push(0);
  return bytes;
}

export function ipv6Fragment(next: number, offset: number, more: boolean, id: number): number[] {
  return [next, 0, ...u16((offset << 3) | (more ? 1 : 0)), ...u32(id)];
}

/** Authentication header with a 4-byte ICV: payload length field = (12 + 4) / 4 - 2. */
export function ipv6Auth(next: number): number[] {
  return [next, 2, 0, 0, ...u32(0x100), ...u32(1), ...u32(0)];
}

export const MAC_A = [0, 1, 2, 3, 4, 5];
export const MAC_B = [0, 1, 2, 3, 4, 6];

export function ethernet(etherType: number, payload: number[], vlans: [number, number][] = []): number[] {
  const tags = vlans.flatMap(([tpid, vid]) => [...u16(tpid), ...u16(vid)]);
  return [...MAC_B, ...MAC_A, ...tags, ...u16(etherType), ...payload];
}

export function linuxSll(protocol: number, payload: number[]): number[] {
  return [0, 0, 0, 1, 0, 6, ...MAC_A, 0, 0, ...u16(protocol), ...payload];
}

export function linuxSll2(protocol: number, payload: number[]): number[] {
  return [...u16(protocol), 0, 0, ...u32(2), 0, 1, 0, 6, ...MAC_A, 0, 0, ...payload];
}

/** BSD loopback header: the address family in the given byte order. */
export function loopback(family: number, payload: number[], littleEndian: boolean): number[] {
  const b = u32(family);
  return [...(littleEndian ? b.reverse() : b), ...payload];
}

export const TCP_FLAGS = {
  FIN: 0x01,
  SYN: 0x02,
  RST: 0x04,
  PSH: 0x08,
  ACK: 0x10,
  URG: 0x20,
  ECE: 0x40,
  CWR: 0x80,
  NS: 0x100,
};
