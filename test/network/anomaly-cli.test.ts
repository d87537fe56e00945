import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { runCli } from "../support/cli.ts";
import { tempDir } from "./helpers/captures.ts";
import { benignCapture, maliciousCapture } from "./helpers/traffic.ts";

/**
 * The anomaly mode end to end, as a user runs it: `train --label benign` on benign captures only with the KitNET
 * config, then `classify`, `evaluate` and `watch` with the model file, on generated captures (complete TCP sessions
 * and DNS as normal traffic; SYN scans as attacks, which training never sees).
 */
const root = join(fileURLToPath(import.meta.url), "..", "..", "..");
const config = join(root, "config", "network-kitnet.json");

const cli = (args: string[]) => runCli(args);

const tmp = tempDir();
after(tmp.cleanup);
const data = join(tmp.dir, "pcaps");
const benignDir = join(data, "benign");
const manifest = join(data, "manifest.tsv");
const model = join(tmp.dir, "kitnet.json");
const heldOut = [join(data, "new", "b-new0.pcap"), join(data, "new", "b-new1.pcap")];
const scans = [join(data, "malicious", "m0.pcap"), join(data, "malicious", "m1.pcap")];

before(() => {
  mkdirSync(benignDir, { recursive: true });
  mkdirSync(join(data, "malicious"), { recursive: true });
  mkdirSync(join(data, "new"), { recursive: true });
  const lines = ["file\tlabel\tcategory"];
  for (let i = 0; i < 8; i++) {
    writeFileSync(join(benignDir, `b${i}.pcap`), benignCapture(300 + i));
    lines.push(`benign/b${i}.pcap\tbenign\tweb`);
  }
  heldOut.forEach((path, i) => {
    writeFileSync(path, benignCapture(400 + i));
    lines.push(`new/b-new${i}.pcap\tbenign\tweb`);
  });
  scans.forEach((path, i) => {
    writeFileSync(path, maliciousCapture(500 + i));
    lines.push(`malicious/m${i}.pcap\tmalicious\tportscan`);
  });
  writeFileSync(manifest, `${lines.join("\n")}\n`);
});

/** `network train` of the anomaly model on the benign captures alone. */
const trainBenign = ["network", "train", benignDir, "--label", "benign", "--config", config, "-o", model];

describe("threatlens network, anomaly mode (CLI, generated captures)", () => {
  test("train on benign captures only: calibration reported, model file written", () => {
    const r = cli([...trainBenign, "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.hyperparameters.model, "kitnet");
    assert.equal(out.training.malicious, 0);
    assert.equal(out.calibration.captures, 8);
    assert.equal(out.calibration.expected.flows, 96);
    assert.ok(out.calibration.rmseThreshold > 0);
    assert.match(r.stderr, /anomaly model \(KitNET\) on 96 benign flows from 8 captures/);
    assert.equal(JSON.parse(readFileSync(model, "utf8")).kind, "network-kitnet");
  });

  test("classify: scans are flagged, new benign captures mostly are not", () => {
    const r = cli(["network", "classify", "--model", model, ...scans, ...heldOut, "--json", "-q"]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.threshold, 0.5);
    const share = (path: string) => out.captures.find((c: { capture: string }) => c.capture === path).share;
    for (const path of scans) assert.ok(share(path) > 0.8, `${path}: ${share(path)}`);
    for (const path of heldOut) assert.ok(share(path) < 0.2, `${path}: ${share(path)}`);
  });

  test("evaluate reports pooled and per-capture ROC AUC on labelled captures", () => {
    const r = cli([
      "network",
      "evaluate",
      "--model",
      model,
      ...scans,
      ...heldOut,
      "--manifest",
      manifest,
      "--json",
      "-q",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const e = JSON.parse(r.stdout);
    assert.ok(e.rocAuc > 0.9, `pooled ${e.rocAuc}`);
    assert.ok(e.captureRocAuc > 0.9, `per capture ${e.captureRocAuc}`);
    assert.equal(e.model.importance, "none");
  });

  test("a manifest with malicious captures: only the benign ones are fitted, the others are scored out of fold", () => {
    const mixed = join(tmp.dir, "kitnet-mixed.json");
    const inputs = [benignDir, ...scans];
    const r = cli([
      "network",
      "train",
      ...inputs,
      "--manifest",
      manifest,
      "--config",
      config,
      "-o",
      mixed,
      "--report",
      join(tmp.dir, "report"),
      "--json",
      "-q",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.ok(out.training.malicious > 0);
    const html = readFileSync(out.report, "utf8");
    assert.match(html, /No grid search: the anomaly model is fitted on benign flows only/);
    assert.match(html, /KitNET score [\d.e-]+ \(flow score 0\.5\)/);
    assert.ok(out.crossValidation.metrics.captureRocAuc > 0.9, JSON.stringify(out.crossValidation.metrics));
    // The shipped model is fitted on the same benign flows as the benign-only one: the same network.
    const kitnet = (path: string) => JSON.parse(readFileSync(path, "utf8")).payload.kitnet;
    assert.deepEqual(kitnet(mixed), kitnet(model));
  });

  test("watch replays a scan with the anomaly model and raises an incident for the scanner", () => {
    const r = cli(["network", "watch", "--model", model, scans[0], "--stats", "0"]);
    assert.equal(r.code, 0, r.stderr);
    const alerts = r.stdout
      .trim()
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => JSON.parse(l));
    assert.ok(alerts.length >= 1, r.stdout);
    assert.match(alerts[0].entity, /^host 172\.16\./);
    assert.equal(alerts[0].threshold, 0.5);
  });

  test("bad usage: --threshold with the anomaly model, too few benign captures", () => {
    const t = cli([...trainBenign, "--threshold", "0.3"]);
    assert.equal(t.code, 2);
    assert.match(t.stderr, /--threshold does not apply to the anomaly model/);
    const few = cli([
      "network",
      "train",
      ...heldOut,
      "--label",
      "benign",
      "--config",
      config,
      "-o",
      join(tmp.dir, "x.json"),
    ]);
    assert.equal(few.code, 2);
    assert.match(few.stderr, /at least 5 benign captures/);
  });
});
