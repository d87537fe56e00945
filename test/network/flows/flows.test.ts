import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { randomInt, seededRandom } from "../../../src/core/random.ts";
import { DECODED, DecodedPacket } from "../../../src/network/capture/decode.ts";
import { readCapture } from "../../../src/network/capture/reader.ts";
import { extractFlows } from "../../../src/network/flows/extract.ts";
import {
  FLOWMETER_FEATURES,
  flowFeatureNames,
  PER_FLOW_FEATURES,
} from "../../../src/network/flows/features.ts";
import { type Flow, FlowTable } from "../../../src/network/flows/table.ts";
import { pcapFile, type TestPacket, tempDir } from "../helpers/captures.ts";
import { ethernet, ipv4, TCP_FLAGS, tcp, udp } from "../helpers/packets.ts";

const tmp = tempDir();
after(tmp.cleanup);

const F = Object.fromEntries(flowFeatureNames.map((n, i) => [n, i]));
const feature = (flow: Flow, name: string) => flow.features[F[name]];
const MS = 1_000_000;

function tcpPacket(ms: number, fromClient: boolean, flags: number, payload = 0, window = 1000): TestPacket {
  const [src, dst, sport, dport] = fromClient
    ? ["10.0.0.1", "10.0.0.2", 40000, 80]
    : ["10.0.0.2", "10.0.0.1", 80, 40000];
  const segment = tcp({ sport, dport, flags, window, payload: new Array(payload).fill(0x61) });
  return {
    sec: 1000 + Math.floor(ms / 1000),
    nsec: (ms % 1000) * MS,
    data: ethernet(0x0800, ipv4({ src, dst, protocol: 6, payload: segment })),
  };
}

function udpPacket(
  sec: number,
  nsec: number,
  src: string,
  dst: string,
  sport: number,
  dport: number,
  bytes = 10,
): TestPacket {
  return {
    sec,
    nsec,
    data: ethernet(
      0x0800,
      ipv4({ src, dst, protocol: 17, payload: udp(sport, dport, new Array(bytes).fill(1)) }),
    ),
  };
}

async function flowsOf(packets: TestPacket[], options = {}, name = "f.pcap"): Promise<Flow[]> {
  const out: Flow[] = [];
  for await (const f of extractFlows(tmp.write(name, pcapFile(packets, { nanos: true })), options))
    out.push(f);
  return out;
}

function populationStd(values: number[]): number {
  const m = values.reduce((a, b) => a + b, 0) / values.length;
  return Math.sqrt(values.reduce((a, v) => a + (v - m) ** 2, 0) / values.length);
}

const close = (actual: number, expected: number, what: string) =>
  assert.ok(
    Math.abs(actual - expected) <= 1e-9 * Math.max(1, Math.abs(expected)),
    `${what}: ${actual} vs ${expected}`,
  );

describe("flow schema", () => {
  it("puts FlowMeter's 39 model features first, in its order, then unique extra names", () => {
    assert.equal(FLOWMETER_FEATURES.length, 39);
    assert.deepEqual(flowFeatureNames.slice(0, 39), FLOWMETER_FEATURES);
    assert.equal(FLOWMETER_FEATURES[33], "flowLengthPerTime");
    assert.equal(new Set(flowFeatureNames).size, flowFeatureNames.length);
  });
});

