import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { checksumOf } from "../../src/core/artifact.ts";
import { ModelFileError, UsageError } from "../../src/core/errors.ts";
import { randomInt, randomNormal, seededRandom } from "../../src/core/random.ts";
import { outOfFoldAnomaly } from "../../src/network/anomaly.ts";
import { type FlowDataset, featureNamesOf, subsetFlows } from "../../src/network/dataset.ts";
import {
  exportFlowMeterParams,
  formatSaveTxt,
  loadFlowMeterParams,
} from "../../src/network/flowmeter/params.ts";
import {
  DEFAULT_NETWORK_GRID,
  KITNET_NETWORK_CONFIG,
  REFERENCE_NETWORK_GRID,
  readNetworkGrid,
} from "../../src/network/grid-config.ts";
import { labelInputs, parseManifest } from "../../src/network/labels/manifest.ts";
import { networkFlowModel } from "../../src/network/live/scorer.ts";
import {
  anomalyScore,
  blendScores,
  isGbdt,
  isKitnet,
  loadNetworkModel,
  modelScorer,
  type NetworkModel,
  parseNetworkModel,
  saveNetworkModel,
  thresholdScore,
} from "../../src/network/model.ts";
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

  test("the source column's first word names a capture's origin (cross-validation by source)", () => {
    const m = parseManifest(
      "file\tlabel\tsource\na.pcap\tbenign\tntop/nDPI (LGPL-3.0)\nb.pcap\tmalicious\t\n",
      "/d/m.tsv",
    );
    assert.deepEqual(
      [...m.entries.values()].map((e) => e.source),
      ["ntop/nDPI", ""],
    );
  });

  test("--label applies to every input, category = label", () => {
    const r = labelInputs(["a.pcap"], { label: "malicious" });
    assert.deepEqual(r.inputs, [{ path: "a.pcap", label: "malicious", category: "malicious", source: "" }]);
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
    // The default's anomaly part is the anomaly mode's KitNET, as its description says.
    const kitnet = await readNetworkGrid(KITNET_NETWORK_CONFIG);
    assert.ok(def.model === "gbdt" && kitnet.model === "kitnet");
    assert.deepEqual(def.anomaly, { params: kitnet.params, targetFpr: kitnet.targetFpr });
  });

  test("an invalid grid names the field", async () => {
    const file = tmp.write("bad-grid.json", Buffer.from(JSON.stringify({ space: { penalty: ["l3"] } })));
    await assert.rejects(readNetworkGrid(file), /invalid grid config at space\.penalty/);
  });

  test("the anomaly config is checked too: a misspelt setting is named", async () => {
    const good = JSON.parse(readFileSync(KITNET_NETWORK_CONFIG, "utf8"));
    const file = tmp.write(
      "bad-kitnet.json",
      Buffer.from(JSON.stringify({ ...good, params: { ...good.params, epoch: 3 } })),
    );
    await assert.rejects(readNetworkGrid(file), /invalid grid config at params: .*epoch/i);
    const fpr = tmp.write("bad-fpr.json", Buffer.from(JSON.stringify({ ...good, targetFpr: 1.5 })));
    await assert.rejects(readNetworkGrid(fpr), /invalid grid config at targetFpr/);
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
    sources: groups.map((g) => (Number(g.slice(7, -5)) < 6 ? "sourceA" : "sourceB")),
    inputs: [],
    ambiguous: [],
    nonFinite: 0,
    cutExcluded: 0,
    warnings: [],
    skipped: { unsupportedLink: 0, notIp: 0, truncated: 0, malformed: 0 },
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

/** Saves and loads `model`: the loaded model must give the same scores. */
async function assertRoundTrip(
  model: NetworkModel,
  path: string,
  rows: FlowDataset["rows"],
): Promise<NetworkModel> {
  await saveNetworkModel(path, model);
  const loaded = await loadNetworkModel(path);
  assert.deepEqual(modelScorer(loaded, path).probability(rows), modelScorer(model, "x").probability(rows));
  return loaded;
}

describe("model files", () => {
  test("save → load keeps the scores; a tampered or foreign file is refused", async () => {
    const data = syntheticData("all");
    const { model } = await trainNetworkModel(data, { config: quick, workers: 2, inputs: ["synthetic"] });
    assert.ok(model.crossValidation.metrics.rocAuc! > 0.9);
    assert.equal(model.training.captures, 12);
    const path = join(tmp.dir, "model.json");
    const loaded = await assertRoundTrip(model, path, data.rows);
    assert.ok(!isGbdt(loaded) && !isKitnet(loaded) && loaded.pipeline.logistic.converged);

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

  test("boosted trees: save → load keeps the scores; held-out and by-source estimates are reported", async () => {
    const data = syntheticData("all");
    const { model } = await trainNetworkModel(data, { config: gbdtQuick, workers: 2, inputs: ["synthetic"] });
    assert.ok(isGbdt(model));
    assert.ok(model.crossValidation.metrics.captureRocAuc! > 0.9);
    // Two candidates: the score that chose one is reported with an estimate the choice did not see.
    assert.ok(model.crossValidation.heldOut);
    const { bySource, perSource } = model.crossValidation;
    assert.ok(bySource && perSource);
    // Source by source: the same by-source scores, split.
    assert.deepEqual(
      perSource.map((s) => [s.source, s.captures]),
      [
        ["sourceA", 6],
        ["sourceB", 6],
      ],
    );
    for (const key of ["tp", "fp", "tn", "fn"] as const) {
      assert.equal(
        perSource.reduce((a, s) => a + s.metrics.confusion[key], 0),
        bySource.confusion[key],
      );
    }
    await assertRoundTrip(model, join(tmp.dir, "gbdt.json"), data.rows);
    await assert.rejects(
      exportFlowMeterParams(model, join(tmp.dir, "nope-gbdt")),
      (e) => e instanceof UsageError && /boosted trees/.test(e.message),
    );
  });

  test("boosted trees with an anomaly part: every score is the mean of the trees' and the anomaly part's", async () => {
    const data = syntheticData("all");
    const y = data.y!;
    // One candidate: the blend is what is tested, not the search.
    const oneCandidate = { ...gbdtQuick, space: { ...gbdtQuick.space, weighting: ["flows" as const] } };
    const config = { ...oneCandidate, anomaly: { params: kitnetQuick.params, targetFpr: 0.02 } };
    const { model, results, best, folds } = await trainNetworkModel(data, {
      config,
      workers: 2,
      inputs: ["synthetic"],
    });
    assert.ok(isGbdt(model) && model.anomaly !== undefined);
    assert.equal(model.anomaly.calibration.expected.flows, 240);
    // Cross-validation blends the trees' out-of-fold scores with a part fitted and calibrated without the fold.
    const trees = await trainNetworkModel(data, { config: oneCandidate, workers: 2, inputs: ["synthetic"] });
    const { scores: anomaly, neutral } = outOfFoldAnomaly(data, y, folds, {
      ...kitnetQuick,
      targetFpr: 0.02,
    });
    assert.equal(neutral, 0);
    // A fold whose training side holds no benign capture is scored 0.5 by the part: the trees alone decide.
    const malicious = [...y.keys()].filter((i) => y[i] === 1);
    const benign = [...y.keys()].filter((i) => y[i] === 0);
    const lopsided = outOfFoldAnomaly(data, y, [{ train: malicious, test: benign }], {
      ...kitnetQuick,
      targetFpr: 0.02,
    });
    assert.equal(lopsided.neutral, 1);
    assert.ok(benign.every((i) => lopsided.scores[i] === 0.5));
    const expected = trees.results[best].probability.map((p, i) => blendScores(p, anomaly[i]));
    assert.deepEqual(results[best].probability, expected);
    assert.ok(model.crossValidation.bySource);
    // The shipped scores: the same blend, batch and live.
    const treesOnly = modelScorer({ ...model, anomaly: undefined }, "trees").probability(data.rows);
    const part = anomalyScore(model.anomaly);
    const batch = modelScorer(model, "blend").probability(data.rows);
    const live = networkFlowModel(model);
    data.rows.forEach((row, i) => {
      assert.equal(batch[i], blendScores(treesOnly[i], part(row)));
      assert.equal(live.score(row), batch[i]);
    });
    // Priorities on the blended scale, which tops out below 1 unless both parts are sure.
    assert.deepEqual(
      [0.5, 0.74, 0.75, 0.89, 0.9, 0.95].map((s) => live.priority(s)),
      ["warning", "warning", "error", "error", "critical", "critical"],
    );
    // Only benign flows fit the anomaly part.
    const altered = { ...data, rows: data.rows.map((r, i) => (y[i] === 1 ? r.map((v) => v * 7) : r)) };
    const again = await trainNetworkModel(altered, { config, workers: 2, inputs: ["synthetic"] });
    assert.ok(isGbdt(again.model));
    assert.deepEqual(again.model.anomaly?.kitnet, model.anomaly.kitnet);

    // Too few benign captures to calibrate the part on captures it did not see: the trees alone, said so.
    const warnings: string[] = [];
    const fewBenign = subsetFlows(
      data,
      [...y.keys()].filter((i) => y[i] === 1 || ["capture0.pcap", "capture2.pcap"].includes(data.groups[i])),
    );
    const alone = await trainNetworkModel(fewBenign, {
      config,
      workers: 2,
      inputs: ["synthetic"],
      onWarning: (m) => warnings.push(m),
    });
    assert.ok(isGbdt(alone.model) && alone.model.anomaly === undefined);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /anomaly part is left out: .*at least 3 benign captures, the inputs have 2/);

    const path = join(tmp.dir, "blend.json");
    await assertRoundTrip(model, path, data.rows);
    const envelope = JSON.parse(readFileSync(path, "utf8"));
    envelope.payload.anomaly.calibration.targetFpr = 0.03;
    envelope.checksum = checksumOf(envelope.payload);
    assert.throws(
      () => parseNetworkModel(JSON.stringify(envelope), path),
      (e) =>
        e instanceof ModelFileError &&
        /anomaly\.calibration\.targetFpr differs from anomaly\.hyperparameters\.targetFpr/.test(e.message),
    );
  });

  test("anomaly model: fitted on benign flows only, threshold calibrated on held-out benign captures", async () => {
    // Benign flows are independent noise (nothing for an autoencoder to learn beyond the ranges); malicious ones
    // are 100 times larger in ten features, as a flood's rates are.
    const base = syntheticData("all");
    const data = {
      ...base,
      rows: base.rows.map((r, i) => (base.y![i] === 1 ? r.map((v, j) => (j < 10 ? v * 100 : v)) : r)),
    };
    const { model, results } = await trainNetworkModel(data, {
      config: kitnetQuick,
      inputs: ["synthetic"],
    });
    assert.ok(isKitnet(model));
    assert.equal(model.threshold, 0.5);
    // Scored out of fold, the malicious flows rank above the benign ones.
    assert.ok(
      model.crossValidation.metrics.captureRocAuc! > 0.95,
      `${model.crossValidation.metrics.captureRocAuc}`,
    );
    const c = model.calibration;
    assert.equal(c.expected.flows, 240);
    assert.equal(c.captures, 6);
    assert.ok(
      c.expected.rate <= 0.05 && c.expected.lower <= c.expected.rate && c.expected.rate <= c.expected.upper,
    );
    // The stated rate is what the out-of-fold benign scores give at the threshold.
    const benignScores = [...results[0].probability].filter((_, i) => data.y![i] === 0);
    assert.equal(benignScores.filter((p) => p >= 0.5).length, c.expected.flagged);

    // Malicious flows are never fitted on: changing them leaves the model as it was.
    const altered = { ...data, rows: data.rows.map((r, i) => (data.y![i] === 1 ? r.map((v) => v * 7) : r)) };
    const again = await trainNetworkModel(altered, { config: kitnetQuick, inputs: ["synthetic"] });
    assert.ok(isKitnet(again.model));
    assert.deepEqual(again.model.kitnet, model.kitnet);

    await assertRoundTrip(model, join(tmp.dir, "kitnet.json"), data.rows);
    await assert.rejects(
      exportFlowMeterParams(model, join(tmp.dir, "nope-kitnet")),
      (e) => e instanceof UsageError && /KitNET/.test(e.message),
    );
  });

  test("anomaly score: at or above the calibrated KitNET threshold exactly when the flow score is ≥ 0.5", () => {
    const random = seededRandom(5);
    for (let trial = 0; trial < 2000; trial++) {
      const t = 10 ** (6 * random() - 3);
      // Around the threshold, where r / (r + t) rounds to 0.5 on either side.
      const r = trial % 2 === 0 ? t * (1 + (random() - 0.5) * 1e-14) : t * 10 ** (4 * random() - 2);
      const s = thresholdScore(r, t);
      assert.equal(s >= 0.5, r >= t, `r ${r}, t ${t}, score ${s}`);
      assert.ok(s > 0 && s < 1);
    }
    assert.equal(thresholdScore(Number.POSITIVE_INFINITY, 1), 1);
    assert.ok(thresholdScore(2, 1) < thresholdScore(3, 1));
  });

  test("anomaly model: no benign input, too few benign captures or --threshold are refused with the reason", async () => {
    const data = syntheticData("all");
    const malicious = { ...data, y: data.y!.map(() => 1) };
    await assert.rejects(
      trainNetworkModel(malicious, { config: kitnetQuick, inputs: ["s"] }),
      /no input is labelled benign/,
    );
    await assert.rejects(
      trainNetworkModel(data, { config: { ...kitnetQuick, folds: 7 }, inputs: ["s"] }),
      (e) => e instanceof UsageError && /at least 7 benign captures.*--cv stratified/.test(e.message),
    );
    await assert.rejects(
      trainNetworkModel(data, { config: kitnetQuick, threshold: 0.3, inputs: ["s"] }),
      (e) => e instanceof UsageError && /--threshold does not apply/.test(e.message),
    );
    const config = await readNetworkGrid(KITNET_NETWORK_CONFIG);
    assert.equal(config.model, "kitnet");
  });

  test("fuzz: random damage to a model file gives a working model or a ModelFileError, nothing else", async () => {
    const data = syntheticData("all");
    const models: NetworkModel[] = [
      (await trainNetworkModel(data, { config: quick, workers: 2, inputs: ["s"] })).model,
      (
        await trainNetworkModel(data, {
          config: { ...gbdtQuick, space: { ...gbdtQuick.space, weighting: ["flows" as const] } },
          workers: 2,
          inputs: ["s"],
        })
      ).model,
      (await trainNetworkModel(data, { config: kitnetQuick, inputs: ["s"] })).model,
      (
        await trainNetworkModel(data, {
          config: {
            ...gbdtQuick,
            space: { ...gbdtQuick.space, weighting: ["flows" as const] },
            anomaly: { params: kitnetQuick.params, targetFpr: 0.02 },
          },
          workers: 2,
          inputs: ["s"],
        })
      ).model,
    ];
    const texts = [];
    for (const [i, m] of models.entries()) {
      await saveNetworkModel(join(tmp.dir, `fuzz${i}.json`), m);
      texts.push(readFileSync(join(tmp.dir, `fuzz${i}.json`), "utf8"));
    }
    const random = seededRandom(21);
    const junk = [null, "x", -1, 0, 1e308, [], {}, true, 2.5, [Number.NaN], "gbdt", [0, 1]];
    let rejected = 0;
    const trials = 600;
    for (let trial = 0; trial < trials; trial++) {
      const envelope = JSON.parse(texts[trial % texts.length]);
      let text: string;
      if (trial % 5 === 4) {
        // Damage to the bytes themselves: truncated or a byte changed (the checksum or JSON catches it).
        const t = texts[trial % texts.length];
        const at = randomInt(random, t.length);
        text =
          random() < 0.5
            ? t.slice(0, at)
            : t.slice(0, at) + String.fromCharCode(33 + randomInt(random, 90)) + t.slice(at + 1);
      } else {
        // Damage inside the payload with a valid checksum, so that validation past the checksum is what is tested.
        let parent: Record<string | number, unknown> = envelope.payload;
        let key: string | number = "";
        for (let depth = 0; depth < 6; depth++) {
          const keys: (string | number)[] = Array.isArray(parent) ? [...parent.keys()] : Object.keys(parent);
          if (keys.length === 0) break;
          key = keys[randomInt(random, keys.length)];
          const child = parent[key];
          if (typeof child !== "object" || child === null || random() < 0.25) break;
          parent = child as Record<string | number, unknown>;
        }
        const action = randomInt(random, 3);
        if (action === 0) parent[key] = junk[randomInt(random, junk.length)];
        else if (action === 1) delete parent[key];
        else if (Array.isArray(parent[key])) (parent[key] as unknown[]).length = randomInt(random, 3);
        else parent[key] = junk[randomInt(random, junk.length)];
        envelope.checksum = checksumOf(envelope.payload);
        text = JSON.stringify(envelope);
      }
      try {
        const model = parseNetworkModel(text, "fuzz.json");
        const p = modelScorer(model, "fuzz.json").probability(data.rows.slice(0, 5));
        for (const v of p) assert.ok(v >= 0 && v <= 1, `trial ${trial}: accepted model gives ${v}`);
      } catch (error) {
        assert.ok(error instanceof ModelFileError, `trial ${trial}: ${(error as Error).stack}`);
        rejected++;
      }
    }
    assert.ok(rejected > trials / 2, `only ${rejected} of ${trials} damaged models rejected`);
  });
});

const kitnetQuick = {
  model: "kitnet" as const,
  params: {
    maxClusterSize: 10,
    hiddenRatio: 0.75,
    minRange: 1,
    learningRate: 0.1,
    epochs: 5,
    transform: "log1p" as const,
  },
  targetFpr: 0.02,
  folds: 3,
  cv: "grouped" as const,
  seed: 1,
  maxFlowsPerCapture: null,
};

const gbdtQuick = {
  model: "gbdt" as const,
  space: {
    iterations: [20],
    learningRate: [0.2],
    maxLeafNodes: [4],
    minSamplesLeaf: [10],
    l2: [1],
    weighting: ["flows" as const, "captures" as const],
  },
  folds: 3,
  cv: "grouped" as const,
  selection: ["captureRocAuc" as const],
  seed: 1,
  maxFlowsPerCapture: null,
};
