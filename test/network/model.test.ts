import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { ModelFileError, UsageError } from "../../src/core/errors.ts";
import { randomNormal, seededRandom } from "../../src/core/random.ts";
import { type FlowDataset, featureNamesOf } from "../../src/network/dataset.ts";
import {
  exportFlowMeterParams,
  formatSaveTxt,
  loadFlowMeterParams,
} from "../../src/network/flowmeter/params.ts";
import {
  DEFAULT_NETWORK_GRID,
  REFERENCE_NETWORK_GRID,
  readNetworkGrid,
} from "../../src/network/grid-config.ts";
import { labelInputs, parseManifest } from "../../src/network/labels/manifest.ts";
import { loadNetworkModel, modelScorer, saveNetworkModel } from "../../src/network/model.ts";
import { gridCandidates, trainNetworkModel } from "../../src/network/train.ts";
import { tempDir } from "./helpers/captures.ts";

const tmp = tempDir();
after(tmp.cleanup);

describe("manifest", () => {
  const text =
    "file\tlabel\tcategory\nb/one.pcap\tbenign\tdns\nm/two.pcap\tmalicious\tportscan\nx.pcap\tambiguous\t\n";
  test("resolves files against the manifest's directory; ambiguous inputs are set apart", () => {
    const m = parseManifest(text, "/data/pcaps/manifest.tsv");
    const r = labelInputs(["/data/pcaps/b/one.pcap", "/data/pcaps/m/two.pcap", "/data/pcaps/x.pcap"], {
      manifest: m,
    });
    assert.deepEqual(
      r.inputs.map((i) => [i.label, i.category]),
      [
        ["benign", "dns"],
        ["malicious", "portscan"],
      ],
    );
    assert.deepEqual(r.ambiguous, ["/data/pcaps/x.pcap"]);
  });

  test("an input missing from the manifest is an error naming it", () => {
    const m = parseManifest(text, "/data/pcaps/manifest.tsv");
    assert.throws(
      () => labelInputs(["/elsewhere/one.pcap"], { manifest: m }),
      /\/elsewhere\/one\.pcap is not in the manifest/,
    );
  });

  test("bad labels, duplicates and missing columns give the line", () => {
    assert.throws(() => parseManifest("file\tlabel\na.pcap\tevil\n", "m.tsv"), /m\.tsv:2: label "evil"/);
    assert.throws(
      () => parseManifest("file\tlabel\na.pcap\tbenign\na.pcap\tbenign\n", "m.tsv"),
      /m\.tsv:3: .*listed twice/,
    );
    assert.throws(
      () => parseManifest("name\tlabel\na.pcap\tbenign\n", "m.tsv"),
      /m\.tsv:1: .*"file" and "label"/,
    );
  });

  test("--label applies to every input, category = label", () => {
    const r = labelInputs(["a.pcap"], { label: "malicious" });
    assert.deepEqual(r.inputs, [{ path: "a.pcap", label: "malicious", category: "malicious" }]);
  });
});

describe("grid configs", () => {
  test("the reference grid has FlowMeter's 120 settings and the default is small", async () => {
    const reference = await readNetworkGrid(REFERENCE_NETWORK_GRID);
    assert.equal(gridCandidates(reference).length, 120);
    assert.equal(reference.folds, 10);
    assert.deepEqual(reference.selection, ["rocAuc"]);
    const def = await readNetworkGrid(DEFAULT_NETWORK_GRID);
    assert.equal(def.cv, "grouped");
    assert.ok(gridCandidates(def).length <= 24);
  });

  test("an invalid grid names the field", async () => {
    const file = tmp.write("bad-grid.json", Buffer.from(JSON.stringify({ space: { penalty: ["l3"] } })));
    await assert.rejects(readNetworkGrid(file), /invalid grid config at space\.penalty/);
  });
});

test("formatSaveTxt writes numpy's %.18e", () => {
  assert.equal(formatSaveTxt(57482718140.70246), "5.748271814070246124e+10");
  assert.equal(formatSaveTxt(Number("-4.573034944550863345e-01")), "-4.573034944550863345e-01");
  assert.equal(formatSaveTxt(0), "0.000000000000000000e+00");
  assert.equal(formatSaveTxt(Number("3.854161791382788326e-08")), "3.854161791382788326e-08");
  assert.equal(formatSaveTxt(1e100), "1.000000000000000016e+100");
});