describe("bidirectional flows", () => {
  const { SYN, ACK, FIN, PSH, RST } = TCP_FLAGS;
  const handshake = [
    tcpPacket(0, true, SYN, 0, 64240),
    tcpPacket(10, false, SYN | ACK, 0, 65160),
    tcpPacket(30, true, ACK | PSH, 100),
    tcpPacket(60, false, ACK | PSH, 200),
    tcpPacket(100, true, FIN | ACK),
    tcpPacket(110, false, FIN | ACK),
    tcpPacket(120, true, ACK), // the last ACK lands within the close linger
  ];

  it("computes exact per-direction and packet-to-packet statistics", async () => {
    const [flow, ...rest] = await flowsOf(handshake);
    assert.equal(rest.length, 0);
    assert.deepEqual(
      [flow.srcIp, flow.srcPort, flow.dstIp, flow.dstPort, flow.protocol, flow.ipVersion],
      ["10.0.0.1", 40000, "10.0.0.2", 80, 6, 4],
    );
    assert.deepEqual(
      [flow.startSec, flow.startNsec, flow.endSec, flow.endNsec, flow.endReason],
      [1000, 0, 1000, 120 * MS, "fin"],
    );
    const fwd = [40, 140, 40, 40];
    const bwd = [40, 240, 40];
    const all = [40, 40, 140, 240, 40, 40, 40];
    const gaps = [10, 20, 30, 40, 10, 10].map((g) => g * MS);
    const fwdGaps = [30, 70, 20].map((g) => g * MS);
    const bwdGaps = [50, 50].map((g) => g * MS);
    const expected: Record<string, number> = {
      flowDuration: 120 * MS,
      flowLength: 7,
      fwdFlowLength: 4,
      bwdFlowLength: 3,
      packetSizeTotal: 580,
      packetSizeMean: 580 / 7,
      packetSizeStd: populationStd(all),
      packetSizeMin: 40,
      packetSizeMax: 240,
      fwdPacketSizeTotal: 260,
      bwdPacketSizeTotal: 320,
      fwdPacketSizeMean: 65,
      bwdPacketSizeMean: 320 / 3,
      fwdPacketSizeStd: populationStd(fwd),
      bwdPacketSizeStd: populationStd(bwd),
      fwdPacketSizeMin: 40,
      bwdPacketSizeMin: 40,
      fwdPacketSizeMax: 140,
      bwdPacketSizeMax: 240,
      IATMean: 20 * MS,
      IATStd: populationStd(gaps),
      IATMin: 10 * MS,
      IATMax: 40 * MS,
      fwdIATTotal: 120 * MS,
      bwdIATTotal: 100 * MS,
      fwdIATMean: 40 * MS,
      bwdIATMean: 50 * MS,
      fwdIATStd: populationStd(fwdGaps),
      bwdIATStd: populationStd(bwdGaps),
      fwdIATMin: 20 * MS,
      bwdIATMin: 50 * MS,
      fwdIATMax: 70 * MS,
      bwdIATMax: 50 * MS,
      flowLengthPerTime: 7 / (120 * MS),
      fwdFlowLengthPerTime: 4 / (120 * MS),
      bwdFlowLengthPerTime: 3 / (120 * MS),
      packetSizeTotalPerTime: 580 / (120 * MS),
      fwdPacketSizeTotalPerTime: 260 / (120 * MS),
      bwdPacketSizeTotalPerTime: 320 / (120 * MS),
      protocolTcp: 1,
      protocolUdp: 0,
      protocolIcmp: 0,
      fwdPayloadBytes: 100,
      bwdPayloadBytes: 200,
      fwdPayloadPackets: 1,
      bwdPayloadPackets: 1,
      finCount: 2,
      synCount: 2,
      rstCount: 0,
      pshCount: 2,
      ackCount: 6,
      urgCount: 0,
      eceCount: 0,
      cwrCount: 0,
      fwdInitWindow: 64240,
      bwdInitWindow: 65160,
    };
    assert.deepEqual(Object.keys(expected), [...PER_FLOW_FEATURES]);
    for (const [name, value] of Object.entries(expected)) close(feature(flow, name), value, name);
  });

  it("makes the first packet's sender the forward side, whoever it is", async () => {
    const [flow] = await flowsOf(handshake.slice(1));
    assert.deepEqual(
      [flow.srcIp, flow.srcPort, feature(flow, "fwdFlowLength"), feature(flow, "bwdFlowLength")],
      ["10.0.0.2", 80, 3, 3],
    );
  });

  it("ends a flow at RST, and starts a new one on a fresh SYN after a close", async () => {
    const flows = await flowsOf([
      ...handshake.slice(0, 4),
      tcpPacket(70, false, RST),
      tcpPacket(500, true, SYN), // same ports, after the linger: a new flow anyway
      tcpPacket(600, true, SYN | ACK), // SYN+ACK is not a new connection
      tcpPacket(700, false, FIN | ACK),
      tcpPacket(710, true, FIN | ACK),
      tcpPacket(720, true, SYN), // port reuse within the linger
    ]);
    assert.deepEqual(
      flows.map((f) => [f.endReason, feature(f, "flowLength"), feature(f, "rstCount")]),
      [
        ["rst", 5, 1],
        ["fin", 4, 0],
        ["cut", 1, 0], // an unanswered attempt the capture ended on: its answer may simply be missing
      ],
    );
  });

  it("splits at the idle timeout and at the active timeout, keeping the orientation", async () => {
    const idle = await flowsOf(
      [udpPacket(0, 0, "1.1.1.1", "2.2.2.2", 5, 6), udpPacket(61, 0, "2.2.2.2", "1.1.1.1", 6, 5)],
      { idleTimeout: 60 },
    );
    assert.deepEqual(
      idle.map((f) => [f.endReason, f.srcIp]),
      [
        ["idle", "1.1.1.1"],
        ["end", "2.2.2.2"],
      ],
    );
    const steady = Array.from({ length: 31 }, (_, i) =>
      i % 2 === 0
        ? udpPacket(10 * i, 0, "1.1.1.1", "2.2.2.2", 5, 6)
        : udpPacket(10 * i, 0, "2.2.2.2", "1.1.1.1", 6, 5),
    );
    const active = await flowsOf(steady, { activeTimeout: 120 });
    assert.deepEqual(
      active.map((f) => [f.endReason, f.srcIp, feature(f, "flowLength"), f.startSec]),
      [
        ["active", "1.1.1.1", 13, 0],
        ["active", "1.1.1.1", 13, 130],
        ["end", "1.1.1.1", 5, 260],
      ],
    );
  });

  it("clamps negative gaps of out-of-order timestamps and spans min to max", async () => {
    const [flow] = await flowsOf([
      udpPacket(10, 0, "1.1.1.1", "2.2.2.2", 5, 6),
      udpPacket(12, 0, "1.1.1.1", "2.2.2.2", 5, 6),
      udpPacket(9, 0, "2.2.2.2", "1.1.1.1", 6, 5),
    ]);
    assert.equal(feature(flow, "flowDuration"), 3e9);
    assert.equal(feature(flow, "IATMin"), 0);
    assert.equal(feature(flow, "IATMax"), 2e9);
    assert.deepEqual([flow.startSec, flow.endSec], [9, 12]);
  });

  it("counts later IP fragments in their datagram's flow", async () => {
    const frag = (offset: number, mf: boolean, payload: number[], id = 9): TestPacket => ({
      sec: 1,
      nsec: offset,
      data: ethernet(
        0x0800,
        ipv4({ src: "1.1.1.1", dst: "2.2.2.2", protocol: 17, payload, id, mf, fragmentOffset: offset }),
      ),
    });
    const flows = await flowsOf([
      frag(0, true, udp(53, 4444, new Array(72).fill(0), 1480)),
      frag(10, true, new Array(80).fill(0)),
      frag(20, false, new Array(40).fill(0)),
      frag(30, false, new Array(16).fill(0), 10), // its first fragment was never seen
    ]);
    assert.deepEqual(
      flows.map((f) => [f.srcPort, f.dstPort, feature(f, "flowLength"), feature(f, "fwdPayloadBytes")]),
      [
        [53, 4444, 3, 72 + 80 + 40],
        [0, 0, 1, 16],
      ],
    );
  });
});

