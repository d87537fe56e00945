import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { flowFeatureNames } from "../../src/network/flows/features.ts";
import { runCli } from "../support/cli.ts";
import { pcapFile, tempDir } from "./helpers/captures.ts";
import { ethernet, ipv4, TCP_FLAGS, tcp } from "./helpers/packets.ts";
import { benignCapture, maliciousCapture } from "./helpers/traffic.ts";

/** End-to-end: the CLI as a user runs it, on generated captures (no shared data needed). */

const cli = (args: string[]) => runCli(args);

const tmp = tempDir();
after(tmp.cleanup);
const data = join(tmp.dir, "pcaps");
const manifest = join(data, "manifest.tsv");
const grid = join(tmp.dir, "grid.json");
const model = join(tmp.dir, "model.json");
const fmModel = join(tmp.dir, "fm-model.json");
const ports = join(tmp.dir, "ports.json");

before(() => {
  mkdirSync(join(data, "benign"), { recursive: true });
  mkdirSync(join(data, "malicious"), { recursive: true });
  const lines = ["file\tlabel\tcategory"];
  for (let i = 0; i < 6; i++) {
    writeFileSync(join(data, "benign", `b${i}.pcap`), benignCapture(100 + i));
    writeFileSync(join(data, "malicious", `m${i}.pcap`), maliciousCapture(200 + i));
    lines.push(`benign/b${i}.pcap\tbenign\tweb`, `malicious/m${i}.pcap\tmalicious\tportscan`);
  }
  writeFileSync(join(data, "odd.pcap"), benignCapture(999));
  lines.push("odd.pcap\tambiguous\tunclear");
  writeFileSync(manifest, `${lines.join("\n")}\n`);
  writeFileSync(
    grid,
    JSON.stringify({
      space: {
        penalty: ["l1", "l2"],
        C: [0.1, 1],
        classWeight: ["balanced"],
        fitIntercept: [true],
        transform: ["none"],
      },
      folds: 3,
      cv: "grouped",
      selection: ["captureRocAuc", "rocAuc"],
      seed: 5,
      maxFlowsPerCapture: 20,
    }),
  );
  writeFileSync(ports, JSON.stringify({ tcp: { "80": "http", "443": "https" }, udp: { "53": "domain" } }));
});

