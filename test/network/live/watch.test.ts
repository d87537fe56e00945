import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { createProgress } from "../../../src/core/progress.ts";
import type { Alert } from "../../../src/core/stream/alerts.ts";
import { DEFAULT_NETWORK_MODEL, type FlowScore, watchNetwork } from "../../../src/network/live/watch.ts";
import { classifyCommand, trainCommand } from "../../../src/network/pipeline.ts";
import { CLI_MAIN } from "../../support/cli.ts";
import { pcapFile, tempDir } from "../helpers/captures.ts";
import { ethernet, ipv4, TCP_FLAGS, tcp } from "../helpers/packets.ts";
import { benignCapture, maliciousCapture } from "../helpers/traffic.ts";

/**
 * network watch on capture files and streams, with the model shipped in the package: the same flows and scores as
 * batch classify, one incident per scanning host, checkpoints that resume without repeating an alert.
 */
const root = join(fileURLToPath(import.meta.url), "..", "..", "..", "..");
const main = CLI_MAIN;
const tmp = tempDir();
after(tmp.cleanup);
const quiet = createProgress({ quiet: true });

const captures: Record<string, string> = {};
before(() => {
  for (const [name, bytes] of [
    ["scan-1.pcap", maliciousCapture(11)],
    ["scan-2.pcap", maliciousCapture(12)],
    ["benign-1.pcap", benignCapture(21)],
    ["benign-2.pcap", benignCapture(22)],
    ["two-scanners.pcap", twoScanners()],
    ["spoofed-flood.pcap", spoofedFlood()],
  ] as const) {
    captures[name] = join(tmp.dir, name);
    writeFileSync(captures[name], bytes);
  }
});

/** Two hosts scanning one target at the same time, 300 ports each, most answered by a RST. */
function twoScanners(): Buffer {
  const packets = [];
  let usec = 1_700_000_000_000_000;
  for (let port = 1; port <= 300; port++) {
    for (const [attacker, sport] of [
      ["172.16.0.5", 40000 + port],
      ["172.16.0.9", 50000 + port],
    ] as const) {
      usec += 700;
      const syn = tcp({ sport, dport: port, flags: TCP_FLAGS.SYN });
      const rst = tcp({ sport: port, dport: sport, flags: TCP_FLAGS.RST | TCP_FLAGS.ACK });
      packets.push({
        sec: Math.floor(usec / 1e6),
        nsec: (usec % 1e6) * 1000,
        data: ethernet(0x0800, ipv4({ src: attacker, dst: "10.2.0.7", protocol: 6, payload: syn })),
      });
      usec += 60;
      packets.push({
        sec: Math.floor(usec / 1e6),
        nsec: (usec % 1e6) * 1000,
        data: ethernet(0x0800, ipv4({ src: "10.2.0.7", dst: attacker, protocol: 6, payload: rst })),
      });
    }
  }
  return pcapFile(packets);
}

/** A SYN flood on one web server from 2,000 spoofed sources, one SYN each, 0.5 ms apart, never answered. */
function spoofedFlood(): Buffer {
  const packets = [];
  let usec = 1_700_000_000_000_000;
  for (let i = 0; i < 2000; i++) {
    usec += 500;
    const src = `${11 + (i % 200)}.${(i * 7) % 250}.${(i * 13) % 250}.${1 + (i % 250)}`;
    const syn = tcp({ sport: 1024 + ((i * 31) % 60000), dport: 80, flags: TCP_FLAGS.SYN });
    packets.push({
      sec: Math.floor(usec / 1e6),
      nsec: (usec % 1e6) * 1000,
      data: ethernet(0x0800, ipv4({ src, dst: "10.9.0.80", protocol: 6, payload: syn })),
    });
  }
  return pcapFile(packets);
}

async function watch(paths: string[], extra: Partial<Parameters<typeof watchNetwork>[0]> = {}) {
  const alerts: Alert[] = [];
  const scores: FlowScore[] = [];
  const result = await watchNetwork({
    input: { kind: "captures", paths },
    stdout: null,
    onAlert: (a) => alerts.push(a),
    onFlowScored: (s) => scores.push(s),
    hostname: "test-host",
    ...extra,
  });
  return { result, alerts, scores };
}

