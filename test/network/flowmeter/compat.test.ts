import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { flowMeterRowToLine } from "../../../src/network/csv/write.ts";
import {
  extractFlowMeterRows,
  FLOWMETER_CSV_COLUMNS,
  type FlowMeterOptions,
  flowMeterFeatures,
} from "../../../src/network/flowmeter/compat.ts";
import { goCsvField, goFormatFloat } from "../../../src/network/flowmeter/format.ts";
import { loadPortNames, PortNames } from "../../../src/network/flowmeter/ports.ts";
import { pcapFile, type TestPacket, tempDir } from "../helpers/captures.ts";
import { ethernet, ipv4, ipv6, ipv6Extension, linuxSll, TCP_FLAGS, tcp, udp } from "../helpers/packets.ts";

const tmp = tempDir();
after(tmp.cleanup);

const portNames = new PortNames(
  new Map([
    [80, "http"],
    [3283, "Apple Remote Desktop (Net Assistant)"],
  ]),
  new Map([[53, "domain"]]),
);

const BASE = 1_700_000_000;

function tcpFrame(src: string, dst: string, sport: number, dport: number, payload = 0): number[] {
  return ethernet(
    0x0800,
    ipv4({
      src,
      dst,
      protocol: 6,
      payload: tcp({ sport, dport, flags: TCP_FLAGS.ACK, payload: new Array(payload).fill(0) }),
    }),
  );
}

function at(ns: number, data: number[]): TestPacket {
  return { sec: BASE + Math.floor(ns / 1e9), nsec: ns % 1e9, data };
}

async function rows(
  packets: TestPacket[],
  options: Partial<FlowMeterOptions> = {},
  pcap: { linkType?: number; snapLen?: number } = {},
) {
  const path = tmp.write(
    `c${Math.random().toString(36).slice(2)}.pcap`,
    pcapFile(packets, { nanos: true, ...pcap }),
  );
  const out = [];
  const stream = extractFlowMeterRows(path, { portNames, ...options });
  for await (const r of stream) out.push(r);
  return { rows: out, lines: out.map(flowMeterRowToLine), stats: stream.stats };
}

/** `n` packets alternating between two endpoints, 1 ms apart. */
function conversation(
  n: number,
  a: string,
  b: string,
  sport = 40000,
  dport = 80,
  frame = tcpFrame,
): TestPacket[] {
  return Array.from({ length: n }, (_, i) =>
    at(i * 1e6, i % 2 === 0 ? frame(a, b, sport, dport) : frame(b, a, dport, sport)),
  );
}

describe("Go number and CSV formatting", () => {
  it("formats like %f, ties to even", () => {
    assert.equal(goFormatFloat(0), "0.000000");
    assert.equal(goFormatFloat(194.5625), "194.562500");
    assert.equal(goFormatFloat(1 / 128), "0.007812"); // exact tie: 0.0078125, 6th digit 2 is even
    assert.equal(goFormatFloat(3 / 128), "0.023438"); // 0.0234375: 7 is odd, rounds up
    assert.equal(goFormatFloat(-1 / 128), "-0.007812");
    assert.equal(goFormatFloat(2 / 3), "0.666667");
    assert.equal(goFormatFloat(2.5e-7), "0.000000");
    assert.equal(goFormatFloat(-0), "-0.000000");
    assert.equal(goFormatFloat(1e21), "1000000000000000000000.000000");
    assert.equal(goFormatFloat(Number.POSITIVE_INFINITY), "+Inf");
    assert.equal(goFormatFloat(Number.NaN), "NaN");
  });
  it("quotes CSV fields by Go's rule", () => {
    assert.equal(goCsvField("80(http)"), "80(http)");
    assert.equal(goCsvField("a,b"), '"a,b"');
    assert.equal(goCsvField('a"b'), '"a""b"');
    assert.equal(goCsvField(" x"), '" x"');
    assert.equal(goCsvField(""), "");
    assert.equal(goCsvField("\\."), '"\\."');
  });
});

