import assert from "node:assert/strict";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { createProgress } from "../../src/core/progress.ts";
import { classifyCommand, evaluateCommand, exportCommand, trainCommand } from "../../src/network/pipeline.ts";
import { tempDir } from "./helpers/captures.ts";

/** The detector on the shared captures: grouped cross-validation, evaluate/classify/export on real files. */
const shared = join(fileURLToPath(import.meta.url), "..", "..", "..", "..", "shared", "data");
const pcaps = join(shared, "pcaps");
const manifest = join(pcaps, "manifest.tsv");
const present = existsSync(manifest);
const skip = present ? false : `${shared} is absent: the real-data tests need the shared captures`;
const quiet = createProgress({ quiet: true });
const tmp = tempDir();
after(tmp.cleanup);

describe("network detector on the shared captures", { skip }, () => {
  const grid = join(tmp.dir, "grid.json");
  const model = join(tmp.dir, "model.json");
  const fmModel = join(tmp.dir, "fm-model.json");

  test("grouped-by-capture CV clears a sane floor, pooled and per capture", async () => {
    writeFileSync(
      grid,
      JSON.stringify({
        space: {
          penalty: ["l2"],
          C: [0.003],
          classWeight: ["balanced"],
          fitIntercept: [true],
          transform: ["log1p", "none"],
        },
        folds: 5,
        cv: "grouped",
        selection: ["captureRocAuc", "rocAuc"],
        seed: 7,
        maxFlowsPerCapture: 2000,
      }),
    );
    const { model: m } = await trainCommand([pcaps], { output: model, manifest, config: grid }, quiet);
    const cv = m.crossValidation.metrics;
    assert.equal(m.training.ambiguousExcluded.length, 12);
    assert.ok(m.training.flows < m.training.flowsBeforeCap);
    assert.ok(cv.rocAuc! > 0.85, `pooled ROC AUC ${cv.rocAuc}`);
    assert.ok(cv.captureRocAuc! > 0.6, `per-capture ROC AUC ${cv.captureRocAuc}`);
  });

  test("evaluate and classify real captures with the trained model", async () => {
    const files = [
      join(pcaps, "benign", "chrissanders__ppa1e__http.pcap"),
      join(pcaps, "malicious", "chrissanders__ppa2e__synscan.pcap"),
    ];
    const { evaluation } = await evaluateCommand(files, { model, manifest }, quiet);
    assert.equal(evaluation.captures, 2);
    assert.ok(evaluation.perCapture.find((c) => c.label === "malicious")!.flaggedShare > 0.9);
    const { summary, predictions } = await classifyCommand([files[1]], { model }, quiet);
    assert.equal(summary[0].flows, predictions.length);
  });

  test("FlowMeter features: export, re-import, and FlowMeter's shipped parameters on its webgoat CSV", async () => {
    writeFileSync(
      grid,
      JSON.stringify({
        space: {
          penalty: ["l2"],
          C: [0.1],
          classWeight: ["balanced"],
          fitIntercept: [true],
          transform: ["none"],
        },
        folds: 5,
        cv: "grouped",
        selection: ["captureRocAuc"],
        seed: 7,
        maxFlowsPerCapture: 500,
      }),
    );
    await trainCommand([pcaps], { output: fmModel, manifest, config: grid, features: "flowmeter" }, quiet);
    const dir = join(tmp.dir, "params");
    await exportCommand(fmModel, dir);
    const file = [join(pcaps, "malicious", "chrissanders__ppa2e__synscan.pcap")];
    const a = await classifyCommand(file, { model: fmModel }, quiet);
    const b = await classifyCommand(file, { flowmeterParams: dir }, quiet);
    assert.deepEqual(
      b.predictions.map((p) => p.probability),
      a.predictions.map((p) => p.probability),
    );
    const webgoat = join(shared, "flowmeter", "webgoat_flow_stats.csv");
    const { evaluation } = await evaluateCommand(
      [webgoat],
      { flowmeterParams: join(shared, "flowmeter", "parameters"), label: "malicious" },
      quiet,
    );
    assert.equal(evaluation.flows, 249);
    assert.equal(evaluation.model.flowSource, "flowmeter");
    // FlowMeter's model was trained on this very CSV: it flags most of it.
    assert.ok(evaluation.recall > 0.5, `recall ${evaluation.recall}`);
  });
});
