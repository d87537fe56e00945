import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { createProgress } from "../../../src/core/progress.ts";
import type { Alert } from "../../../src/core/stream/alerts.ts";
import { DEFAULT_NETWORK_MODEL, type FlowScore, watchNetwork } from "../../../src/network/live/watch.ts";
import { classifyCommand } from "../../../src/network/pipeline.ts";
import { CLI_MAIN } from "../../support/cli.ts";
import { tempDir } from "../helpers/captures.ts";

/**
 * network watch on every shared capture (every link type, IPv6, fragments, VLANs, a cut last packet): each flow's
 * last score equals batch classify's, with the shipped model; and the CLI as a user runs it on a real port scan.
 */
const root = join(fileURLToPath(import.meta.url), "..", "..", "..", "..");
const pcaps = join(root, "..", "shared", "data", "pcaps");
const skip = existsSync(pcaps) ? false : `${pcaps} is absent: the real-data tests need the shared captures`;
const tmp = tempDir();
after(tmp.cleanup);

function key(
  s: Pick<FlowScore, "capture" | "srcIp" | "srcPort" | "dstIp" | "dstPort" | "protocol" | "startTime">,
) {
  return [s.capture, s.srcIp, s.srcPort, s.dstIp, s.dstPort, s.protocol, s.startTime].join(" ");
}

describe("network watch on the shared captures", { skip }, () => {
  test("every capture: watch's last score of each flow is classify's probability", async () => {
    const files = ["benign", "malicious", "ambiguous"].flatMap((d) =>
      readdirSync(join(pcaps, d))
        .filter((f) => f.endsWith(".pcap"))
        .sort()
        .map((f) => join(pcaps, d, f)),
    );
    assert.ok(files.length > 150);
    const last = new Map<string, number>();
    const result = await watchNetwork({
      input: { kind: "captures", paths: files },
      stdout: null,
      onFlowScored: (s) => last.set(key(s), s.probability),
    });
    const batch = await classifyCommand(
      files,
      { model: DEFAULT_NETWORK_MODEL },
      createProgress({ quiet: true }),
    );
    assert.ok(batch.predictions.length > 60_000, `${batch.predictions.length} flows`);
    // A few flows share their 5-tuple and first-packet time with another (a connection closed and reopened within
    // the same microsecond in ftp-crack): for those, watch's last score must be one of the batch scores.
    const batchScores = new Map<string, number[]>();
    for (const p of batch.predictions)
      batchScores.set(key(p), [...(batchScores.get(key(p)) ?? []), p.probability]);
    assert.equal(last.size, batchScores.size);
    let differ = 0;
    let shared = 0;
    for (const [k, scores] of batchScores) {
      const live = last.get(k);
      if (scores.length > 1) shared++;
      if (live === undefined || !scores.includes(live) || (scores.length === 1 && scores[0] !== live))
        differ++;
    }
    assert.equal(differ, 0, `${differ} flows scored differently`);
    assert.ok(shared < 1000, `${shared} keys shared by several flows`);
    assert.equal(result.detector.flowsEnded - result.detector.cutNotScored, batch.predictions.length);
    assert.equal(result.detector.cutNotScored, batch.data.cutExcluded);
  });

  test("CLI: nmap's SYN scan is one incident of the scanning host", () => {
    const capture = join(pcaps, "malicious", "chrissanders__ppa2e__synscan.pcap");
    const alertsFile = join(tmp.dir, "alerts.jsonl");
    const r = spawnSync(
      process.execPath,
      [CLI_MAIN, "network", "watch", capture, "--stats", "0", "--alerts", alertsFile],
      { cwd: root, encoding: "utf8" },
    );
    assert.equal(r.status, 0, r.stderr);
    const alerts = readFileSync(alertsFile, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Alert);
    assert.equal(r.stdout.trim().split("\n").length, alerts.length);
    assert.equal(new Set(alerts.map((a) => a.incident)).size, 1);
    assert.equal(alerts[0].entity, `host ${alerts[0].src}`);
    const last = alerts.at(-1)!.evidence as { flowsFlagged: number; flaggedServices: number };
    assert.ok(last.flowsFlagged > 1000, `${last.flowsFlagged} flagged flows`);
    assert.match(r.stderr, /threatlens summary: packets 2,011/);
  });
});
