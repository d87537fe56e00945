import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  DECODED,
  DecodedPacket,
  decodePacket,
  FIRST_FRAGMENT,
  LATER_FRAGMENT,
  MALFORMED,
  NOT_FRAGMENT,
  NOT_IP,
  TRUNCATED,
  UNSUPPORTED_LINK,
} from "../../../src/network/capture/decode.ts";
import { formatIp, formatIpv6 } from "../../../src/network/capture/ip.ts";
import type { PacketRecord } from "../../../src/network/capture/types.ts";
import {
  ethernet,
  icmpEcho,
  ipv4,
  ipv6,
  ipv6Auth,
  ipv6Bytes,
  ipv6Extension,
  ipv6Fragment,
  linuxSll,
  linuxSll2,
  loopback,
  TCP_FLAGS,
  tcp,
  udp,
} from "../helpers/packets.ts";

function decode(bytes: number[], linkType = 1, capturedLength = bytes.length): DecodedPacket {
  const pad = [9, 9, 9]; // the packet does not start at offset 0 of its buffer
  const data = Uint8Array.from([...pad, ...bytes, 7, 7]);
  const rec: PacketRecord = {
    data,
    offset: pad.length,
    capturedLength,
    originalLength: bytes.length,
    tsSec: 0,
    tsNsec: 0,
    linkType,
    snapLen: 0,
    interfaceId: 0,
    fileOffset: 0,
    index: 0,
  };
  const out = new DecodedPacket();
  decodePacket(rec, out);
  return out;
}

const tcpSegment = tcp({
  sport: 40000,
  dport: 443,
  flags: TCP_FLAGS.SYN | TCP_FLAGS.ECE | TCP_FLAGS.NS,
  window: 29200,
  options: [2, 4, 5, 180],
  payload: [1, 2, 3, 4, 5],
});
const v4tcp = ipv4({ src: "10.0.0.1", dst: "192.168.1.20", protocol: 6, payload: tcpSegment, ttl: 33 });

function expectV4Tcp(d: DecodedPacket): void {
  assert.equal(d.status, DECODED);
  assert.equal(d.ipVersion, 4);
  assert.equal(formatIp(4, d.src), "10.0.0.1");
  assert.equal(formatIp(4, d.dst), "192.168.1.20");
  assert.equal(d.protocol, 6);
  assert.equal(d.srcPort, 40000);
  assert.equal(d.dstPort, 443);
  assert.equal(d.tcpFlags, TCP_FLAGS.SYN | TCP_FLAGS.ECE | TCP_FLAGS.NS);
  assert.equal(d.tcpWindow, 29200);
  assert.equal(d.ipLength, 20 + 24 + 5);
  assert.equal(d.payloadLength, 5);
  assert.equal(d.ttl, 33);
  assert.equal(d.fragment, NOT_FRAGMENT);
}

describe("decodePacket link layers", () => {
  it("Ethernet, with Ethernet padding after the IP packet ignored", () => {
    expectV4Tcp(decode([...ethernet(0x0800, v4tcp), 0, 0, 0, 0]));
  });
  it("802.1Q, 802.1ad and QinQ tags", () => {
    expectV4Tcp(decode(ethernet(0x0800, v4tcp, [[0x8100, 10]])));
    expectV4Tcp(
      decode(
        ethernet(0x0800, v4tcp, [
          [0x88a8, 10],
          [0x8100, 20],
        ]),
      ),
    );
    expectV4Tcp(
      decode(
        ethernet(0x0800, v4tcp, [
          [0x9100, 10],
          [0x8100, 20],
        ]),
      ),
    );
  });
  it("802.3 LLC/SNAP and PPPoE session frames", () => {
    const snap = [0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00, ...v4tcp];
    expectV4Tcp(decode(ethernet(snap.length, snap)));
    const pppoe = [0x11, 0, 0, 1, 0, v4tcp.length + 2, 0x00, 0x21, ...v4tcp];
    expectV4Tcp(decode(ethernet(0x8864, pppoe)));
    assert.equal(decode(ethernet(20, [0x42, 0x42, 0x03, ...new Array(17).fill(0)])).status, NOT_IP); // STP
  });
  it("Linux cooked v1 and v2", () => {
    expectV4Tcp(decode(linuxSll(0x0800, v4tcp), 113));
    expectV4Tcp(decode(linuxSll2(0x0800, v4tcp), 276));
  });
  it("raw IP link types, by version nibble or fixed", () => {
    for (const lt of [101, 12, 14, 228]) expectV4Tcp(decode(v4tcp, lt));
    const v6 = ipv6({ src: "2001:db8::1", dst: "2001:db8::2", nextHeader: 17, payload: udp(5353, 53, [1]) });
    for (const lt of [101, 229]) assert.equal(decode(v6, lt).ipVersion, 6);
  });
  it("BSD loopback NULL (either host byte order) and LOOP (network order)", () => {
    expectV4Tcp(decode(loopback(2, v4tcp, true), 0));
    expectV4Tcp(decode(loopback(2, v4tcp, false), 0));
    expectV4Tcp(decode(loopback(2, v4tcp, false), 108));
    const v6 = ipv6({ src: "::1", dst: "::1", nextHeader: 6, payload: tcp({ sport: 1, dport: 2 }) });
    for (const family of [10, 24, 28, 30]) assert.equal(decode(loopback(family, v6, true), 0).ipVersion, 6);
    assert.equal(decode(loopback(7, v4tcp, true), 0).status, NOT_IP);
  });
  it("reports unsupported link types, non-IP frames and short frames", () => {
    assert.equal(decode(v4tcp, 105).status, UNSUPPORTED_LINK);
    assert.equal(decode(ethernet(0x0806, new Array(28).fill(0))).status, NOT_IP);
    assert.equal(decode(ethernet(0x0800, v4tcp).slice(0, 12)).status, TRUNCATED);
    assert.equal(decode(ethernet(0x0800, v4tcp), 1, 30).status, TRUNCATED);
  });
});

