/**
 * The shared captures end to end: every file reads completely (packet counts equal the manifest's), and flow
 * extraction accounts for every decoded packet exactly once.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { it } from "node:test";
import { fileURLToPath } from "node:url";
import { extractFlows } from "../../src/network/flows/extract.ts";
import { flowFeatureNames } from "../../src/network/flows/features.ts";

const PCAPS = fileURLToPath(new URL("../../../shared/data/pcaps", import.meta.url));

it("reads every shared capture and puts each decoded packet in exactly one flow", {
  timeout: 300_000,
}, async (t) => {
  const manifest = join(PCAPS, "manifest.tsv");
  if (!existsSync(manifest)) {
    t.skip(`captures not found at ${PCAPS}`);
    return;
  }
  const [header, ...lines] = readFileSync(manifest, "utf8").trimEnd().split("\n");
  const columns = header.split("\t");
  const fileColumn = columns.indexOf("file");
  const packetsColumn = columns.indexOf("packets");
  const flowLength = flowFeatureNames.indexOf("flowLength");
  let flows = 0;
  for (const line of lines) {
    const cells = line.split("\t");
    const file = join(PCAPS, cells[fileColumn]);
    const stream = extractFlows(file);
    let packetsInFlows = 0;
    for await (const flow of stream) {
      packetsInFlows += flow.features[flowLength];
      assert.ok(
        flow.features.every((v) => Number.isFinite(v)),
        `${file}: non-finite feature`,
      );
      assert.ok(
        flow.endSec * 1e9 + flow.endNsec >= flow.startSec * 1e9 + flow.startNsec,
        `${file}: flow ends before it starts`,
      );
      flows++;
    }
    const s = stream.stats;
    assert.equal(s.packets, Number(cells[packetsColumn]), `${file}: packets read`);
    assert.equal(packetsInFlows, s.decoded, `${file}: packets in flows`);
    assert.equal(
      s.decoded + s.notIp + s.truncated + s.malformed + s.unsupportedLink,
      s.packets,
      `${file}: packets accounted`,
    );
    assert.equal(s.unsupportedLink, 0, `${file}: link type`);
  }
  assert.ok(flows > 70_000, `${flows} flows`);
});
