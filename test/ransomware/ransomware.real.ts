import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { extractFeatures } from "../../src/ransomware/extract.ts";
import { DEFAULT_GRID_FILE, readGridConfig } from "../../src/ransomware/grid-config.ts";
import { readAuthorsLabels, readLabels } from "../../src/ransomware/labels.ts";
import { readFeatureTable } from "../../src/ransomware/table.ts";
import { attachLabels, trainRansomwareModel } from "../../src/ransomware/train.ts";
import { CLI_MAIN } from "../support/cli.ts";
import { tempDir } from "./helpers.ts";

/** Real data: the ebpfangel logs and the authors' feature table in ../shared/data/ransomware. */
const root = join(fileURLToPath(import.meta.url), "..", "..", "..");
const data = join(root, "..", "shared", "data", "ransomware");
const skip = existsSync(data) ? false : `shared data not found at ${data}`;
const logs = join(data, "logs");

describe("ransomware detector on the shared ebpfangel logs", { skip }, () => {
  test("reads every event and process of the 11 logs", async () => {
    const files = readdirSync(logs).map((f) => join(logs, f));
    const { summary } = await extractFeatures(files);
    assert.equal(summary.logs, 11);
    assert.equal(summary.events, 253842);
    assert.equal(summary.processes, 631);
    assert.equal(summary.skippedRows, 0);
  });

  test("leave-one-log-out cross-validation finds every ransomware process with few false alarms", async () => {
    const files = readdirSync(logs).map((f) => join(logs, f));
    const { rows } = await extractFeatures(files);
    const labelled = attachLabels(rows, await readLabels(join(data, "labels.csv")));
    assert.deepEqual(labelled.unmatchedLabels, []);
    const config = { ...(await readGridConfig(DEFAULT_GRID_FILE)), cv: "leave-one-log-out" as const };
    const { model } = await trainRansomwareModel(labelled, { config, inputs: [logs] });
    const m = model.crossValidation.metrics;
    assert.equal(model.crossValidation.folds, 11);
    assert.equal(m.recall, 1, `recall ${m.recall}`);
    assert.ok(m.precision >= 0.9, `precision ${m.precision}`);
  });

  test("the authors' table trains with their labels; absent schema columns are reported", async () => {
    const table = await readFeatureTable(join(data, "authors_training_features.csv"));
    assert.equal(table.format, "authors");
    assert.equal(table.rows.length, 1448);
    assert.ok(table.missingColumns.includes("N_files"));
    assert.deepEqual(table.ignoredColumns, []);
    const labelled = attachLabels(
      table.rows,
      await readAuthorsLabels(join(data, "authors_training_labels.csv")),
    );
    // 18 of their 32 labels point at no process (their log index is shifted for several logs).
    assert.equal(labelled.unmatchedLabels.length, 18);
    const config = await readGridConfig(DEFAULT_GRID_FILE);
    const { model } = await trainRansomwareModel(labelled, { config, inputs: [] });
    assert.equal(model.crossValidation.metrics.recall, 1);
  });
});

describe("threatlens ransomware CLI on real logs", { skip }, () => {
  const tmp = tempDir("threatlens-real-");
  after(tmp.cleanup);
  const cli = (args: string[]) =>
    spawnSync(process.execPath, [CLI_MAIN, ...args], {
      encoding: "utf8",
    });

  test("the authors' table through the CLI: cross-validated training, and evaluate reads it (with the overlap warning)", () => {
    const model = join(tmp.dir, "authors.json");
    const table = join(data, "authors_training_features.csv");
    const labels = join(data, "authors_training_labels.csv");
    let r = cli(["ransomware", "train", table, "--authors-labels", labels, "-o", model, "--json", "-q"]);
    assert.equal(r.status, 0, r.stderr);
    const trained = JSON.parse(r.stdout);
    assert.equal(trained.training.processes, 1448);
    assert.ok(trained.training.missingColumns.length > 0, "absent schema columns are reported");
    // The quality figure is the grouped cross-validation (no log on both sides), not a score on training data.
    const cv = trained.crossValidation.metrics;
    assert.equal(cv.confusion.tp + cv.confusion.fn, 14);
    assert.equal(cv.recall, 1);
    r = cli(["ransomware", "evaluate", "--model", model, table, "--authors-labels", labels, "--json", "-q"]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(
      r.stderr,
      /were among the model's training inputs/,
      "evaluating on training data is flagged",
    );
    const m = JSON.parse(r.stdout);
    assert.equal(m.processes, 1448);
    assert.equal(m.unmatchedLabels.length, 18);
  });

  test("train on some logs, evaluate and predict on held-out logs", () => {
    const heldOut = ["91_Avoslocker1.csv", "96_REvil1.csv", "93_Benign1.csv", "7_log3.csv"];
    const train = readdirSync(logs)
      .filter((f) => !heldOut.includes(f))
      .map((f) => join(logs, f));
    const model = join(tmp.dir, "model.json");
    let r = cli(["ransomware", "train", ...train, "--labels", join(data, "labels.csv"), "-o", model, "-q"]);
    assert.equal(r.status, 0, r.stderr);
    r = cli([
      "ransomware",
      "evaluate",
      "--model",
      model,
      ...heldOut.map((f) => join(logs, f)),
      "--labels",
      join(data, "labels.csv"),
      "--json",
      "--report",
      join(tmp.dir, "report"),
      "-q",
    ]);
    assert.equal(r.status, 0, r.stderr);
    const m = JSON.parse(r.stdout);
    assert.equal(m.processes, 36 + 201 + 65 + 32);
    assert.equal(m.confusion.tp + m.confusion.fn, 10);
    assert.equal(m.recall, 1, `held-out recall ${m.recall}`);
    assert.ok(m.precision >= 0.8, `held-out precision ${m.precision}`);
    r = cli(["ransomware", "predict", "--model", model, join(logs, "96_REvil1.csv"), "--json", "-q"]);
    assert.equal(r.status, 0, r.stderr);
    const flagged = JSON.parse(r.stdout).predictions.filter(
      (p: { label: string }) => p.label === "ransomware",
    );
    assert.ok(flagged.some((p: { pid: number }) => p.pid === 5068));
  });
});