describe("FlowMeter compatibility", () => {
  it("computes every column as FlowMeter does (µs truncation, first-element std quirk, swapped columns)", async () => {
    // Expected cells come from a separate transcription of FLOWMETER_SPEC.md's formulas.
    const fwdTimes = [
      0, 10_000_400, 30_001_300, 60_002_300, 70_002_300, 120_002_400, 140_002_400, 150_002_400,
    ];
    const bwdTimes = [
      1_234_567, 12_000_401, 30_002_299, 65_002_300, 70_003_300, 123_335_733, 144_446_844, 150_002_410,
    ];
    const fwdPayload = [0, 10, 100, 0, 5, 0, 0, 1];
    const bwdPayload = [0, 1400, 0, 700, 0, 0, 33, 0];
    const packets: TestPacket[] = [];
    for (let k = 0; k < 8; k++) {
      packets.push(at(fwdTimes[k], tcpFrame("192.168.0.1", "93.184.216.34", 40000, 80, fwdPayload[k])));
      packets.push(at(bwdTimes[k], tcpFrame("93.184.216.34", "192.168.0.1", 80, 40000, bwdPayload[k])));
    }
    const { lines } = await rows(packets);
    assert.deepEqual(lines, [
      "192.168.0.1--93.184.216.34--TCP--40000--80(http),93.184.216.34,192.168.0.1,TCP,80(http),40000," +
        "150002410.000000,16.000000,8.000000,8.000000,3113.000000,194.562500,366.153139,54.000000,1454.000000," +
        "548.000000,2565.000000,68.500000,320.625000,32.488459,485.074463,54.000000,54.000000,154.000000,1454.000000," +
        "21340000.000000,14654000.000000,5001000.000000,53332433.000000,150002400.000000,148767843.000000," +
        "21428000.000000,21252000.000000,12845000.000000,15762000.000000,10000000.000000,5001000.000000," +
        "50000100.000000,53332433.000000",
    ]);
  });

  it("writes only flows of 15+ packets and stops counting at 83", async () => {
    const short = await rows(conversation(14, "1.1.1.1", "2.2.2.2"));
    assert.equal(short.rows.length, 0);
    const long = await rows(conversation(100, "1.1.1.1", "2.2.2.2"));
    assert.equal(long.rows.length, 1);
    const v = long.rows[0].values;
    assert.deepEqual([v[0], v[1], v[2], v[3]], [82e6, 83, 42, 41]);
  });

  it("ignores what gopacket's parser cannot take: VLAN tags, cooked/raw link types, fragments, ICMP, IPv6 extensions", async () => {
    const vlan = (a: string, b: string, s: number, d: number) =>
      ethernet(0x0800, ipv4({ src: a, dst: b, protocol: 6, payload: tcp({ sport: s, dport: d }) }), [
        [0x8100, 7],
      ]);
    assert.equal((await rows(conversation(20, "1.1.1.1", "2.2.2.2", 1, 2, vlan))).rows.length, 0);
    const sll = (a: string, b: string, s: number, d: number) =>
      linuxSll(0x0800, ipv4({ src: a, dst: b, protocol: 6, payload: tcp({ sport: s, dport: d }) }));
    assert.equal(
      (await rows(conversation(20, "1.1.1.1", "2.2.2.2", 1, 2, sll), {}, { linkType: 113 })).rows.length,
      0,
    );
    const frag = (a: string, b: string, s: number, d: number) =>
      ethernet(0x0800, ipv4({ src: a, dst: b, protocol: 17, payload: udp(s, d, [1]), mf: true }));
    assert.equal((await rows(conversation(20, "1.1.1.1", "2.2.2.2", 1, 2, frag))).rows.length, 0);
    const routing = (_a: string, _b: string, s: number, d: number) =>
      ethernet(
        0x86dd,
        ipv6({
          src: "2001:db8::1",
          dst: "2001:db8::2",
          nextHeader: 43,
          payload: [...ipv6Extension(6), ...tcp({ sport: s, dport: d })],
        }),
      );
    const r = await rows(conversation(20, "x", "y", 1, 2, routing));
    assert.deepEqual([r.rows.length, r.stats.packets, r.stats.tupled], [0, 20, 0]);
  });

  it("names IPv6 hop-by-hop flows IPv6HopByHop and prints addresses as Go does", async () => {
    const hbh = (_a: string, _b: string, s: number, d: number) =>
      ethernet(
        0x86dd,
        ipv6({
          src: s === 53 ? "::ffff:a00:9" : "2001:db8:0:0:1::1",
          dst: s === 53 ? "2001:db8:0:0:1::1" : "::ffff:a00:9",
          nextHeader: 0,
          payload: [...ipv6Extension(17), ...udp(s, d, [1, 2])],
        }),
      );
    const { rows: out } = await rows(conversation(16, "", "", 5353, 53, hbh));
    assert.equal(out.length, 1);
    assert.equal(out[0].fiveTuple, "2001:db8::1:0:0:1--10.0.0.9--IPv6HopByHop--5353--53(domain)");
    assert.deepEqual(
      [out[0].srcIP, out[0].dstIP, out[0].srcPort, out[0].dstPort],
      ["10.0.0.9", "2001:db8::1:0:0:1", "53(domain)", "5353"],
    );
  });

  it("counts same-address-same-port packets in neither direction", async () => {
    const packets = Array.from({ length: 16 }, (_, i) =>
      at(i * 1000, tcpFrame("3.3.3.3", "3.3.3.3", 3283, 3283, i)),
    );
    const { rows: out, lines } = await rows(packets);
    const v = out[0].values;
    assert.deepEqual([v[1], v[2], v[3], v[4], v[0]], [16, 1, 0, 54, 15000]);
    assert.ok(
      lines[0].startsWith("3.3.3.3--3.3.3.3--TCP--3283(Apple Remote Desktop (Net Assistant))--3283(Apple"),
    );
  });

  it("reproduces the local-IP mode: the local side forward, everything else backward", async () => {
    const packets = conversation(30, "5.5.5.5", "6.6.6.6");
    const local = await rows(packets, { localIp: "5.5.5.5" });
    assert.deepEqual(
      local.rows.map((r) => [r.fiveTuple, r.values[2], r.values[3]]),
      [["5.5.5.5--6.6.6.6--TCP--40000--80(http)", 15, 15]],
    );
    const absent = await rows(packets, { localIp: "143.198.72.237" });
    assert.deepEqual(
      absent.rows.map((r) => [r.fiveTuple, r.values[2], r.values[3]]),
      [
        ["6.6.6.6--5.5.5.5--TCP--80(http)--40000", 0, 15],
        ["5.5.5.5--6.6.6.6--TCP--40000--80(http)", 0, 15],
      ],
    );
  });

  it("takes at most snaplen bytes per packet (libpcap) and stops at maxPackets", async () => {
    const big = (a: string, b: string, s: number, d: number) => tcpFrame(a, b, s, d, 46);
    const cut = await rows(conversation(15, "1.1.1.1", "2.2.2.2", 1, 2, big), {}, { snapLen: 60 });
    assert.equal(cut.rows[0].values[5], 60);
    const limited = await rows(conversation(40, "1.1.1.1", "2.2.2.2"), { maxPackets: 20 });
    assert.deepEqual([limited.stats.packets, limited.rows[0].values[1]], [20, 20]);
  });

  it("keeps a row saved at packet 100,000 when a later packet makes the flow's duration negative", {
    timeout: 60_000,
  }, async () => {
    const packets: TestPacket[] = conversation(20, "7.7.7.7", "8.8.8.8").map((p) => ({
      ...p,
      sec: p.sec + 1000,
    }));
    const arp = ethernet(0x0806, new Array(28).fill(0));
    while (packets.length < 99_999) packets.push(at(2000e9, arp));
    packets.push(at(2000e9, tcpFrame("9.9.9.9", "7.7.7.7", 1, 2))); // the 100,000th packet is a tuple: FlowMeter saves
    packets.push(at(0, tcpFrame("7.7.7.7", "8.8.8.8", 40000, 80))); // earlier than the flow's start
    const { rows: out } = await rows(packets);
    assert.deepEqual(
      out.map((r) => [r.fiveTuple, r.values[0], r.values[1]]),
      [["7.7.7.7--8.8.8.8--TCP--40000--80(http)", 19e6, 20]],
    );
  });

  it("derives FlowMeter's 39 model features, *PerTime per nanosecond", () => {
    const values = new Float64Array(33).map((_, i) => i + 1);
    values[0] = 2e9;
    const f = flowMeterFeatures(values);
    assert.equal(f.length, 39);
    assert.deepEqual(
      Array.from(f.slice(33)),
      [2, 3, 4, 5, 10, 11].map((v) => v / 2e9),
    );
    values[0] = 0;
    assert.equal(flowMeterFeatures(values)[33], Number.POSITIVE_INFINITY);
    assert.equal(FLOWMETER_CSV_COLUMNS.length, 39);
  });
});

