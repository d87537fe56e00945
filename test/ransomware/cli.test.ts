import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { runCli } from "../support/cli.ts";
import { tempDir } from "./helpers.ts";

/** End-to-end: the CLI as a user runs it, on simulated logs (no shared data needed). */

const cli = (args: string[]) => runCli(args);

const tmp = tempDir("threatlens-cli-");
after(tmp.cleanup);
const sim = join(tmp.dir, "sim");
const held = join(tmp.dir, "held");
const model = join(tmp.dir, "model.json");
const quickGrid = join(tmp.dir, "grid.json");

before(() => {
  writeFileSync(
    quickGrid,
    JSON.stringify({
      space: {
        kernel: ["rbf", "linear"],
        C: [1, 10],
        gamma: ["scale"],
        classWeight: [1, "balanced"],
        transform: ["log1p"],
      },
      folds: 3,
      cv: "grouped",
      selection: ["recall", "mcc"],
      seed: 3,
    }),
  );
  for (const [dir, seed] of [
    [sim, "11"],
    [held, "12"],
  ]) {
    const r = cli(["ransomware", "simulate", "-o", dir, "--seed", seed, "--logs", "4", "--scale", "0.3"]);
    assert.equal(r.code, 0, r.stderr);
  }
});

describe("threatlens ransomware (CLI, simulated logs)", () => {
  test("features writes log,pid then the fixed schema, one row per process", () => {
    const out = join(tmp.dir, "features.csv");
    const r = cli(["ransomware", "features", join(sim, "logs"), "-o", out, "-q"]);
    assert.equal(r.code, 0, r.stderr);
    const lines = readFileSync(out, "utf8").trim().split("\n");
    assert.ok(lines[0].startsWith("log,pid,first_ts,O_sum,O_max,"));
    assert.ok(lines.length > 20);
    const json = cli(["ransomware", "features", join(sim, "logs", "sim_11_0.csv"), "--json", "-q"]);
    const parsed = JSON.parse(json.stdout);
    assert.equal(parsed.summary.logs, 1);
    assert.equal(typeof parsed.processes[0].features.OCD, "number");
  });

  test("train, evaluate --json, predict --csv/--json", () => {
    const report = join(tmp.dir, "train-report");
    const t = cli([
      "ransomware",
      "train",
      join(sim, "logs"),
      "--labels",
      join(sim, "labels.csv"),
      "-o",
      model,
      "--config",
      quickGrid,
      "--report",
      report,
      "-q",
    ]);
    assert.equal(t.code, 0, t.stderr);
    assert.match(t.stdout, /cross-validated \(grouped, 3 folds\)/);
    assert.ok(existsSync(join(report, "report.html")));

    const evalReport = join(tmp.dir, "eval-report");
    const e = cli([
      "ransomware",
      "evaluate",
      "--model",
      model,
      join(held, "logs"),
      "--labels",
      join(held, "labels.csv"),
      "--report",
      evalReport,
      "--json",
      "-q",
    ]);
    assert.equal(e.code, 0, e.stderr);
    const metrics = JSON.parse(e.stdout);
    for (const key of ["recall", "precision", "f1", "mcc", "balancedAccuracy", "rocAuc", "prAuc"]) {
      assert.equal(typeof metrics[key], "number", key);
    }
    const { tp, fp, tn, fn } = metrics.confusion;
    assert.equal(tp + fp + tn + fn, metrics.processes);
    assert.ok(metrics.rocAuc > 0.8, `held-out ROC AUC ${metrics.rocAuc}`);
    for (const chart of ["confusion-matrix", "roc", "precision-recall"]) {
      assert.ok(
        existsSync(join(evalReport, `${chart}.png`)) && existsSync(join(evalReport, `${chart}.svg`)),
        chart,
      );
    }
    const html = readFileSync(join(evalReport, "report.html"), "utf8");
    assert.ok(html.includes("<svg") && !/src="https?:/.test(html));

    const csv = cli(["ransomware", "predict", "--model", model, join(held, "logs"), "--csv", "-q"]);
    assert.equal(csv.code, 0, csv.stderr);
    const rows = csv.stdout.trim().split("\n");
    assert.equal(rows[0], "log,pid,first_ts,label,score,final_score,events");
    assert.equal(rows.length - 1, metrics.processes);
    const json = JSON.parse(
      cli(["ransomware", "predict", "--model", model, join(held, "logs"), "--json", "-q"]).stdout,
    );
    assert.equal(json.predictions.length, metrics.processes);
    assert.equal(json.ransomware, tp + fp);
  });

  test("bad usage exits 2", () => {
    assert.equal(cli(["ransomware", "train", join(sim, "logs")]).code, 2, "missing -o");
    assert.equal(cli(["ransomware", "features", join(sim, "logs"), "--window-ms", "zero"]).code, 2);
    assert.equal(cli(["ransomware", "nonsense"]).code, 2);
    const noLabels = cli(["ransomware", "train", join(sim, "logs"), "-o", join(tmp.dir, "x.json"), "-q"]);
    assert.equal(noLabels.code, 2);
    assert.match(noLabels.stderr, /labels are required/);
  });

  test("a malformed row stops with file and line (exit 1); --skip-invalid counts it", () => {
    const bad = join(tmp.dir, "bad.csv");
    const good = readFileSync(join(sim, "logs", "sim_11_0.csv"), "utf8").split("\n");
    good.splice(5, 0, "123,45,9,0,0,0,0,0,0,/etc/x");
    writeFileSync(bad, good.join("\n"));
    const r = cli(["ransomware", "features", bad, "-q"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /bad\.csv:6: TYPE must be an integer from 0 to 3/);
    assert.doesNotMatch(r.stderr, /at .*\.ts:\d+/, "no stack trace");
    const skipped = cli(["ransomware", "features", bad, "--skip-invalid", "--json"]);
    assert.equal(skipped.code, 0, skipped.stderr);
    assert.equal(JSON.parse(skipped.stdout).summary.skippedRows, 1);
    assert.match(skipped.stderr, /skipped 1 invalid row/);
  });

  test("a corrupted or truncated model is refused with a clear message", () => {
    const text = readFileSync(model, "utf8");
    const truncated = join(tmp.dir, "truncated.json");
    writeFileSync(truncated, text.slice(0, text.length / 2));
    let r = cli(["ransomware", "predict", "--model", truncated, join(held, "logs"), "-q"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /truncated\.json: not a valid JSON model file/);
    const edited = join(tmp.dir, "edited.json");
    writeFileSync(edited, text.replace('"threshold":0', '"threshold":-5'));
    r = cli(["ransomware", "predict", "--model", edited, join(held, "logs"), "-q"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /checksum mismatch/);
  });

  test("--help on every command", () => {
    for (const cmd of ["features", "train", "evaluate", "predict", "simulate"]) {
      const r = cli(["ransomware", cmd, "--help"]);
      assert.equal(r.code, 0);
      assert.match(r.stdout, /Usage: threatlens ransomware/);
    }
  });

  test("--help marks required options", () => {
    const r = cli(["ransomware", "predict", "--help"]);
    assert.match(r.stdout, /--model <file> +model file from `ransomware train` \(required\)/);
    assert.doesNotMatch(r.stdout, /--csv .*\(required\)/);
  });

  test("contradictory output options are a usage error (exit 2)", () => {
    const r = cli(["ransomware", "predict", "--model", model, join(held, "logs"), "--csv", "--json"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /'--csv' cannot be used with option '--json'/);
  });

  test("-q silences progress but not warnings; --json of predict counts skipped rows", () => {
    const dir = join(tmp.dir, "with-junk");
    mkdirSync(dir, { recursive: true });
    const rows = readFileSync(join(held, "logs", "sim_12_0.csv"), "utf8").split("\n");
    rows.splice(4, 0, "oops,1,0,0,0,0,0,0,0,/x");
    writeFileSync(join(dir, "a.csv"), rows.join("\n"));
    writeFileSync(join(dir, "notes.csv"), "what,ever\n1,2\n");
    writeFileSync(join(dir, "junk.csv"), "TS,PID,TYPE,broken header\n1,2,3\n");
    const r = cli(["ransomware", "predict", "--model", model, dir, "--skip-invalid", "--json", "-q"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /warning: ignored 2 CSV file\(s\) in input directories .*notes\.csv/);
    assert.match(r.stderr, /warning: skipped 1 invalid row/);
    assert.doesNotMatch(r.stderr, /read \d+ events/, "progress is silenced");
    const out = JSON.parse(r.stdout);
    assert.equal(out.read.skippedRows, 1);
    assert.deepEqual(out.read.skippedFiles.map((f: string) => f.split("/").pop()).sort(), [
      "junk.csv",
      "notes.csv",
    ]);
    const strict = cli(["ransomware", "predict", "--model", model, dir, "-q"]);
    assert.equal(strict.code, 1, "without --skip-invalid the malformed row stops the run");
    assert.match(
      strict.stderr,
      /a\.csv:5: TS must be a non-negative integer.*\(use --skip-invalid to skip such rows\)/,
    );
  });

  test("evaluate warns when it is given the model's own training logs, and when labels name logs not given", () => {
    const labels = join(tmp.dir, "labels-extra.csv");
    writeFileSync(
      labels,
      `${readFileSync(join(sim, "labels.csv"), "utf8").trimEnd()}\nnot-an-input.csv,7,ransomware,test\n`,
    );
    const r = cli([
      "ransomware",
      "evaluate",
      "--model",
      model,
      join(sim, "logs"),
      "--labels",
      labels,
      "--importance-repeats",
      "0",
      "-q",
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      /warning: \d+ of the \d+ evaluated input file\(s\) were among the model's training inputs/,
    );
    assert.match(
      r.stderr,
      /warning: the labels name 1 log\(s\) that are not among the inputs.*not-an-input\.csv/,
    );
    const heldOut = cli([
      "ransomware",
      "evaluate",
      "--model",
      model,
      join(held, "logs"),
      "--labels",
      join(held, "labels.csv"),
      "--importance-repeats",
      "0",
      "-q",
    ]);
    assert.doesNotMatch(heldOut.stderr, /training inputs/);
  });
});