describe("threatlens network (CLI, generated captures)", () => {
  test("flows writes a flow CSV; --flowmeter-compat FlowMeter's header", () => {
    const out = join(tmp.dir, "flows.csv");
    const r = cli([
      "network",
      "flows",
      join(data, "benign", "b0.pcap"),
      join(data, "malicious", "m0.pcap"),
      "-o",
      out,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const lines = readFileSync(out, "utf8").trim().split("\n");
    assert.ok(lines[0].startsWith("capture,srcIp,srcPort,dstIp,dstPort,protocol,"));
    assert.ok(!lines[0].includes("hostFlowRate"), "context columns only with --context");
    assert.ok(lines.length > 30);
    assert.match(r.stderr, /2 capture\(s\), \d+ packets → \d+ flows/);
    const compat = join(tmp.dir, "compat.csv");
    const c = cli([
      "network",
      "flows",
      join(data, "benign", "b0.pcap"),
      "-o",
      compat,
      "--flowmeter-compat",
      "--port-names",
      ports,
    ]);
    assert.equal(c.code, 0, c.stderr);
    assert.ok(
      readFileSync(compat, "utf8").startsWith("fiveTuple,srcIP,dstIP,protocol,srcPort,dstPort,flowDuration,"),
    );
  });

  test("train with a manifest, evaluate --json and --report, classify --csv/--json", () => {
    const t = cli([
      "network",
      "train",
      data,
      "--manifest",
      manifest,
      "-o",
      model,
      "--config",
      grid,
      "--json",
      "-q",
    ]);
    assert.equal(t.code, 0, t.stderr);
    const trained = JSON.parse(t.stdout);
    assert.equal(trained.training.captures, 12);
    assert.deepEqual(trained.training.ambiguousExcluded, [join(data, "odd.pcap")]);
    assert.ok(trained.training.flows < trained.training.flowsBeforeCap, "the per-capture cap applies");
    assert.match(trained.fit, /solver \d+ iterations/);
    assert.ok(trained.crossValidation.metrics.captureRocAuc > 0.8);
    // Four candidates: the choosing score comes with an estimate the choice did not see, and says which is which.
    assert.equal(typeof trained.crossValidation.heldOut.captureRocAuc, "number");
    assert.match(trained.crossValidation.meaning.metrics, /optimistic/);
    assert.equal(trained.perCapture.length, 12);
    assert.deepEqual(trained.warnings, []);

    const report = join(tmp.dir, "eval-report");
    const e = cli([
      "network",
      "evaluate",
      "--model",
      model,
      data,
      "--manifest",
      manifest,
      "--report",
      report,
      "--json",
      "-q",
    ]);
    assert.equal(e.code, 0, e.stderr);
    const ev = JSON.parse(e.stdout);
    for (const key of [
      "rocAuc",
      "prAuc",
      "recall",
      "precision",
      "f1",
      "accuracy",
      "flaggedShare",
      "captureRocAuc",
    ]) {
      assert.equal(typeof ev[key], "number", key);
    }
    // The share of flows flagged was called "data reduction", which reads as its opposite.
    assert.equal(ev.dataReduction, undefined);
    assert.deepEqual(Object.keys(ev.confusion).sort(), ["fn", "fp", "tn", "tp"]);
    assert.ok(ev.rocAuc > 0.9);
    assert.equal(ev.perCapture.length, 12);
    assert.deepEqual(
      ev.perCategory.map((c: { category: string }) => c.category),
      ["web", "portscan"],
    );
    assert.equal(ev.features.length, flowFeatureNames.length);
    for (const f of [
      "report.html",
      "confusion-matrix.png",
      "roc.svg",
      "precision-recall.png",
      "weights.png",
      "per-capture.svg",
    ]) {
      assert.ok(existsSync(join(report, f)), f);
    }

    const csv = cli([
      "network",
      "classify",
      "--model",
      model,
      join(data, "malicious", "m1.pcap"),
      "--csv",
      "-q",
    ]);
    assert.equal(csv.code, 0, csv.stderr);
    const rows = csv.stdout.trim().split("\n");
    assert.equal(rows[0], "capture,srcIp,srcPort,dstIp,dstPort,protocol,startTime,label,probability");
    assert.match(rows[1], /m1\.pcap,[\d.]+,\d+,[\d.]+,\d+,6,\d+\.\d{9},(malicious|benign),[\d.e-]+$/);
    const json = JSON.parse(
      cli(["network", "classify", "--model", model, join(data, "benign", "b1.pcap"), "--json", "-q"]).stdout,
    );
    assert.equal(json.captures.length, 1);
    assert.equal(json.captures[0].flows, json.predictions.length);
  });

  test("--features flowmeter → export-flowmeter → --flowmeter-params scores identically", () => {
    const t = cli([
      "network",
      "train",
      data,
      "--manifest",
      manifest,
      "-o",
      fmModel,
      "--config",
      grid,
      "--features",
      "flowmeter",
      "-q",
    ]);
    assert.equal(t.code, 0, t.stderr);
    const dir = join(tmp.dir, "params");
    const x = cli(["network", "export-flowmeter", "--model", fmModel, "-o", dir]);
    assert.equal(x.code, 0, x.stderr);
    for (const f of ["mean.txt", "std.txt", "weights.txt", "intercept.txt"])
      assert.ok(existsSync(join(dir, f)), f);
    const capture = join(data, "malicious", "m2.pcap");
    const a = JSON.parse(cli(["network", "classify", "--model", fmModel, capture, "--json", "-q"]).stdout);
    const b = JSON.parse(
      cli(["network", "classify", "--flowmeter-params", dir, capture, "--json", "-q"]).stdout,
    );
    assert.deepEqual(
      b.predictions.map((p: { probability: number }) => p.probability),
      a.predictions.map((p: { probability: number }) => p.probability),
    );
  });

  test("--manifest twice combines manifests (say the shared captures' and your own); a file in both is an error", () => {
    const own = join(tmp.dir, "own");
    mkdirSync(own, { recursive: true });
    writeFileSync(join(own, "mine.pcap"), benignCapture(77));
    const ownManifest = join(own, "manifest.tsv");
    writeFileSync(ownManifest, "file\tlabel\tcategory\nmine.pcap\tbenign\toffice\n");
    const args = ["network", "evaluate", "--model", model, data, own, "--json", "-q"];
    const r = cli([...args, "--manifest", manifest, "--manifest", ownManifest]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    const categories = out.perCategory.map((c: { category: string }) => c.category).sort();
    assert.deepEqual(categories, ["office", "portscan", "web"]);
    // Without the second manifest, the user's capture is unlabelled: an error that names it.
    const one = cli([...args, "--manifest", manifest]);
    assert.equal(one.code, 1);
    assert.match(one.stderr, /mine\.pcap is not in the manifest.*--manifest once per manifest/);
    const twice = join(data, "again.tsv");
    writeFileSync(twice, "file\tlabel\nbenign/b0.pcap\tbenign\n");
    const dup = cli([...args, "--manifest", manifest, "--manifest", twice]);
    assert.equal(dup.code, 1);
    assert.match(dup.stderr, /b0\.pcap is listed by two manifests: .*manifest\.tsv line 2/);
  });

  test("errors: unlisted input, non-exportable model, bad label, no model", () => {
    const stray = join(tmp.dir, "stray.pcap");
    writeFileSync(stray, benignCapture(5));
    const r = cli(["network", "evaluate", "--model", model, stray, "--manifest", manifest, "-q"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /stray\.pcap is not in the manifest/);
    const x = cli(["network", "export-flowmeter", "--model", model, "-o", join(tmp.dir, "nope")]);
    assert.equal(x.code, 2);
    assert.match(x.stderr, /--features flowmeter/);
    const l = cli(["network", "train", data, "--label", "evil", "-o", join(tmp.dir, "m.json"), "-q"]);
    assert.equal(l.code, 2);
    assert.match(l.stderr, /--label must be benign or malicious/);
    const n = cli(["network", "classify", stray, "-q"]);
    assert.equal(n.code, 2);
    assert.match(n.stderr, /--model MODEL\.json or --flowmeter-params DIR/);
    assert.ok(!r.stderr.includes("    at "), "no stack trace");
  });

  test("issue 8: honest output — classify --json counts skipped packets and warnings; one-class PR AUC is undefined", () => {
    // A capture cut short in its last packet, with an ARP frame: skipped and counted, warned about.
    const whole = benignCapture(77);
    const arp = pcapFile([{ sec: 1, nsec: 0, data: ethernet(0x0806, new Array(28).fill(0)) }]).subarray(24);
    const damaged = join(tmp.dir, "damaged.pcap");
    writeFileSync(damaged, Buffer.concat([whole, arp, whole.subarray(24, 24 + 30)]));
    const c = cli(["network", "classify", "--model", model, damaged, "--json", "-q"]);
    assert.equal(c.code, 0, c.stderr);
    const out = JSON.parse(c.stdout);
    assert.equal(out.skipped.notIp, 1);
    assert.equal(out.warnings.length, 1);
    assert.match(out.warnings[0], /damaged\.pcap \(byte offset \d+\)/);
    // Only malicious flows: neither ROC AUC nor PR AUC is defined (PR AUC used to read 1.000).
    const e = cli([
      "network",
      "evaluate",
      "--model",
      model,
      join(data, "malicious", "m3.pcap"),
      "--label",
      "malicious",
      "--json",
      "-q",
    ]);
    assert.equal(e.code, 0, e.stderr);
    const ev = JSON.parse(e.stdout);
    assert.equal(ev.prAuc, null);
    assert.equal(ev.rocAuc, null);
  });

  test("issue 8: connection attempts cut short by the end of a capture are marked and not scored by default", () => {
    // A normal session, then a burst of SYNs in the capture's last moments, before any answer could be captured.
    const syns = Array.from({ length: 5 }, (_, i) => ({
      sec: 2_000_000_000, // after the session's packets
      nsec: i * 1000,
      data: ethernet(
        0x0800,
        ipv4({
          src: "10.9.0.1",
          dst: "10.9.0.2",
          protocol: 6,
          payload: tcp({ sport: 50000 + i, dport: 80, flags: TCP_FLAGS.SYN }),
        }),
      ),
    }));
    const file = join(tmp.dir, "truncated.pcap");
    writeFileSync(file, Buffer.concat([benignCapture(12), pcapFile(syns).subarray(24)]));
    const flows = join(tmp.dir, "truncated.csv");
    assert.equal(cli(["network", "flows", file, "-o", flows, "-q"]).code, 0);
    const reasons = readFileSync(flows, "utf8")
      .trim()
      .split("\n")
      .slice(1)
      .map((l) => l.split(",")[9]);
    assert.equal(reasons.filter((r) => r === "cut").length, 5);
    const d = JSON.parse(cli(["network", "classify", "--model", model, file, "--json", "-q"]).stdout);
    assert.equal(d.cutExcluded, 5);
    assert.ok(d.predictions.every((p: { srcIp: string }) => p.srcIp !== "10.9.0.1"));
    const all = JSON.parse(
      cli(["network", "classify", "--model", model, file, "--json", "--include-cut", "-q"]).stdout,
    );
    assert.equal(all.cutExcluded, 0);
    assert.equal(all.predictions.length, d.predictions.length + 5);
    const text = cli(["network", "classify", "--model", model, file, "-q"]).stdout;
    assert.match(text, /5 connection attempt\(s\) cut short by the end of their capture not scored/);
  });

  test("issue 8: scoring a FlowMeter CSV with a model of other features advises what classify can do", () => {
    const fm = join(tmp.dir, "fm.csv");
    assert.equal(
      cli([
        "network",
        "flows",
        join(data, "benign", "b0.pcap"),
        "-o",
        fm,
        "--flowmeter-compat",
        "--port-names",
        ports,
        "-q",
      ]).code,
      0,
    );
    const r = cli(["network", "classify", "--model", model, fm, "-q"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--flowmeter-params/);
    assert.ok(!r.stderr.includes("use --features"), r.stderr); // classify has no --features option
  });
});