describe("port-name tables", () => {
  it("loads gopacket's iana_ports.go or a JSON export", async () => {
    const go = tmp.write(
      "iana_ports.go",
      Buffer.from(
        'package layers\n\nvar tcpPortNames = map[TCPPort]string{\n\t1:     "tcpmux",\n\t80:    "http",\n}\nvar udpPortNames = map[UDPPort]string{\n\t53: "domain",\n}\n',
      ),
    );
    const fromGo = await loadPortNames(go);
    assert.deepEqual(
      [fromGo.tcpPort(80), fromGo.tcpPort(81), fromGo.udpPort(53), fromGo.tcpPort(53)],
      ["80(http)", "81", "53(domain)", "53"],
    );
    const json = tmp.write(
      "ports.json",
      Buffer.from('{"source": "x", "tcp": {"80": "http"}, "udp": {"53": "domain"}}'),
    );
    const fromJson = await loadPortNames(json);
    assert.deepEqual([fromJson.tcpPort(80), fromJson.udpPort(53)], ["80(http)", "53(domain)"]);
    await assert.rejects(
      loadPortNames(tmp.write("bad.json", Buffer.from('{"tcp": {"x": 1}}'))),
      /bad tcp port-name entry/,
    );
    await assert.rejects(
      loadPortNames(tmp.write("bad.go", Buffer.from("package x"))),
      /no "tcpPortNames" map/,
    );
  });
});
