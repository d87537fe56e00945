import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { artifactIdentity } from "../../src/core/artifact.ts";
import type { Alert } from "../../src/core/stream/alerts.ts";
import { LineFeed } from "../../src/core/stream/run.ts";
import { networkFleet } from "../../src/network/fleet.ts";
import { CaptureFileSource } from "../../src/network/live/sources.ts";
import { DEFAULT_NETWORK_MODEL, watchNetwork } from "../../src/network/live/watch.ts";
import { PacketLineSource } from "../../src/network/packet-lines.ts";

/**
 * Every shared capture, as a fleet agent ships it (packet lines, 256 bytes of each packet) and a scorer reads it,
 * raises exactly the alerts of `network watch` on the whole file: the cut bytes are never ones the detector reads.
 */
const data = join(import.meta.dirname, "..", "..", "..", "shared", "data", "pcaps");
const skip = existsSync(data) ? false : `${data} is absent`;

describe("packet lines on the shared captures", { skip }, () => {
  test("alerts and packets equal network watch's, capture by capture", async () => {
    const captures = ["benign", "malicious", "ambiguous"].flatMap((c) =>
      readdirSync(join(data, c))
        .filter((f) => /\.pcap(ng)?$/.test(f))
        .sort()
        .map((f) => join(data, c, f)),
    );
    assert.ok(captures.length > 100);
    const text = readFileSync(DEFAULT_NETWORK_MODEL, "utf8");
    const loaded = networkFleet.loadModel(
      text,
      DEFAULT_NETWORK_MODEL,
      artifactIdentity(text, DEFAULT_NETWORK_MODEL),
    );
    let alerted = 0;
    for (const capture of captures) {
      const expected: Alert[] = [];
      const watched = await watchNetwork({
        input: { kind: "captures", paths: [capture] },
        hostname: "h",
        stdout: null,
        onAlert: (a) => expected.push(a),
      });
      const got: Alert[] = [];
      const engine = networkFleet.createEngine({
        hostname: "h",
        model: loaded,
        scorer: loaded.scorer,
        sinks: [{ write: (a) => got.push(a) }],
      });
      engine.detector.beginSource?.(capture);
      const feed = new LineFeed(engine, networkFleet.parser(capture), capture);
      await new PacketLineSource(new CaptureFileSource(capture)).run((bytes, start, end, line) =>
        feed.line(bytes, start, end, line),
      );
      engine.finish();
      assert.equal(engine.counters.records, watched.detector.packets, capture);
      const strip = (a: Alert) => ({ ...a, time: "", model: a.model.name });
      assert.deepEqual(got.map(strip), expected.map(strip), capture);
      if (expected.length > 0) alerted++;
    }
    assert.ok(alerted > 5, `${alerted} captures alerted`);
  });
});
