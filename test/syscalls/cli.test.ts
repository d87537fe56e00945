import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { runCli } from "../support/cli.ts";
import {
  type SyntheticData,
  TINY_AUTOENCODER_CONFIG,
  TINY_CONFIG,
  writeSyntheticTraces,
} from "./synthetic.ts";

/** End-to-end: `threatlens syscalls …` as a user runs it, on generated traces with a tiny configuration. */
const root = join(fileURLToPath(import.meta.url), "..", "..", "..");

const cli = (args: string[]) => runCli(["syscalls", ...args]);

const tmp = mkdtempSync(join(tmpdir(), "threatlens-syscalls-cli-"));
after(() => rmSync(tmp, { recursive: true, force: true }));
const model = join(tmp, "model");
const config = join(tmp, "tiny.json");
let data: SyntheticData;
let trained: { code: number | null; stdout: string; stderr: string };

before(async () => {
  data = await writeSyntheticTraces(join(tmp, "traces"), 17);
  writeFileSync(config, JSON.stringify(TINY_CONFIG));
  trained = cli(["train", data.train, "-o", model, "--config", config, "--target-fpr", "0.1"]);
  assert.equal(trained.code, 0, trained.stderr);
});

describe("threatlens syscalls (CLI, generated traces)", () => {
  test("train writes a versioned model directory and says how the threshold was measured", () => {
    assert.match(trained.stdout, /model written to/);
    assert.match(
      trained.stdout,
      /threshold [\d.]+: expected false-positive rate [\d.]+% \(95 % interval [\d.]+%–[\d.]+%; \d+ of 40 held-out normal traces/,
    );
    assert.match(
      trained.stdout,
      /measured on: 5-fold cross-fitting over 10 sessions \(runs of up to 4 consecutive normal traces;/,
    );
    // 40 traces cannot pin a 10 % rate down: the user is told.
    assert.match(trained.stderr, /warning: calibration data is thin/);
    const meta = JSON.parse(readFileSync(join(model, "model.json"), "utf8"));
    assert.equal(meta.kind, "syscall-detector");
    assert.equal(meta.version, 2);
    const m = meta.payload.model;
    assert.equal(m.config.targetFpr, 0.1);
    assert.deepEqual(m.config.signals, ["ngram", "novelty", "repertoire"]);
    assert.deepEqual(m.config.timingSyscalls, ["futex", "restart_syscall", "rt_sigreturn", "sigreturn"]);
    assert.ok(m.vocabulary.names.includes("poll"));
    assert.equal(meta.payload.binary.byteLength, readFileSync(join(model, "weights.bin")).length);
  });

  test("evaluate --json: combined and per-signal metrics, threshold promise vs measured, per attack type; --report", () => {
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
    assert.deepEqual(Object.keys(e.signals), ["ngram", "novelty", "repertoire"]);
    for (const s of Object.values(e.signals) as { rocAuc: number }[]) assert.equal(typeof s.rocAuc, "number");
    assert.deepEqual(Object.keys(e.detectionRateAtFpr), ["0.01", "0.05"]);
    assert.equal(typeof e.expectedFpr.upper, "number");
    assert.deepEqual(Object.keys(e.perAttackType), ["Adduser", "Shell"]);
    assert.equal(e.skipped.invalidTokens, 0);
    for (const chart of ["roc", "precision-recall", "score-histogram", "detection-per-attack-type"]) {
      assert.ok(existsSync(join(report, "charts", `${chart}.png`)), chart);
      assert.ok(existsSync(join(report, "charts", `${chart}.svg`)), chart);
    }
    const html = readFileSync(join(report, "report.html"), "utf8");
    assert.match(html, /<svg/);
    assert.match(html, /ROC: the combined score and each signal on its own/);
    assert.match(html, /training promised a false-positive rate/);
  });

  test("evaluate on the model's own training traces warns that the scores are optimistic", () => {
    const r = cli([
      "evaluate",
      "--model",
      model,
      "--normal",
      data.train,
      "--attack",
      data.attack,
      "--json",
      "-q",
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(JSON.parse(r.stdout).warnings.join("\n"), /include the model's own training traces/);
  });

  test("score --json: score, verdict, signals and evidence per trace, strace logs included", () => {
    const attackFile = join(data.attack, "Attack_Data_Master", "Shell_1", "a0.txt");
    const strace = join(root, "test", "syscalls", "fixtures", "strace", "f-o-tt.strace");
    const r = cli(["score", "--model", model, attackFile, data.validation, strace, "--json", "-q"]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    const traces = out.traces as {
      trace: string;
      verdict: string;
      signals: Record<string, number>;
      evidence: { newInRepertoire: string[]; unknownSyscalls: string[] };
    }[];
    assert.equal(traces.length, 1 + 30 + 3);
    const attack = traces.find((t) => t.trace === "a0.txt")!;
    assert.equal(attack.verdict, "anomalous");
    assert.deepEqual(Object.keys(attack.signals), ["ngram", "novelty", "repertoire"]);
    assert.ok(
      attack.evidence.newInRepertoire.some((n) => ["socket", "connect", "dup2", "setuid"].includes(n)) ||
        attack.evidence.unknownSyscalls.some((n) => ["socket", "connect", "dup2", "setuid"].includes(n)),
      JSON.stringify(attack.evidence),
    );
    const normal = traces.filter((t) => t.trace.startsWith("validation/"));
    assert.ok(normal.filter((t) => t.verdict === "normal").length >= 20);
    assert.deepEqual(out.skipped, { invalidTokens: 0, invalidLines: 0, unknownSyscalls: 0, emptyTraces: 0 });
  });

  test("score --skip-invalid: an out-of-range number is dropped, counted in --json and warned about", () => {
    const dir = join(tmp, "numbers");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "t.txt"), "3 4 99999 5 6 ");
    const strict = cli(["score", "--model", model, dir, "-q"]);
    assert.equal(strict.code, 1);
    assert.match(strict.stderr, /t\.txt:1: unknown i386 syscall number 99999 \(token 3, column 5\)/);
    const r = cli(["score", "--model", model, dir, "--skip-invalid", "--json", "-q"]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.skipped.invalidTokens, 1);
    assert.match(out.warnings.join("\n"), /skipped 1 invalid token/);
    assert.match(r.stderr, /warning: .*skipped 1 invalid token/);
  });

  test("train and score refuse prose, with the file and position", () => {
    const dir = join(tmp, "prose");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "fox.txt"), "the quick brown fox jumps over the lazy dog\n");
    for (const args of [
      ["train", dir, "-o", join(tmp, "fox-model")],
      ["score", "--model", model, dir],
    ]) {
      const r = cli([...args, "-q"]);
      assert.equal(r.code, 1, r.stdout);
      assert.match(r.stderr, /fox\.txt:1: cannot tell the trace format from "the quick brown fox/);
    }
  });

  test("train --json with the autoencoder as a signal: threshold, interval, method, skipped counts, warnings", () => {
    const aeConfig = join(tmp, "ae.json");
    writeFileSync(aeConfig, JSON.stringify(TINY_AUTOENCODER_CONFIG));
    const out = join(tmp, "ae-model");
    const r = cli(["train", data.train, "-o", out, "--config", aeConfig, "--json"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /final: epoch 1\/2: training loss [\d.]+, held-out loss [\d.]+/);
    const j = JSON.parse(r.stdout);
    assert.equal(typeof j.threshold, "number");
    assert.ok(j.expectedFpr.lower <= j.expectedFpr.rate && j.expectedFpr.rate <= j.expectedFpr.upper);
    assert.equal(j.calibration.grouping, "sessions");
    assert.deepEqual(j.skipped, { invalidTokens: 0, invalidLines: 0, unknownSyscalls: 0, emptyTraces: 0 });
    assert.ok(j.warnings.some((w: string) => /calibration data is thin/.test(w)));
    assert.equal(j.training.history.length, 2);
    const s = cli([
      "evaluate",
      "--model",
      out,
      "--normal",
      data.validation,
      "--attack",
      data.attack,
      "--json",
      "-q",
    ]);
    assert.equal(s.code, 0, s.stderr);
    assert.ok("autoencoder" in JSON.parse(s.stdout).signals);
  });

  test("search: results, held-out estimate beside the selection score, report with per-signal ROC; resumes", () => {
    const out = join(tmp, "search");
    const searchConfig = join(tmp, "search.json");
    writeFileSync(
      searchConfig,
      JSON.stringify({
        base: TINY_CONFIG,
        space: { signals: [["ngram", "repertoire"], ["novelty"]], ngramOrder: [3, 5] },
      }),
    );
    const args = ["search", "--train", data.train, "--validation", data.validation, "--attack", data.attack];
    const full = [...args, "-o", out, "--config", searchConfig, "--workers", "2"];
    const r = cli(full);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      /3 configuration\(s\) to train/,
      "novelty alone ignores ngramOrder: one configuration",
    );
    assert.match(
      r.stdout,
      /held-out estimate [\d.]+ \(chosen on one half of the validation traces, measured on the other\)/,
    );
    const csv = readFileSync(join(out, "results.csv"), "utf8").trim().split("\n");
    assert.equal(csv.length, 4);
    assert.match(csv[0], /rocAuc_ngram/);
    for (const file of ["best/model.json", "best/weights.bin", "report.html", "results.json"])
      assert.ok(existsSync(join(out, file)), file);
    for (const chart of [
      "configuration-scores",
      "roc",
      "precision-recall",
      "score-histogram",
      "detection-per-attack-type",
    ])
      assert.ok(
        existsSync(join(out, "charts", `${chart}.png`)) && existsSync(join(out, "charts", `${chart}.svg`)),
        chart,
      );
    const html = readFileSync(join(out, "report.html"), "utf8");
    assert.match(html, /held-out estimate/);
    assert.match(html, /selection score/);
    const again = cli([...full, "--json", "-q"]);
    assert.equal(again.code, 0, again.stderr);
    const j = JSON.parse(again.stdout);
    assert.equal(j.resumedConfigurations, 3);
    assert.equal(typeof j.heldOut.rocAuc, "number");
    assert.equal(typeof j.selectionRocAuc, "number");
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
    for (const bad of [
      ["train", data.train, "-o", broken, "--target-fpr", "2"],
      ["train", data.train, "-o", broken, "--signals", "bogus"],
      ["train", data.train, "-o", broken, "--signals", "ngram,ngram"],
    ]) {
      const usage = cli(bad);
      assert.equal(usage.code, 2, `${bad.join(" ")}: ${usage.stderr}`);
    }
    const file = cli(["score", "--model", join(model, "model.json"), data.validation]);
    assert.equal(file.code, 2);
    assert.match(file.stderr, /expected a model directory .*: pass .*model instead/);
    assert.doesNotMatch(file.stderr, /ENOTDIR/);
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

  test("--help marks the required options", () => {
    for (const command of ["train", "score", "evaluate", "search"]) {
      const r = cli([command, "--help"]);
      assert.equal(r.code, 0);
      assert.match(r.stdout, /(--output|--model|--train) <[a-z.]+>[\s\S]*?\(required\)/);
    }
  });
});