/** A labelled dataset with a linear signal, 6 captures per class. */
function syntheticData(featureSet: "all" | "flowmeter"): FlowDataset {
  const names = featureNamesOf(featureSet);
  const random = seededRandom(3);
  const rows: Float64Array[] = [];
  const y: number[] = [];
  const groups: string[] = [];
  for (let c = 0; c < 12; c++) {
    const label = c % 2;
    for (let i = 0; i < 40; i++) {
      const row = new Float64Array(names.length);
      for (let j = 0; j < row.length; j++)
        row[j] = Math.abs(randomNormal(random) * 10 + (j < 3 ? label * 30 : 0));
      rows.push(row);
      y.push(label);
      groups.push(`capture${c}.pcap`);
    }
  }
  return {
    featureSet,
    featureNames: names,
    rows,
    meta: groups.map((capture) => ({
      capture,
      srcIp: "",
      srcPort: "",
      dstIp: "",
      dstPort: "",
      protocol: "",
      startTime: "",
    })),
    groups,
    y: Uint8Array.from(y),
    categories: y.map((v) => (v ? "attack" : "normal")),
    inputs: [],
    ambiguous: [],
    nonFinite: 0,
    warnings: [],
  };
}

const quick = {
  space: {
    penalty: ["l1", "l2"] as ("l1" | "l2")[],
    C: [0.1, 1],
    classWeight: ["balanced" as const],
    fitIntercept: [true],
    transform: ["none" as const],
  },
  folds: 3,
  cv: "grouped" as const,
  selection: ["captureRocAuc" as const],
  seed: 1,
  maxFlowsPerCapture: null,
};

describe("model files", () => {
  test("save → load keeps the scores; a tampered or foreign file is refused", async () => {
    const data = syntheticData("all");
    const { model } = await trainNetworkModel(data, { config: quick, workers: 2, inputs: ["synthetic"] });
    assert.ok(model.crossValidation.metrics.rocAuc! > 0.9);
    assert.equal(model.training.captures, 12);
    const path = join(tmp.dir, "model.json");
    await saveNetworkModel(path, model);
    const loaded = await loadNetworkModel(path);
    assert.deepEqual(
      modelScorer(loaded, path).probability(data.rows),
      modelScorer(model, "x").probability(data.rows),
    );
    assert.ok(loaded.pipeline.logistic.converged);

    const text = readFileSync(path, "utf8");
    const tampered = join(tmp.dir, "tampered.json");
    writeFileSync(tampered, text.replace(/"threshold":0\.5/, '"threshold":0.4'));
    await assert.rejects(
      loadNetworkModel(tampered),
      (e) => e instanceof ModelFileError && /checksum/.test(e.message),
    );

    await assert.rejects(loadNetworkModel(join(tmp.dir, "missing.json")), ModelFileError);
    await assert.rejects(
      exportFlowMeterParams(model, join(tmp.dir, "nope")),
      (e) => e instanceof UsageError && /--features flowmeter/.test(e.message),
    );
  });

  test("FlowMeter parameters: export → import gives the same probabilities", async () => {
    const data = syntheticData("flowmeter");
    const { model } = await trainNetworkModel(data, { config: quick, workers: 1, inputs: ["synthetic"] });
    const dir = join(tmp.dir, "params");
    await exportFlowMeterParams(model, dir);
    const lines = readFileSync(join(dir, "weights.txt"), "utf8").trimEnd().split("\n");
    assert.equal(lines.length, 39);
    assert.match(lines[0], /^-?\d\.\d{18}e[+-]\d{2,3}$/);
    const imported = await loadFlowMeterParams(dir);
    assert.equal(imported.flowSource, "threatlens");
    assert.deepEqual(imported.probability(data.rows), modelScorer(model, "m").probability(data.rows));

    writeFileSync(join(dir, "std.txt"), "1\n".repeat(38));
    await assert.rejects(loadFlowMeterParams(dir), /std\.txt: has 38 values, expected 39/);
    writeFileSync(join(dir, "std.txt"), `${"1\n".repeat(20)}abc\n${"1\n".repeat(18)}`);
    await assert.rejects(loadFlowMeterParams(dir), /std\.txt:21: "abc" is not a finite number/);
  });
});
