import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { type SyntheticData, TINY_CONFIG, writeSyntheticTraces } from "./synthetic.ts";

/** End-to-end: `threatlens syscalls …` as a user runs it, on generated traces with a 2-epoch tiny model. */
const root = join(fileURLToPath(import.meta.url), "..", "..", "..");
const main = join(root, "src", "cli", "main.ts");

function cli(args: string[]) {
  const r = spawnSync(process.execPath, ["--import", "tsx", main, "syscalls", ...args], {
    cwd: root,
    encoding: "utf8",
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const tmp = mkdtempSync(join(tmpdir(), "threatlens-syscalls-cli-"));
after(() => rmSync(tmp, { recursive: true, force: true }));
const model = join(tmp, "model");
const config = join(tmp, "tiny.json");
let data: SyntheticData;

before(async () => {
  data = await writeSyntheticTraces(join(tmp, "traces"), 17);
  writeFileSync(config, JSON.stringify(TINY_CONFIG));
  const r = cli(["train", data.train, "-o", model, "--config", config, "--target-fpr", "0.1"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /model written to/);
  assert.match(r.stderr, /epoch 1\/2: training loss [\d.]+, held-out loss [\d.]+/);
});

describe("threatlens syscalls (CLI, generated traces)", () => {
  test("train writes a model directory with versioned metadata and weights", () => {
    const meta = JSON.parse(readFileSync(join(model, "model.json"), "utf8"));
    assert.equal(meta.kind, "syscall-autoencoder");
    assert.equal(meta.version, 1);
    const m = meta.payload.model;
    assert.equal(m.targetFpr, 0.1);
    assert.equal(m.config.windowLength, TINY_CONFIG.windowLength);
    assert.ok(m.vocabulary.names.includes("poll"));
    assert.equal(m.training.epochs, 2);
    assert.equal(meta.payload.binary.byteLength, readFileSync(join(model, "weights.bin")).length);
  });

  test("evaluate --json: AUCs, detection at 1 %/5 % FPR, threshold, per attack type; --report writes charts", () => {
    const report = join(tmp, "eval-report");
    const r = cli([
      "evaluate",
      "--model",
      model,
      "--normal",
      data.validation,
      "--attack",
      data.attack,
      "--json",
      "--report",
      report,
      "-q",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const e = JSON.parse(r.stdout);
    assert.ok(e.rocAuc > 0.9, `ROC AUC ${e.rocAuc}`);
    assert.ok(e.prAuc > 0.8);
    assert.deepEqual(Object.keys(e.detectionRateAtFpr), ["0.01", "0.05"]);
    assert.equal(typeof e.threshold, "number");
    assert.equal(typeof e.fprAtThreshold, "number");
    assert.deepEqual(Object.keys(e.perAttackType), ["Adduser", "Shell"]);
    assert.equal(e.perAttackType.Shell.traces, 6);
    for (const chart of ["roc", "precision-recall", "score-histogram", "detection-per-attack-type"]) {
      assert.ok(existsSync(join(report, "charts", `${chart}.png`)), chart);
      assert.ok(existsSync(join(report, "charts", `${chart}.svg`)), chart);
    }
    assert.match(readFileSync(join(report, "report.html"), "utf8"), /<svg/);
  });

  test("score --json: score, verdict and the most anomalous window per trace, strace logs included", () => {
    const attackFile = join(data.attack, "Attack_Data_Master", "Shell_1", "a0.txt");
    const strace = join(root, "test", "syscalls", "fixtures", "strace", "f-o-tt.strace");
    const r = cli(["score", "--model", model, attackFile, data.validation, strace, "--json", "-q"]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    const traces = out.traces as {
      trace: string;
      score: number;
      verdict: string;
      mostAnomalousWindow: { position: number; syscalls: string[] };
    }[];
    assert.equal(traces.length, 1 + 30 + 3);
    const attack = traces.find((t) => t.trace === "a0.txt")!;
    assert.equal(attack.verdict, "anomalous");
    const names = readFileSync(attackFile, "utf8").trim().split(" ");
    const w = attack.mostAnomalousWindow;
    assert.deepEqual(w.syscalls, names.slice(w.position, w.position + TINY_CONFIG.windowLength));
    assert.ok(
      w.syscalls.some((n) => ["socket", "connect", "dup2", "execve", "setuid"].includes(n)),
      w.syscalls.join(" "),
    );
    assert.ok(traces.some((t) => t.trace.startsWith("f-o-tt.strace#")));
    const normal = traces.filter((t) => t.trace.startsWith("validation/"));
    assert.ok(normal.filter((t) => t.verdict === "normal").length >= 20);
  });

  test("search: results table, best model, report with PNG+SVG; a rerun skips finished configurations", () => {
    const out = join(tmp, "search");
    const searchConfig = join(tmp, "search.json");
    writeFileSync(
      searchConfig,
      JSON.stringify({ base: TINY_CONFIG, space: { latentDim: [4, 6], aggregation: ["mean", "max"] } }),
    );
    const args = [
      "search",
      "--train",
      data.train,
      "--validation",
      data.validation,
      "--attack",
      data.attack,
      "-o",
      out,
      "--config",
      searchConfig,
      "--workers",
      "2",
    ];
    const r = cli(args);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /2 network\(s\) to train for 4 configuration\(s\)/);
    assert.match(r.stderr, /\[4\/4\]/);
    const csv = readFileSync(join(out, "results.csv"), "utf8").trim().split("\n");
    assert.equal(csv.length, 5);
    for (const file of ["best/model.json", "best/weights.bin", "report.html", "results.json"])
      assert.ok(existsSync(join(out, file)), file);
    for (const chart of [
      "configuration-scores",
      "loss-held-out",
      "roc",
      "precision-recall",
      "score-histogram",
      "detection-per-attack-type",
    ]) {
      assert.ok(
        existsSync(join(out, "charts", `${chart}.png`)) && existsSync(join(out, "charts", `${chart}.svg`)),
        chart,
      );
    }
    const best = cli([
      "evaluate",
      "--model",
      join(out, "best"),
      "--normal",
      data.validation,
      "--attack",
      data.attack,
      "--json",
      "-q",
    ]);
    assert.equal(best.code, 0, best.stderr);
    const again = cli([...args, "--json", "-q"]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(JSON.parse(again.stdout).skipped, 4);
  });

  test("damaged model and bad usage: clear messages, exit 1 and 2, no stack trace", () => {
    const broken = join(tmp, "broken");
    const t = cli(["train", data.train, "-o", broken, "--config", config, "-q"]);
    assert.equal(t.code, 0, t.stderr);
    writeFileSync(join(broken, "weights.bin"), readFileSync(join(broken, "weights.bin")).subarray(0, 100));
    const r = cli(["score", "--model", broken, data.validation]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /weights\.bin: 100 bytes, but model\.json expects \d+: the file is truncated/);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
    const usage = cli(["train", data.train, "-o", broken, "--target-fpr", "2"]);
    assert.equal(usage.code, 2);
    const missing = cli([
      "evaluate",
      "--model",
      model,
      "--normal",
      join(tmp, "nope"),
      "--attack",
      data.attack,
    ]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /nope: no such file or directory/);
  });
});
