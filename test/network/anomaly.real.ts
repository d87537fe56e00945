import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { createProgress } from "../../src/core/progress.ts";
import { KITNET_NETWORK_CONFIG } from "../../src/network/grid-config.ts";
import { isKitnet } from "../../src/network/model.ts";
import { evaluateCommand, trainCommand } from "../../src/network/pipeline.ts";
import { tempDir } from "./helpers/captures.ts";

/**
 * The anomaly mode on a source it never saw: KitNET fitted on the benign nDPI captures only (with the shipped
 * config), evaluated on every labelled chrissanders capture. Measured when written (seed 7): per-capture ROC AUC
 * 0.655, pooled 0.944, 0.09 % of the flows of the unseen benign captures flagged (target 1 %; bench:network-anomaly's
 * chrissanders fold, calibrated on other folds, flagged up to 3.3 %), 18.6 % of the malicious captures' flows. The
 * floors are under those, with room for another seed.
 */
const shared = join(fileURLToPath(import.meta.url), "..", "..", "..", "..", "shared", "data");
const pcaps = join(shared, "pcaps");
const manifest = join(pcaps, "manifest.tsv");
const present = existsSync(manifest);
const skip = present ? false : `${shared} is absent: the real-data tests need the shared captures`;
const quiet = createProgress({ quiet: true });
const tmp = tempDir();
after(tmp.cleanup);

function capturesOf(source: string, label?: string): string[] {
  const [header, ...rows] = readFileSync(manifest, "utf8").trimEnd().split("\n");
  const col = header.split("\t");
  return rows
    .map((r) => r.split("\t"))
    .filter((c) => c[col.indexOf("label")] !== "ambiguous")
    .filter((c) => label === undefined || c[col.indexOf("label")] === label)
    .filter((c) => c[col.indexOf("source")].startsWith(source))
    .map((c) => join(pcaps, c[col.indexOf("file")]));
}

describe("anomaly mode on the shared captures", { skip }, () => {
  test("fitted on nDPI's benign captures, it ranks chrissanders' attacks above its benign traffic", async () => {
    const model = join(tmp.dir, "kitnet.json");
    const { model: m } = await trainCommand(
      capturesOf("ntop/nDPI", "benign"),
      { output: model, label: "benign", config: KITNET_NETWORK_CONFIG },
      quiet,
    );
    assert.ok(isKitnet(m));
    assert.equal(m.calibration.captures, 64);
    const held = capturesOf("chrissanders/packets");
    const { evaluation: e } = await evaluateCommand(held, { model, manifest }, quiet);
    // Every capture but one: a 16 ms SYN flood holds only connection attempts cut short by its end (not scored).
    assert.equal(e.captures, held.length - 1);
    assert.ok(e.captureRocAuc! > 0.6, `per-capture ROC AUC ${e.captureRocAuc}`);
    assert.ok(e.rocAuc! > 0.9, `pooled ROC AUC ${e.rocAuc}`);
    // The threshold was set at 1 % of held-out nDPI benign flows; on another source's benign captures it stays low.
    assert.ok(e.captureFpr! < 0.05, `mean share flagged in benign captures ${e.captureFpr}`);
    assert.ok(e.captureRecall! > 0.1, `mean share flagged in malicious captures ${e.captureRecall}`);
  });
});
