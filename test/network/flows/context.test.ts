import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { CONTEXT_FEATURES, FlowContext } from "../../../src/network/flows/context.ts";
import { extractFlows } from "../../../src/network/flows/extract.ts";
import { flowFeatureNames } from "../../../src/network/flows/features.ts";
import type { Flow } from "../../../src/network/flows/table.ts";
import { pcapFile, type TestPacket, tempDir } from "../helpers/captures.ts";
import { ethernet, ipv4, TCP_FLAGS, tcp } from "../helpers/packets.ts";

const tmp = tempDir();
after(tmp.cleanup);
const F = Object.fromEntries(flowFeatureNames.map((n, i) => [n, i]));
const f = (flow: Flow, name: string) => flow.features[F[name]];

function syn(ms: number, src: string, dst: string, sport: number, dport: number): TestPacket {
  return {
    sec: 5000 + Math.floor(ms / 1000),
    nsec: (ms % 1000) * 1e6,
    data: ethernet(
      0x0800,
      ipv4({ src, dst, protocol: 6, payload: tcp({ sport, dport, flags: TCP_FLAGS.SYN }) }),
    ),
  };
}

async function flowsOf(packets: TestPacket[], name: string, context = true): Promise<Flow[]> {
  const out: Flow[] = [];
  for await (const flow of extractFlows(tmp.write(name, pcapFile(packets)), { context })) out.push(flow);
  return out.sort((a, b) => a.startSec - b.startSec || a.startNsec - b.startNsec);
}

describe("context across flows", () => {
  it("damps flow counts per host by 2^(-Δt/h) and reads them at each flow's first packet", async () => {
    // Three flows from one host to one service, 1 s apart (new source ports).
    const flows = await flowsOf(
      [0, 1000, 2000].map((ms, i) => syn(ms, "10.1.0.1", "10.1.0.2", 40000 + i, 22)),
      "rate.pcap",
    );
    assert.equal(flows.length, 3);
    // At the third start: 1 + 2^(-1/2) + 2^(-2/2) flows, damped with h = 2 s; × ln 2 / h is flows per second.
    const damped = 1 + 2 ** -0.5 + 2 ** -1;
    assert.ok(Math.abs(f(flows[2], "hostFlowRate_2s") - (damped * Math.LN2) / 2) < 1e-12);
    assert.ok(Math.abs(f(flows[0], "hostFlowRate_2s") - Math.LN2 / 2) < 1e-12);
    // The pair's flow starts are 1 s apart: mean gap 1 (a weighted mean of equal values), std 0.
    assert.ok(Math.abs(f(flows[2], "pairGapMean_20s") - 1) < 1e-12);
    assert.ok(Math.abs(f(flows[2], "pairGapStd_20s")) < 1e-6);
    // Unanswered SYNs: no answers, and the service has one client.
    assert.equal(f(flows[2], "hostAnswerShare_20s"), 0);
    assert.ok(Math.abs(f(flows[2], "serviceDistinctClients_20s") - 1) < 0.05);
  });

  it("counts distinct ports of a scan in a window, and forgets them after it", async () => {
    const scan = Array.from({ length: 40 }, (_, i) => syn(i * 10, "10.2.0.1", "10.2.0.2", 50000, 1000 + i));
    const late = syn(60_000, "10.2.0.1", "10.2.0.2", 50001, 80); // a minute later
    const flows = await flowsOf([...scan, late], "scan.pcap");
    const last = flows[39];
    // 40 ports in 32 buckets: linear counting estimates ~40 with collisions; well above 20.
    assert.ok(f(last, "hostDistinctPorts_2s") > 20, String(f(last, "hostDistinctPorts_2s")));
    assert.ok(f(last, "pairDistinctPorts_2s") > 20);
    assert.ok(f(last, "hostFlowRate_200ms") > f(flows[1], "hostFlowRate_200ms"));
    // 60 s later the 2 s window holds only the new port; the 100 s window still holds the scan.
    const after = flows[40];
    assert.ok(Math.abs(f(after, "hostDistinctPorts_2s") - 1) < 0.05);
    assert.ok(f(after, "hostDistinctPorts_100s") > 20);
  });

  it("sees a flood's fan-in at its destination host: many senders, many ports, nothing answered", async () => {
    // 30 spoofed senders hit one victim on 30 ports within 0.3 s, then an ordinary client connects a minute later.
    const flood = Array.from({ length: 30 }, (_, i) =>
      syn(i * 10, `10.4.1.${i + 1}`, "10.4.0.9", 1234, 2000 + i),
    );
    const later = syn(60_000, "10.4.2.1", "10.4.0.9", 40000, 443);
    const flows = await flowsOf([...flood, later], "fanin.pcap");
    const last = flows[29];
    // Every sender is new to the initiator-side keys, so only the destination host sees the flood.
    assert.ok(Math.abs(f(last, "hostFlowRate_2s") - Math.LN2 / 2) < 1e-12);
    assert.ok(f(last, "dstHostDistinctClients_2s") > 20, String(f(last, "dstHostDistinctClients_2s")));
    assert.ok(f(last, "dstHostDistinctPorts_2s") > 20);
    assert.ok(f(last, "dstHostFlowRate_2s") > 10 * f(last, "hostFlowRate_2s"));
    assert.equal(f(last, "dstHostAnswerShare_2s"), 0);
    // A minute on, the 2 s window has forgotten the flood and the 100 s one has not.
    assert.ok(Math.abs(f(flows[30], "dstHostDistinctClients_2s") - 1) < 0.05);
    assert.ok(f(flows[30], "dstHostDistinctClients_100s") > 20);
  });

  it("refuses a checkpoint of its tables written before the destination-host table existed", () => {
    const context = new FlowContext({ hosts: 4, pairs: 4, services: 4, dstHosts: 4 });
    context.startFlow(new Int32Array(8), 0, 4, 6, [1, 0, 0, 0], [2, 0, 0, 0], 80, 1);
    const { dstHosts: _, ...older } = context.toJSON();
    const fresh = new FlowContext({ hosts: 4, pairs: 4, services: 4, dstHosts: 4 });
    assert.throws(() => fresh.restore(older as never), /another version of threatlens/);
    fresh.restore(context.toJSON());
    assert.deepEqual(fresh.toJSON(), context.toJSON());
  });

  it("is off without context (zeros) and bounded with it: evictions are counted", async () => {
    const flows = await flowsOf(
      [syn(0, "10.3.0.1", "10.3.0.2", 1, 2), syn(5, "10.3.0.1", "10.3.0.2", 3, 2)],
      "off.pcap",
      false,
    );
    for (const name of CONTEXT_FEATURES) assert.equal(f(flows[1], name), 0, name);
    const context = new FlowContext({ hosts: 4, pairs: 4, services: 4, dstHosts: 4 });
    const links = new Int32Array(8);
    for (let i = 0; i < 10; i++) context.startFlow(links, 0, 4, 6, [i, 0, 0, 0], [99, 0, 0, 0], 80, i);
    // Host 0 returns (evicting once); six new destinations: six new pairs, services and destination hosts.
    for (let i = 0; i < 6; i++) context.startFlow(links, 0, 4, 6, [0, 0, 0, 0], [i, 0, 0, 0], 80, 10 + i);
    // Tables of 4: 7 initiators after host 0's return, 16 pairs, 7 services and 7 destination hosts.
    assert.deepEqual(context.stats, {
      hostEvictions: 7,
      pairEvictions: 12,
      serviceEvictions: 3,
      dstHostEvictions: 3,
    });
  });
});
