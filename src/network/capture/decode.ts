import { LINKTYPE, type PacketRecord } from "./types.ts";

/** Outcome of decoding one packet. Only DECODED packets carry addresses. */
export const DECODED = 0;
/** A link type this decoder does not know. */
export const UNSUPPORTED_LINK = 1;
/** Not IPv4/IPv6 (ARP, LLDP, STP, …). */
export const NOT_IP = 2;
/** Too few captured bytes for the link or IP header, or for the ports of a transport header. */
export const TRUNCATED = 3;
/** An IP header that cannot be right (wrong version, header length below the minimum). */
export const MALFORMED = 4;

export const PROTO_ICMP = 1;
export const PROTO_TCP = 6;
export const PROTO_UDP = 17;
export const PROTO_ICMPV6 = 58;

const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;
const ETHERTYPE_VLAN = 0x8100;
const ETHERTYPE_QINQ = 0x88a8;
const ETHERTYPE_QINQ_OLD = 0x9100;
const ETHERTYPE_PPPOE_SESSION = 0x8864;
/** Marker for raw-IP link types: the IP version nibble decides. */
const RAW_IP = -1;

/** No fragmentation, first fragment (has the transport header), later fragment (no transport header). */
export const NOT_FRAGMENT = 0;
export const FIRST_FRAGMENT = 1;
export const LATER_FRAGMENT = 2;

/** Reused result of `decodePacket` (no allocation per packet). */
export class DecodedPacket {
  status = DECODED;
  ipVersion = 0;
  /** Addresses as big-endian 32-bit words; IPv4 uses word 0 only. */
  readonly src = new Uint32Array(4);
  readonly dst = new Uint32Array(4);
  /** Transport protocol number (after IPv6 extension headers). */
  protocol = 0;
  /** True when the transport header with ports was read (TCP, UDP, UDP-Lite, SCTP, DCCP). */
  hasPorts = false;
  srcPort = 0;
  dstPort = 0;
  fragment = NOT_FRAGMENT;
  fragmentId = 0;
  /** IP packet length on the wire from the IP header (header + payload), independent of link type and snaplen. */
  ipLength = 0;
  /** Transport payload bytes on the wire; for later fragments, the fragment's data bytes. */
  payloadLength = 0;
  /** TCP flags with NS as bit 8 (FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10, URG 0x20, ECE 0x40, CWR 0x80). */
  tcpFlags = 0;
  tcpWindow = 0;
  ttl = 0;
}

function u16(d: Uint8Array, p: number): number {
  return (d[p] << 8) | d[p + 1];
}

function u32(d: Uint8Array, p: number): number {
  return ((d[p] << 24) | (d[p + 1] << 16) | (d[p + 2] << 8) | d[p + 3]) >>> 0;
}

/**
 * Decodes link layer → IPv4/IPv6 → TCP/UDP/ICMP into `out` and returns `out.status`. Link types: Ethernet
 * (802.1Q, 802.1ad and QinQ tags, LLC/SNAP, PPPoE), Linux cooked v1/v2, raw IP (101, 228, 229, and 12/14 from old
 * BSD files), BSD loopback NULL (host byte order) and LOOP (network byte order).
 */
