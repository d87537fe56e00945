import { formatIpv4, formatIpv6 } from "../capture/ip.ts";
import type { PortNames } from "./ports.ts";

/**
 * Emulates what FlowMeter gets from gopacket v1.1.19's DecodingLayerParser(Ethernet, IPv4, IPv6, TCP, UDP, TLS,
 * Payload) plus its PacketInfo(): the 5-tuple string, or nothing. Every frame is decoded as Ethernet whatever the
 * file's link type (FlowMeter does so, which is why Linux cooked and raw-IP captures give it no flows). Each layer
 * accepts exactly what gopacket's DecodeFromBytes accepts, including its quirks:
 * - no VLAN decoder: tagged frames stop at Ethernet;
 * - IPv4: version not checked, total length 0 means "use the captured length", options are validated (an option
 *   of length ≤ 2 is an error), MF or a fragment offset stops decoding (next layer is Fragment);
 * - IPv6: a hop-by-hop header is decoded inside the IPv6 layer (protocol string "IPv6HopByHop"), with its jumbogram
 *   rules; any other extension header stops decoding;
 * - TCP: data offset ≥ 5 and within the data, options validated (End-of-list stops parsing);
 * - UDP: length field 1–7 is an error;
 * - a layer with an empty payload ends decoding; tunnels (IPv4/IPv6 in IPv4/IPv6) continue, and when an IPv4
 *   layer was decoded anywhere its (last) addresses and protocol are used, as PacketInfo checks IPv4 first.
 */
export class GopacketTuple {
  /** The tuple "SRC--DST--PROTO--SPORT--DPORT" and its reverse after a successful `decode`. */
  tuple = "";
  reverse = "";
  private v4 = false;
  private v4Src = 0;
  private v4Dst = 0;
  private v4Proto = 0;
  private v6 = false;
  private readonly v6Src = new Uint32Array(4);
  private readonly v6Dst = new Uint32Array(4);
  private v6Proto = 0;
  private transport = 0;
  private srcPort = 0;
  private dstPort = 0;

  constructor(private readonly ports: PortNames) {}

  /** Decodes the frame `d[p .. end)`; true when FlowMeter would make a tuple of it (TCP or UDP over IP). */
  decode(d: Uint8Array, p: number, end: number): boolean {
    this.v4 = false;
    this.v6 = false;
    this.transport = 0;
    let layer = ETHERNET;
    for (;;) {
      const r = this.decodeLayer(layer, d, p, end);
      if (r === null) break;
      if (r.end - r.start === 0 || r.next === NONE) break;
      layer = r.next;
      p = r.start;
      end = r.end;
    }
    if (this.transport === 0 || !(this.v4 || this.v6)) return false;
    let src: string;
    let dst: string;
    let proto: string;
    if (this.v4) {
      src = formatIpv4(this.v4Src);
      dst = formatIpv4(this.v4Dst);
      proto = protocolName(this.v4Proto);
    } else {
      src = formatIpv6(this.v6Src, true);
      dst = formatIpv6(this.v6Dst, true);
      proto = protocolName(this.v6Proto);
    }
    const tcp = this.transport === 6;
    const sp = tcp ? this.ports.tcpPort(this.srcPort) : this.ports.udpPort(this.srcPort);
    const dp = tcp ? this.ports.tcpPort(this.dstPort) : this.ports.udpPort(this.dstPort);
    this.tuple = `${src}--${dst}--${proto}--${sp}--${dp}`;
    this.reverse = `${dst}--${src}--${proto}--${dp}--${sp}`;
    return true;
  }

  private readonly next = { start: 0, end: 0, next: 0 };

  /** Decodes one layer; null on a decoding error, else its payload and the next layer. */
  private decodeLayer(
    layer: number,
    d: Uint8Array,
    p: number,
    end: number,
  ): { start: number; end: number; next: number } | null {
    const len = end - p;
    const out = this.next;
    switch (layer) {
      case ETHERNET: {
        if (len < 14) return null;
        const type = u16(d, p + 12);
        out.start = p + 14;
        out.end = end;
        // A type below 0x600 is an 802.3 length: the next layer is LLC, which this parser lacks.
        out.next = type === 0x0800 ? IPV4 : type === 0x86dd ? IPV6 : NONE;
        return out;
      }
      case IPV4: {
        if (len < 20) return null;
        const ihl = d[p] & 0x0f;
        const flagsFrags = u16(d, p + 6);
        let length = u16(d, p + 2);
        if (length === 0) length = len & 0xffff;
        if (length < 20 || ihl < 5 || ihl * 4 > length) return null;
        let dataEnd = end;
        if (len > length) dataEnd = p + length;
        else if (len < length && ihl * 4 > len) return null;
        const optionsEnd = p + ihl * 4;
        for (let o = p + 20; o < optionsEnd; ) {
          const type = d[o];
          if (type === 0) break;
          if (type === 1) {
            o++;
            continue;
          }
          if (optionsEnd - o < 2) return null;
          const olen = d[o + 1];
          if (optionsEnd - o < olen || olen <= 2) return null;
          o += olen;
        }
        this.v4 = true;
        this.v4Src = u32(d, p + 12);
        this.v4Dst = u32(d, p + 16);
        this.v4Proto = d[p + 9];
        out.start = optionsEnd;
        out.end = dataEnd;
        out.next = (flagsFrags >> 13) & 1 || flagsFrags & 0x1fff ? NONE : layerOf(this.v4Proto);
        return out;
      }
      case IPV6:
        return this.decodeIpv6(d, p, end, out);
      case TCP: {
        if (len < 20) return null;
        const offset = d[p + 12] >> 4;
        if (offset < 5 || offset * 4 > len) return null;
        const optionsEnd = p + offset * 4;
        for (let o = p + 20; o < optionsEnd; ) {
          const kind = d[o];
          if (kind === 0) break;
          if (kind === 1) {
            o++;
            continue;
          }
          if (optionsEnd - o < 2) return null;
          const olen = d[o + 1];
          if (olen < 2 || olen > optionsEnd - o) return null;
          o += olen;
        }
        this.transport = 6;
        this.srcPort = u16(d, p);
        this.dstPort = u16(d, p + 2);
        return null; // whatever follows (TLS, payload) cannot change the tuple
      }
      case UDP: {
        if (len < 8) return null;
        const ulen = u16(d, p + 4);
        if (ulen > 0 && ulen < 8) return null;
        this.transport = 17;
        this.srcPort = u16(d, p);
        this.dstPort = u16(d, p + 2);
        return null;
      }
      default:
        return null;
    }
  }