describe("extractFlows inputs and reporting", () => {
  it("keeps captures apart unless continuous, and names each flow's capture", async () => {
    const a = tmp.write("a.pcap", pcapFile([udpPacket(100, 0, "1.1.1.1", "2.2.2.2", 5, 6)], { nanos: true }));
    const b = tmp.write("b.pcap", pcapFile([udpPacket(50, 0, "2.2.2.2", "1.1.1.1", 6, 5)], { nanos: true }));
    const separate: Flow[] = [];
    for await (const f of extractFlows([a, b])) separate.push(f);
    assert.deepEqual(
      separate.map((f) => [f.capture, feature(f, "flowLength")]),
      [
        [a, 1],
        [b, 1],
      ],
    );
    const joined: Flow[] = [];
    for await (const f of extractFlows([a, b], { continuous: true })) joined.push(f);
    assert.deepEqual(
      joined.map((f) => [f.capture, feature(f, "flowLength"), feature(f, "flowDuration")]),
      [[a, 2, 50e9]],
    );
  });

  it("counts what it skips and warns once per kind and capture", async () => {
    const packets = [
      udpPacket(1, 0, "1.1.1.1", "2.2.2.2", 5, 6),
      { sec: 1, nsec: 1, data: ethernet(0x0806, new Array(28).fill(0)) },
      { sec: 1, nsec: 2, data: ethernet(0x0800, [0x45, 0, 0]) },
      { sec: 1, nsec: 3, data: ethernet(0x0800, [0x45, 0, 0]) },
    ];
    const stream = extractFlows(tmp.write("skips.pcap", pcapFile(packets, { nanos: true })));
    let n = 0;
    for await (const _ of stream) n++;
    assert.equal(n, 1);
    assert.deepEqual(
      [
        stream.stats.packets,
        stream.stats.decoded,
        stream.stats.notIp,
        stream.stats.truncated,
        stream.stats.flows,
      ],
      [4, 1, 1, 2, 1],
    );
    assert.equal(stream.stats.warnings.length, 1);
    assert.match(stream.stats.warnings[0].message, /^2 packet\(s\) skipped: too few captured bytes/);
    assert.equal(stream.stats.warnings[0].offset, 24 + 16 + 52 + 16 + 42);
  });

  it("accepts a stream of packet records", async () => {
    const packets = Array.from({ length: 50 }, (_, i) => udpPacket(i, 0, "1.1.1.1", `2.2.2.${i % 5}`, 5, 6));
    const path = tmp.write("iter.pcap", pcapFile(packets, { nanos: true }));
    const fromFile: string[] = [];
    for await (const f of extractFlows(path)) fromFile.push(`${f.dstIp} ${f.features.join(",")}`);
    const fromRecords: string[] = [];
    for await (const f of extractFlows(readCapture(path)))
      fromRecords.push(`${f.dstIp} ${f.features.join(",")}`);
    assert.equal(fromFile.length, 5);
    assert.deepEqual(fromRecords, fromFile);
  });
});

