import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, describe, test } from "node:test";
import { artifactIdentity } from "../../../src/core/artifact.ts";
import type { Alert } from "../../../src/core/stream/alerts.ts";
import { CaptureReader } from "../../../src/network/capture/reader.ts";
import type { PacketRecord } from "../../../src/network/capture/types.ts";
import { NetworkScorer, networkFlowModel } from "../../../src/network/live/scorer.ts";
import { createNetworkEngine, DEFAULT_NETWORK_MODEL } from "../../../src/network/live/watch.ts";
import { loadNetworkModel } from "../../../src/network/model.ts";
import { tempDir } from "../helpers/captures.ts";
import { benignCapture, maliciousCapture } from "../helpers/traffic.ts";

/**
 * The network engine's checkpoint (what `network watch --state` and fleet scorers store): restored at any packet, the
 * run goes on with exactly the flow scores and alerts of an uninterrupted one; and it is small once flows have ended,
 * whatever size the flow table grew to.
 */
const tmp = tempDir();
after(tmp.cleanup);

async function packets(paths: string[]): Promise<PacketRecord[]> {
  const out: PacketRecord[] = [];
  for (const path of paths) {
    const reader = await CaptureReader.open(path);
    for (let p = await reader.next(); p !== null; p = await reader.next()) {
      const data = Buffer.from(p.data.subarray(p.offset, p.offset + p.capturedLength));
      out.push({ ...p, data, offset: 0 });
    }
    await reader.close();
  }
  return out;
}

describe("network engine checkpoints", async () => {
  const model = await loadNetworkModel(DEFAULT_NETWORK_MODEL);
  const flowModel = networkFlowModel(model);
  const identity = artifactIdentity(readFileSync(DEFAULT_NETWORK_MODEL, "utf8"), DEFAULT_NETWORK_MODEL);
  const input = await packets([
    tmp.write("scan.pcap", maliciousCapture(31)),
    tmp.write("benign.pcap", benignCapture(32)),
  ]);

  function engine(scores: string[], alerts: Alert[]) {
    return createNetworkEngine({
      flowModel,
      scorer: new NetworkScorer(flowModel, identity),
      hostname: "h",
      sinks: [{ write: (a) => alerts.push(a) }],
      onFlowScored: (c, score, point) => scores.push(`${c.srcPort}>${c.dstPort} ${point} ${score}`),
    });
  }

  test("restored at any packet, the same flow scores and alerts as without the stop", () => {
    const scores: string[] = [];
    const alerts: Alert[] = [];
    const whole = engine(scores, alerts);
    for (const p of input) whole.push(p);
    whole.finish();
    assert.ok(alerts.length > 0 && scores.length > 20);
    for (const cut of [1, 17, Math.floor(input.length / 3), Math.floor(input.length / 2), input.length - 5]) {
      const s: string[] = [];
      const a: Alert[] = [];
      const first = engine(s, a);
      for (const p of input.slice(0, cut)) first.push(p);
      const saved = JSON.parse(JSON.stringify(first.snapshot()));
      const second = engine(s, a);
      second.restore(saved);
      for (const p of input.slice(cut)) second.push(p);
      second.finish();
      assert.deepEqual(s, scores, `stopped after packet ${cut}`);
      assert.deepEqual(
        a.map((x) => x.id),
        alerts.map((x) => x.id),
        `stopped after packet ${cut}`,
      );
    }
  });

  test("a checkpoint holds the flows in use, not the table's capacity", () => {
    const e = engine([], []);
    // Many short flows at once make the table grow far beyond its first 1,024 slots.
    for (const p of input) e.push(p);
    const busy = JSON.stringify(e.snapshot()).length;
    e.finish();
    const idle = JSON.stringify(e.snapshot()).length;
    assert.ok(idle < 200_000, `${idle} bytes once every flow ended`);
    assert.ok(idle < busy, `${idle} < ${busy}`);
  });
});