/** Each flow's last scoring: what it was scored with once it ended. */
function lastScores(scores: FlowScore[]): Map<string, number> {
  const last = new Map<string, number>();
  for (const s of scores) last.set(flowKey(s), s.probability);
  return last;
}

function flowKey(s: {
  capture: string;
  srcIp: string;
  srcPort: string;
  dstIp: string;
  dstPort: string;
  protocol: string;
  startTime: string;
}): string {
  return [s.capture, s.srcIp, s.srcPort, s.dstIp, s.dstPort, s.protocol, s.startTime].join(" ");
}

describe("network watch on capture files", () => {
  test("scores every flow as batch classify does (same flows, same probabilities)", async () => {
    const paths = Object.values(captures);
    const { scores, result } = await watch(paths);
    const batch = await classifyCommand(paths, { model: DEFAULT_NETWORK_MODEL }, quiet);
    const last = lastScores(scores);
    assert.ok(batch.predictions.length > 100, `${batch.predictions.length} flows`);
    assert.equal(last.size, batch.predictions.length);
    for (const p of batch.predictions) {
      const live = last.get(flowKey(p));
      assert.ok(live !== undefined, `watch never scored ${flowKey(p)}`);
      assert.equal(live, p.probability, flowKey(p));
    }
    assert.equal(result.detector.cutNotScored, batch.data.cutExcluded);
    assert.equal(result.summary.records, result.detector.packets);
    assert.equal(result.summary.dropped, 0);
  });

  test("a logistic-regression model on the flow statistics only (a prefix of the features) replays as classify", async () => {
    const grid = join(tmp.dir, "logistic-grid.json");
    writeFileSync(
      grid,
      JSON.stringify({
        space: {
          penalty: ["l2"],
          C: [1],
          classWeight: ["balanced"],
          fitIntercept: [true],
          transform: ["log1p"],
        },
        folds: 2,
        cv: "grouped",
        selection: ["rocAuc"],
        seed: 3,
        maxFlowsPerCapture: 2000,
      }),
    );
    const model = join(tmp.dir, "logistic.json");
    const train = [
      captures["scan-1.pcap"],
      captures["scan-2.pcap"],
      captures["benign-1.pcap"],
      captures["benign-2.pcap"],
    ];
    const labels = join(tmp.dir, "labels.tsv");
    writeFileSync(
      labels,
      `file\tlabel\n${train.map((p) => `${p.split("/").at(-1)}\t${p.includes("scan") ? "malicious" : "benign"}`).join("\n")}\n`,
    );
    await trainCommand(
      train,
      { output: model, manifest: labels, config: grid, features: "flow", workers: 1 },
      quiet,
    );
    const paths = [captures["two-scanners.pcap"], captures["benign-1.pcap"]];
    const { scores, alerts } = await watch(paths, { model });
    const batch = await classifyCommand(paths, { model }, quiet);
    const last = lastScores(scores);
    assert.equal(last.size, batch.predictions.length);
    for (const p of batch.predictions) assert.equal(last.get(flowKey(p)), p.probability, flowKey(p));
    assert.ok(alerts.length > 0, "the scanners raise incidents with this model too");
    assert.match(alerts[0].model.hash, /^sha256:/);
  });

  test("the anomaly model (KitNET, fitted on benign captures only) replays as classify", async () => {
    const config = join(tmp.dir, "kitnet.json");
    const shipped = JSON.parse(readFileSync(join(root, "config", "network-kitnet.json"), "utf8"));
    writeFileSync(config, JSON.stringify({ ...shipped, folds: 2 }));
    const model = join(tmp.dir, "kitnet-model.json");
    await trainCommand(
      [captures["benign-1.pcap"], captures["benign-2.pcap"]],
      { output: model, label: "benign", config },
      quiet,
    );
    const paths = Object.values(captures);
    const { scores, alerts } = await watch(paths, { model });
    const batch = await classifyCommand(paths, { model }, quiet);
    const last = lastScores(scores);
    assert.equal(last.size, batch.predictions.length);
    for (const p of batch.predictions) assert.equal(last.get(flowKey(p)), p.probability, flowKey(p));
    assert.ok(
      alerts.some((a) => a.entity === "host 172.16.0.5"),
      "a scanner, never seen in training, raises an incident",
    );
  });

  test("a scan is one incident of its source host, not an alert per flow", async () => {
    const { alerts, scores } = await watch([captures["two-scanners.pcap"]]);
    const flagged = scores.filter((s) => s.label === "malicious");
    assert.ok(flagged.length >= 400, `${flagged.length} flagged flow scorings`);
    const incidents = new Map<string, Alert[]>();
    for (const a of alerts) incidents.set(a.incident, [...(incidents.get(a.incident) ?? []), a]);
    assert.equal(incidents.size, 2, JSON.stringify(alerts.map((a) => a.entity)));
    const entities = [...incidents.values()].map((list) => list[0].entity).sort();
    assert.deepEqual(entities, ["host 172.16.0.5", "host 172.16.0.9"]);
    assert.ok(alerts.length < 10, `${alerts.length} alert lines for 600 flagged flows`);
    for (const list of incidents.values()) {
      const first = list[0];
      assert.equal(first.status, "new");
      assert.equal(first.rule, "Suspicious network flows");
      assert.equal(first.detector, "network");
      assert.equal(first.dst, "10.2.0.7");
      assert.equal(first.proto, "tcp");
      assert.ok(first.score >= first.threshold);
      assert.match(first.model.hash, /^sha256:/);
      const evidence = first.evidence as { flowsFlagged: number; context: Record<string, number> };
      assert.ok(evidence.flowsFlagged >= 1);
      assert.ok("hostDistinctPorts_20s" in evidence.context);
      // The last line of each incident counts the host's flagged flows and ports.
      const last = list.at(-1)!.evidence as { flowsFlagged: number; flaggedServices: number };
      assert.ok(last.flowsFlagged >= 200, `${last.flowsFlagged} flagged flows in the last line`);
      assert.ok(last.flaggedServices >= 200);
    }
  });

  test("--min-flagged: a host raises its incident at its n-th flagged flow, counting the earlier ones", async () => {
    const path = captures["two-scanners.pcap"];
    const { alerts } = await watch([path], { minFlaggedFlows: 5 });
    assert.equal(new Set(alerts.map((a) => a.incident)).size, 2);
    for (const a of alerts.filter((x) => x.status === "new")) {
      assert.equal((a.evidence as { flowsFlagged: number }).flowsFlagged, 5);
    }
    // More flagged flows than a host ever has: no incident at all.
    const quiet = await watch([path], { minFlaggedFlows: 1000 });
    assert.deepEqual(quiet.alerts, []);
    assert.ok(quiet.result.detector.flaggedScorings >= 400, "the flows are still flagged and counted");
  });

  test("a flood from many spoofed sources is one incident of its target", async () => {
    const { alerts, result } = await watch([captures["spoofed-flood.pcap"]], { includeCut: true });
    assert.ok(
      result.detector.flaggedScorings > 1000,
      `${result.detector.flaggedScorings} flagged flow scorings`,
    );
    assert.equal(new Set(alerts.map((a) => a.incident)).size, 1, JSON.stringify(alerts.map((a) => a.entity)));
    assert.equal(alerts[0].entity, "target 10.9.0.80");
    assert.equal((alerts[0].evidence as { scope: string }).scope, "target host");
    assert.ok(alerts.length < 10);
  });

  test("benign captures raise no alert", async () => {
    const { alerts, scores } = await watch([captures["benign-1.pcap"], captures["benign-2.pcap"]]);
    assert.ok(scores.length > 10);
    assert.deepEqual(alerts, []);
  });

  test("a capture on a stream gives the alerts of the same capture read as a file", async () => {
    const path = captures["two-scanners.pcap"];
    const fromFile = await watch([path]);
    const bytes = readFileSync(path);
    const strip = (a: Alert) => ({ ...a, time: "", id: "", incident: "" });
    const alerts: Alert[] = [];
    const again = await watchNetwork({
      // Small chunks: packets split across reads.
      input: { kind: "stream", stream: chunked(bytes, 1000), name: path },
      stdout: null,
      hostname: "test-host",
      onAlert: (a) => alerts.push(a),
    });
    assert.equal(again.summary.records, fromFile.result.summary.records);
    assert.deepEqual(alerts.map(strip), fromFile.alerts.map(strip));
  });

  test("stopped part-way with --state, a second run resumes: no alert repeated or lost", async () => {
    const paths = [captures["scan-1.pcap"], captures["two-scanners.pcap"], captures["scan-2.pcap"]];
    const whole = await watch(paths);
    const state = join(tmp.dir, "state");
    const controller = new AbortController();
    let seen = 0;
    const first = await watch(paths, {
      state,
      signal: controller.signal,
      onFlowScored: () => {
        if (++seen === 400) controller.abort();
      },
    });
    assert.ok(first.result.summary.records < whole.result.summary.records, "the first run stopped early");
    const second = await watch(paths, { state });
    assert.ok(second.result.summary.resumed);
    const ids = [...first.alerts, ...second.alerts].map((a) => a.id);
    assert.deepEqual(
      ids,
      whole.alerts.map((a) => a.id),
    );
    assert.equal(second.result.summary.records, whole.result.summary.records);
    assert.deepEqual(lastScores(second.scores), subsetOf(lastScores(whole.scores), second.scores));
  });
});