export function decodePacket(rec: PacketRecord, out: DecodedPacket): number {
  const d = rec.data;
  let p = rec.offset;
  const end = p + rec.capturedLength;
  let etherType: number;
  switch (rec.linkType) {
    case LINKTYPE.ETHERNET:
      if (end - p < 14) return (out.status = TRUNCATED);
      etherType = u16(d, p + 12);
      p += 14;
      break;
    case LINKTYPE.LINUX_SLL:
      if (end - p < 16) return (out.status = TRUNCATED);
      etherType = u16(d, p + 14);
      p += 16;
      break;
    case LINKTYPE.LINUX_SLL2:
      if (end - p < 20) return (out.status = TRUNCATED);
      etherType = u16(d, p);
      p += 20;
      break;
    case LINKTYPE.RAW:
    case LINKTYPE.RAW_OPENBSD:
    case LINKTYPE.RAW_BSDOS:
      etherType = RAW_IP;
      break;
    case LINKTYPE.IPV4:
      etherType = ETHERTYPE_IPV4;
      break;
    case LINKTYPE.IPV6:
      etherType = ETHERTYPE_IPV6;
      break;
    case LINKTYPE.NULL:
    case LINKTYPE.LOOP: {
      if (end - p < 4) return (out.status = TRUNCATED);
      // NULL stores the address family in the capturing host's byte order, LOOP in network order.
      let family =
        rec.linkType === LINKTYPE.LOOP
          ? u32(d, p)
          : (d[p] | (d[p + 1] << 8) | (d[p + 2] << 16)) + d[p + 3] * 16777216;
      if (family > 0xffff) family = u32(d, p);
      p += 4;
      if (family === 2) etherType = ETHERTYPE_IPV4;
      // AF_INET6 is 10 on Linux, 24 on NetBSD/OpenBSD, 28 on FreeBSD, 30 on macOS.
      else if (family === 10 || family === 24 || family === 28 || family === 30) etherType = ETHERTYPE_IPV6;
      else return (out.status = NOT_IP);
      break;
    }
    default:
      return (out.status = UNSUPPORTED_LINK);
  }
  for (;;) {
    if (etherType === ETHERTYPE_VLAN || etherType === ETHERTYPE_QINQ || etherType === ETHERTYPE_QINQ_OLD) {
      if (end - p < 4) return (out.status = TRUNCATED);
      etherType = u16(d, p + 2);
      p += 4;
    } else if (etherType === ETHERTYPE_PPPOE_SESSION) {
      if (end - p < 8) return (out.status = TRUNCATED);
      const ppp = u16(d, p + 6);
      p += 8;
      if (ppp === 0x0021) etherType = ETHERTYPE_IPV4;
      else if (ppp === 0x0057) etherType = ETHERTYPE_IPV6;
      else return (out.status = NOT_IP);
    } else if (etherType <= 1500 && etherType >= 0) {
      // 802.3 length field: only LLC/SNAP carries an EtherType.
      if (end - p < 8) return (out.status = NOT_IP);
      if (d[p] !== 0xaa || d[p + 1] !== 0xaa || d[p + 2] !== 0x03) return (out.status = NOT_IP);
      etherType = u16(d, p + 6);
      p += 8;
    } else break;
  }
  if (etherType === RAW_IP) {
    if (end - p < 1) return (out.status = TRUNCATED);
    const v = d[p] >> 4;
    etherType = v === 4 ? ETHERTYPE_IPV4 : v === 6 ? ETHERTYPE_IPV6 : -2;
  }
  if (etherType === ETHERTYPE_IPV4) return decodeIpv4(d, p, end, out);
  if (etherType === ETHERTYPE_IPV6) return decodeIpv6(d, p, end, out);
  return (out.status = NOT_IP);
}

function decodeIpv4(d: Uint8Array, p: number, end: number, out: DecodedPacket): number {
  if (end - p < 20) return (out.status = TRUNCATED);
  const vihl = d[p];
  const ihl = (vihl & 0x0f) * 4;
  if (vihl >> 4 !== 4 || ihl < 20) return (out.status = MALFORMED);
  if (end - p < ihl) return (out.status = TRUNCATED);
  let total = u16(d, p + 2);
  // A zero total length comes from TCP segmentation offload on the capturing host: use what was captured.
  if (total === 0) total = end - p;
  if (total < ihl) return (out.status = MALFORMED);
  const frag = u16(d, p + 6);
  const offset = frag & 0x1fff;
  out.ipVersion = 4;
  out.ipLength = total;
  out.ttl = d[p + 8];
  out.protocol = d[p + 9];
  out.fragmentId = u16(d, p + 4);
  out.fragment = offset !== 0 ? LATER_FRAGMENT : frag & 0x2000 ? FIRST_FRAGMENT : NOT_FRAGMENT;
  const src = out.src;
  const dst = out.dst;
  src[0] = u32(d, p + 12);
  src[1] = src[2] = src[3] = 0;
  dst[0] = u32(d, p + 16);
  dst[1] = dst[2] = dst[3] = 0;
  return decodeTransport(d, p + ihl, end, total - ihl, out);
}