describe("decodePacket IPv4", () => {
  it("skips IP options", () => {
    const withOptions = ipv4({
      src: "10.0.0.1",
      dst: "192.168.1.20",
      protocol: 6,
      payload: tcpSegment,
      ttl: 33,
      options: [0x94, 4, 0, 0, 1, 0, 0, 0],
    });
    const d = decode(ethernet(0x0800, withOptions));
    assert.equal(d.srcPort, 40000);
    assert.equal(d.ipLength, 28 + 24 + 5);
  });
  it("marks first fragments (ports known) and later fragments (no transport header)", () => {
    const first = decode(
      ethernet(
        0x0800,
        ipv4({
          src: "1.1.1.1",
          dst: "2.2.2.2",
          protocol: 17,
          payload: udp(53, 3333, new Array(40).fill(1), 1200),
          mf: true,
          id: 77,
        }),
      ),
    );
    assert.equal(first.fragment, FIRST_FRAGMENT);
    assert.equal(first.fragmentId, 77);
    assert.deepEqual([first.srcPort, first.dstPort, first.hasPorts], [53, 3333, true]);
    const later = decode(
      ethernet(
        0x0800,
        ipv4({
          src: "1.1.1.1",
          dst: "2.2.2.2",
          protocol: 17,
          payload: new Array(100).fill(2),
          fragmentOffset: 6,
          id: 77,
        }),
      ),
    );
    assert.equal(later.status, DECODED);
    assert.equal(later.fragment, LATER_FRAGMENT);
    assert.deepEqual([later.srcPort, later.dstPort, later.hasPorts, later.payloadLength], [0, 0, false, 100]);
  });
  it("uses the captured length when total length is 0 (segmentation offload)", () => {
    const d = decode(
      ethernet(
        0x0800,
        ipv4({
          src: "10.0.0.1",
          dst: "10.0.0.2",
          protocol: 6,
          payload: tcp({ sport: 1, dport: 2, payload: new Array(100).fill(0) }),
          totalLength: 0,
        }),
      ),
    );
    assert.equal(d.ipLength, 140);
    assert.equal(d.payloadLength, 100);
  });
  it("still takes ports from a snaplen-cut TCP header", () => {
    const frame = ethernet(0x0800, v4tcp);
    const d = decode(frame, 1, 14 + 20 + 8);
    assert.deepEqual([d.status, d.srcPort, d.dstPort, d.tcpFlags, d.ipLength], [DECODED, 40000, 443, 0, 49]);
    assert.equal(decode(frame, 1, 14 + 20 + 2).status, TRUNCATED);
  });
  it("rejects wrong versions and header lengths", () => {
    assert.equal(
      decode(
        ethernet(
          0x0800,
          ipv4({ src: "1.1.1.1", dst: "2.2.2.2", protocol: 6, payload: tcpSegment, version: 5 }),
        ),
      ).status,
      MALFORMED,
    );
    assert.equal(
      decode(
        ethernet(0x0800, ipv4({ src: "1.1.1.1", dst: "2.2.2.2", protocol: 6, payload: tcpSegment, ihl: 4 })),
      ).status,
      MALFORMED,
    );
    assert.equal(
      decode(
        ethernet(
          0x0800,
          ipv4({ src: "1.1.1.1", dst: "2.2.2.2", protocol: 6, payload: tcpSegment, totalLength: 12 }),
        ),
      ).status,
      MALFORMED,
    );
  });
  it("decodes UDP, ICMP and other protocols", () => {
    const u = decode(
      ethernet(
        0x0800,
        ipv4({ src: "1.1.1.1", dst: "2.2.2.2", protocol: 17, payload: udp(1000, 53, [1, 2, 3]) }),
      ),
    );
    assert.deepEqual([u.protocol, u.srcPort, u.dstPort, u.payloadLength], [17, 1000, 53, 3]);
    const i = decode(
      ethernet(
        0x0800,
        ipv4({ src: "1.1.1.1", dst: "2.2.2.2", protocol: 1, payload: icmpEcho([1, 2, 3, 4]) }),
      ),
    );
    assert.deepEqual([i.protocol, i.hasPorts, i.payloadLength], [1, false, 4]);
    const gre = decode(
      ethernet(
        0x0800,
        ipv4({ src: "1.1.1.1", dst: "2.2.2.2", protocol: 47, payload: new Array(30).fill(0) }),
      ),
    );
    assert.deepEqual([gre.status, gre.protocol, gre.payloadLength], [DECODED, 47, 30]);
  });
});