describe("FlowTable", () => {
  function packet(d: DecodedPacket, a: number, b: number, sport: number, dport: number): DecodedPacket {
    d.status = DECODED;
    d.ipVersion = 4;
    d.protocol = 17;
    d.src[0] = a;
    d.dst[0] = b;
    d.srcPort = sport;
    d.dstPort = dport;
    d.hasPorts = true;
    d.ipLength = 100;
    d.payloadLength = 72;
    return d;
  }

  it("holds only the flows active within the idle timeout", () => {
    const table = new FlowTable({ idleTimeout: 1 });
    const d = new DecodedPacket();
    let peak = 0;
    let finished = 0;
    for (let i = 0; i < 200_000; i++) {
      table.add(
        packet(d, 0x0a000000 + i, 0x0a000001, 1000, 53),
        Math.floor(i / 1000),
        (i % 1000) * 1_000_000,
      );
      finished += table.take().length;
      peak = Math.max(peak, table.size);
    }
    table.flush();
    finished += table.take().length;
    assert.equal(finished, 200_000);
    assert.ok(peak <= 2100, `peak ${peak} flows in memory`);
  });

  it("matches a naive model under random churn (hashing, deletion, growth)", () => {
    const random = seededRandom(20240611);
    const d = new DecodedPacket();
    for (let round = 0; round < 5; round++) {
      const table = new FlowTable({ idleTimeout: 0.5, activeTimeout: 3 }, 3); // rounded up to 4, then grown
      const model = new Map<string, { first: number; last: number; n: number }>();
      const expected: string[] = [];
      const got: string[] = [];
      const record = (f: Flow) =>
        got.push(`${[f.srcIp, f.dstIp].sort().join("|")} ${feature(f, "flowLength")}`);
      let now = 0;
      for (let i = 0; i < 20_000; i++) {
        now += randomInt(random, 3_000_000);
        const a = randomInt(random, 40);
        const b = randomInt(random, 40);
        const forward = random() < 0.5;
        const [x, y] = forward ? [a, b] : [b, a];
        for (const [k, v] of model) {
          if (v.last + 0.5e9 < now) {
            expected.push(`${k} ${v.n}`);
            model.delete(k);
          }
        }
        const key = [`0.0.0.${a}`, `0.0.0.${b}`].sort().join("|");
        const flow = model.get(key);
        if (flow && now - flow.first > 3e9) {
          expected.push(`${key} ${flow.n}`);
          model.delete(key);
        }
        const current = model.get(key);
        if (current) {
          current.n++;
          current.last = now;
        } else model.set(key, { first: now, last: now, n: 1 });
        table.add(packet(d, x, y, 7, 7), Math.floor(now / 1e9), now % 1e9);
        for (const f of table.take()) record(f);
      }
      for (const [k, v] of model) expected.push(`${k} ${v.n}`);
      table.flush();
      for (const f of table.take()) record(f);
      assert.deepEqual(got.sort(), expected.sort());
    }
  });
});