  private decodeIpv6(
    d: Uint8Array,
    p: number,
    end: number,
    out: { start: number; end: number; next: number },
  ): { start: number; end: number; next: number } | null {
    if (end - p < 40) return null;
    const length = u16(d, p + 4);
    const nextHeader = d[p + 6];
    let start = p + 40;
    let payloadEnd = end;
    let next = layerOf(nextHeader);
    if (nextHeader === 0) {
      const available = end - start;
      if (available < 2) return null;
      const hbhNext = d[start];
      const actual = d[start + 1] * 8 + 8;
      if (available < actual) return null;
      // Options are read from the whole remaining payload, not just the header (as gopacket does).
      let jumboAt = -1;
      let jumboLength = 0;
      for (let offset = 2; offset < actual; ) {
        const remaining = available - offset;
        if (remaining < 2) return null;
        const o = start + offset;
        if (d[o] === 0) {
          offset += 1;
          continue;
        }
        const optionLength = d[o + 1] + 2;
        if (remaining < optionLength) return null;
        if (d[o] === 0xc2 && jumboAt < 0) {
          jumboAt = o;
          jumboLength = d[o + 1];
        }
        offset += optionLength;
      }
      let jumbo = false;
      let jumboPayload = 0;
      if (jumboAt >= 0) {
        if (jumboLength !== 4) return null;
        jumboPayload = u32(d, jumboAt + 2);
        if (jumboPayload <= 65535) return null;
        jumbo = true;
      }
      next = layerOf(hbhNext);
      if (jumbo && length === 0) {
        // gopacket returns here without skipping the hop-by-hop header.
        payloadEnd = Math.min(start + jumboPayload, end);
        this.setIpv6(d, p, 0);
        out.start = start;
        out.end = payloadEnd;
        out.next = next;
        return out;
      }
      if (jumbo || length === 0) return null;
      start += actual;
    }
    if (length === 0) return null;
    payloadEnd = start + Math.min(length, end - start);
    this.setIpv6(d, p, nextHeader);
    out.start = start;
    out.end = payloadEnd;
    out.next = next;
    return out;
  }

  private setIpv6(d: Uint8Array, p: number, protocol: number): void {
    this.v6 = true;
    for (let i = 0; i < 4; i++) {
      this.v6Src[i] = u32(d, p + 8 + 4 * i);
      this.v6Dst[i] = u32(d, p + 24 + 4 * i);
    }
    this.v6Proto = protocol;
  }
}

const NONE = 0;
const ETHERNET = 1;
const IPV4 = 2;
const IPV6 = 3;
const TCP = 4;
const UDP = 5;

/** The parser's decoders reachable from an IP protocol number (IPProtocol.LayerType()). */
function layerOf(protocol: number): number {
  return protocol === 6 ? TCP : protocol === 17 ? UDP : protocol === 4 ? IPV4 : protocol === 41 ? IPV6 : NONE;
}

/** gopacket IPProtocol.String() for the only protocols that can precede a decoded TCP/UDP layer. */
function protocolName(protocol: number): string {
  switch (protocol) {
    case 0:
      return "IPv6HopByHop";
    case 4:
      return "IPv4";
    case 6:
      return "TCP";
    case 17:
      return "UDP";
    case 41:
      return "IPv6";
    default:
      return `UnknownIPProtocol(${protocol})`;
  }
}

function u16(d: Uint8Array, p: number): number {
  return (d[p] << 8) | d[p + 1];
}

function u32(d: Uint8Array, p: number): number {
  return ((d[p] << 24) | (d[p + 1] << 16) | (d[p + 2] << 8) | d[p + 3]) >>> 0;
}