function decodeIpv6(d: Uint8Array, p: number, end: number, out: DecodedPacket): number {
  if (end - p < 40) return (out.status = TRUNCATED);
  if (d[p] >> 4 !== 6) return (out.status = MALFORMED);
  let payload = u16(d, p + 4);
  // Payload length 0 means a jumbogram (or offload): use what was captured.
  if (payload === 0) payload = end - p - 40;
  out.ipVersion = 6;
  out.ipLength = 40 + payload;
  out.ttl = d[p + 7];
  out.fragment = NOT_FRAGMENT;
  out.fragmentId = 0;
  const src = out.src;
  const dst = out.dst;
  for (let i = 0; i < 4; i++) {
    src[i] = u32(d, p + 8 + 4 * i);
    dst[i] = u32(d, p + 24 + 4 * i);
  }
  let next = d[p + 6];
  let q = p + 40;
  const wireEnd = p + 40 + payload;
  // Extension headers: hop-by-hop, routing, destination options, mobility, HIP, shim6, fragment, AH.
  for (let hops = 0; hops < 16; hops++) {
    if (next === 0 || next === 43 || next === 60 || next === 135 || next === 139 || next === 140) {
      if (end - q < 2) return truncatedTransport(next, out);
      const len = (d[q + 1] + 1) * 8;
      next = d[q];
      q += len;
    } else if (next === 51) {
      if (end - q < 2) return truncatedTransport(next, out);
      const len = (d[q + 1] + 2) * 4;
      next = d[q];
      q += len;
    } else if (next === 44) {
      if (end - q < 8) return truncatedTransport(next, out);
      const offset = u16(d, q + 2) >> 3;
      out.fragment = offset !== 0 ? LATER_FRAGMENT : d[q + 3] & 1 ? FIRST_FRAGMENT : NOT_FRAGMENT;
      out.fragmentId = u32(d, q + 4);
      next = d[q];
      q += 8;
    } else break;
  }
  out.protocol = next;
  return decodeTransport(d, q, end, wireEnd - q, out);
}

function truncatedTransport(protocol: number, out: DecodedPacket): number {
  out.protocol = protocol;
  out.hasPorts = false;
  out.srcPort = out.dstPort = 0;
  out.payloadLength = 0;
  out.tcpFlags = out.tcpWindow = 0;
  return (out.status = TRUNCATED);
}

/** `l4Wire` is the transport segment's length on the wire (from the IP header), `end - p` what was captured. */
function decodeTransport(d: Uint8Array, p: number, end: number, l4Wire: number, out: DecodedPacket): number {
  out.status = DECODED;
  out.hasPorts = false;
  out.srcPort = out.dstPort = 0;
  out.tcpFlags = out.tcpWindow = 0;
  const wire = Math.max(l4Wire, 0);
  if (out.fragment === LATER_FRAGMENT) {
    out.payloadLength = wire;
    return DECODED;
  }
  const avail = end - p;
  switch (out.protocol) {
    case PROTO_TCP: {
      // Ports need 4 bytes; a snaplen or a tiny first fragment may cut the rest of the header.
      if (avail < 4) return truncatedTransport(PROTO_TCP, out);
      out.srcPort = u16(d, p);
      out.dstPort = u16(d, p + 2);
      out.hasPorts = true;
      const hlen = avail >= 13 ? Math.max((d[p + 12] >> 4) * 4, 20) : 20;
      if (avail >= 14) out.tcpFlags = d[p + 13] | ((d[p + 12] & 1) << 8);
      if (avail >= 16) out.tcpWindow = u16(d, p + 14);
      out.payloadLength = wire > hlen ? wire - hlen : 0;
      return DECODED;
    }
    case PROTO_UDP:
    case 136: // UDP-Lite
    case 132: // SCTP: 12-byte common header
    case 33: {
      // DCCP: data offset in 32-bit words at byte 4
      if (avail < 4) return truncatedTransport(out.protocol, out);
      out.srcPort = u16(d, p);
      out.dstPort = u16(d, p + 2);
      out.hasPorts = true;
      const hlen = out.protocol === 132 ? 12 : out.protocol === 33 ? 4 * (avail > 4 ? d[p + 4] : 3) : 8;
      out.payloadLength = wire > hlen ? wire - hlen : 0;
      return DECODED;
    }
    case PROTO_ICMP:
    case PROTO_ICMPV6:
      out.payloadLength = wire > 8 ? wire - 8 : 0;
      return DECODED;
    default:
      out.payloadLength = wire;
      return DECODED;
  }
}