function subsetOf(all: Map<string, number>, scores: FlowScore[]): Map<string, number> {
  const keys = new Set(scores.map(flowKey));
  return new Map([...all].filter(([k]) => keys.has(k)));
}

function chunked(bytes: Buffer, size: number): PassThrough {
  const s = new PassThrough();
  void (async () => {
    for (let i = 0; i < bytes.length; i += size) {
      s.write(bytes.subarray(i, i + size));
      await new Promise((r) => setImmediate(r));
    }
    s.end();
  })();
  return s;
}

describe("network watch CLI", () => {
  function cli(args: string[], input?: Buffer) {
    const r = spawnSync(process.execPath, [main, "network", "watch", ...args], {
      cwd: root,
      input,
      encoding: "utf8",
    });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  test("replays a capture: JSON alert lines, summary with packets and flows on stderr", () => {
    const r = cli([captures["two-scanners.pcap"], "--json", "--stats", "0"]);
    assert.equal(r.code, 0, r.stderr);
    const alerts = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Alert);
    assert.equal(new Set(alerts.map((a) => a.incident)).size, 2);
    assert.match(r.stderr, /threatlens summary: packets 1,200/);
    assert.match(r.stderr, /600 flows ended/);
  });

  test("reads a capture on stdin (-), text alerts", () => {
    const r = cli(["-", "--format", "text", "--stats", "0"], readFileSync(captures["two-scanners.pcap"]));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /host 172\.16\.0\.5/);
    assert.match(r.stdout, /host 172\.16\.0\.9/);
  });

  test("bad input: not a capture, usage errors, a missing model", () => {
    const text = join(tmp.dir, "notes.pcap");
    writeFileSync(text, "hello, this is not a capture\n");
    const bad = cli([text, "--stats", "0"]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /notes\.pcap.*not a pcap or pcapng file/);
    assert.doesNotMatch(bad.stderr, /at .*\.ts:\d+/);
    const both = cli([captures["scan-1.pcap"], "--interface", "lo"]);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /give one input/);
    const filter = cli([captures["scan-1.pcap"], "--filter", "port 80"]);
    assert.equal(filter.code, 2);
    const model = cli([captures["scan-1.pcap"], "--model", join(tmp.dir, "none.json")]);
    assert.equal(model.code, 1);
    assert.match(model.stderr, /none\.json/);
  });
});