describe("decodePacket IPv6", () => {
  const seg = tcp({ sport: 5555, dport: 80, flags: TCP_FLAGS.ACK | TCP_FLAGS.PSH, payload: [1, 2, 3] });
  it("walks hop-by-hop, routing, destination options and AH headers", () => {
    const payload = [
      ...ipv6Extension(43),
      ...ipv6Extension(60),
      ...ipv6Extension(51),
      ...ipv6Auth(6),
      ...seg,
    ];
    const d = decode(
      ethernet(0x86dd, ipv6({ src: "2001:db8::1", dst: "fe80::1:2", nextHeader: 0, payload })),
    );
    assert.equal(d.status, DECODED);
    assert.equal(d.protocol, 6);
    assert.deepEqual(
      [d.srcPort, d.dstPort, d.payloadLength, d.tcpFlags],
      [5555, 80, 3, TCP_FLAGS.ACK | TCP_FLAGS.PSH],
    );
    assert.equal(d.ipLength, 40 + payload.length);
    assert.equal(formatIp(6, d.src), "2001:db8::1");
    assert.equal(formatIp(6, d.dst), "fe80::1:2");
  });
  it("reads the fragment header: first fragments have ports, later ones do not", () => {
    const first = decode(
      ethernet(
        0x86dd,
        ipv6({
          src: "::1",
          dst: "::2",
          nextHeader: 44,
          payload: [...ipv6Fragment(17, 0, true, 0xdeadbeef), ...udp(9, 10, [1, 2])],
        }),
      ),
    );
    assert.deepEqual(
      [first.fragment, first.fragmentId, first.srcPort, first.protocol],
      [FIRST_FRAGMENT, 0xdeadbeef, 9, 17],
    );
    const later = decode(
      ethernet(
        0x86dd,
        ipv6({
          src: "::1",
          dst: "::2",
          nextHeader: 44,
          payload: [...ipv6Fragment(17, 100, false, 0xdeadbeef), 1, 2, 3, 4],
        }),
      ),
    );
    assert.deepEqual([later.fragment, later.hasPorts, later.payloadLength], [LATER_FRAGMENT, false, 4]);
  });
  it("decodes ICMPv6 and reports cut extension headers", () => {
    const icmp = decode(
      ethernet(
        0x86dd,
        ipv6({ src: "::1", dst: "::2", nextHeader: 58, payload: [128, 0, 0, 0, 0, 1, 0, 1, 9, 9] }),
      ),
    );
    assert.deepEqual([icmp.protocol, icmp.payloadLength], [58, 2]);
    const cut = ethernet(
      0x86dd,
      ipv6({ src: "::1", dst: "::2", nextHeader: 0, payload: [...ipv6Extension(6), ...seg] }),
    );
    assert.equal(decode(cut, 1, 14 + 40 + 1).status, TRUNCATED);
  });
});

describe("IP text forms", () => {
  it("formats IPv6 per RFC 5952, and IPv4-mapped addresses either way", () => {
    const words = (text: string) => {
      const b = ipv6Bytes(text);
      return [0, 1, 2, 3].map(
        (i) => ((b[4 * i] << 24) | (b[4 * i + 1] << 16) | (b[4 * i + 2] << 8) | b[4 * i + 3]) >>> 0,
      );
    };
    assert.equal(formatIpv6(words("2001:db8:0:0:1:0:0:1")), "2001:db8::1:0:0:1");
    assert.equal(formatIpv6(words("2001:0:0:1:0:0:0:1")), "2001:0:0:1::1");
    assert.equal(formatIpv6(words("2001:db8:0:1:1:1:1:1")), "2001:db8:0:1:1:1:1:1");
    assert.equal(formatIpv6(words("::")), "::");
    assert.equal(formatIpv6(words("::1")), "::1");
    assert.equal(formatIpv6(words("fe80::")), "fe80::");
    assert.equal(formatIpv6(words("::ffff:c000:201")), "::ffff:192.0.2.1");
    assert.equal(formatIpv6(words("::ffff:c000:201"), true), "192.0.2.1");
  });
});
