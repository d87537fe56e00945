import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { it } from "node:test";
import { PACKAGE_ROOT } from "../../src/core/package-root.ts";
import { createProgress } from "../../src/core/progress.ts";
import { clopperPearson } from "../../src/core/tail.ts";
import { resolveModelConfig } from "../../src/syscalls/config.ts";
import { subset, toTraceSet, traceCount } from "../../src/syscalls/dataset.ts";
import { scoreTraceSet } from "../../src/syscalls/evaluate.ts";
import { evaluateCommand, scoreCommand, trainCommand } from "../../src/syscalls/pipeline.ts";
import { readTraces } from "../../src/syscalls/traces/index.ts";
import { trainSyscallModel } from "../../src/syscalls/train.ts";
import { withTempDir } from "./traces/helpers.ts";

/**
 * The whole pipeline on ADFA-LD with the shipped defaults: train on Training_Data_Master, evaluate
 * Validation_Data_Master vs Attack_Data_Master, score a folder. Then the threshold's promise, checked on data the
 * calibration did not see: trained on the first 80 % of the training sessions, the false-positive rate on the last
 * 20 % must fall within what the binomial interval allows.
 */
const ADFA = join(PACKAGE_ROOT, "..", "shared", "data", "adfa-ld");
const FAMILIES = ["Adduser", "Hydra_FTP", "Hydra_SSH", "Java_Meterpreter", "Meterpreter", "Web_Shell"];

it("trains, evaluates and scores on ADFA-LD with the shipped defaults", async (t) => {
  if (!existsSync(ADFA)) {
    t.skip(`ADFA-LD not found at ${ADFA}`);
    return;
  }
  await withTempDir(async (dir) => {
    const progress = createProgress({ quiet: true });
    const { model } = await trainCommand([join(ADFA, "Training_Data_Master")], { output: dir }, progress);
    assert.equal(model.training.traces, 833);
    assert.equal(model.calibration.expectedFpr.traces, 833);
    const { evaluation: e } = await evaluateCommand(
      {
        model: dir,
        normal: [join(ADFA, "Validation_Data_Master")],
        attack: [join(ADFA, "Attack_Data_Master")],
      },
      progress,
    );
    assert.equal(e.normalTraces, 2000);
    assert.equal(e.attackTraces, 439);
    assert.deepEqual(Object.keys(e.perAttackType), FAMILIES);
    // Every normal-only model plateaued at 0.77–0.79 on this split (docs/syscalls.md); the combination must not fall below.
    assert.ok(e.rocAuc > 0.78, `ROC AUC ${e.rocAuc}`);
    assert.ok(e.detectionRateAtFpr["0.05"] > 0.15, `detection at 5 % FPR ${e.detectionRateAtFpr["0.05"]}`);
    const scored = await scoreCommand(
      [join(ADFA, "Attack_Data_Master", "Web_Shell_1")],
      { model: dir },
      progress,
    );
    assert.equal(
      scored.traces.length,
      (await readdir(join(ADFA, "Attack_Data_Master", "Web_Shell_1"))).length,
    );
    assert.ok(scored.traces.some((v) => v.verdict === "anomalous"));
  });
});

it("the expected false-positive rate holds on later training sessions the model never saw", async (t) => {
  if (!existsSync(ADFA)) {
    t.skip(`ADFA-LD not found at ${ADFA}`);
    return;
  }
  const all = toTraceSet((await readTraces(join(ADFA, "Training_Data_Master"))).traces);
  const n = traceCount(all);
  const cut = Math.floor((n * 0.8) / 20) * 20;
  const fit = Array.from({ length: cut }, (_, i) => i);
  const later = Array.from({ length: n - cut }, (_, i) => cut + i);
  const config = resolveModelConfig({ targetFpr: 0.05 });
  const model = await trainSyscallModel(subset(all, fit), config, []);
  const scores = scoreTraceSet(model, subset(all, later));
  const flagged = scores.filter((s) => s.score >= model.calibration.threshold).length;
  // The promise: the rate on new sessions is within the calibration's interval, widened by the sampling of the
  // new traces themselves (their own 95 % interval must overlap the promised one).
  const promised = model.calibration.expectedFpr;
  const measured = clopperPearson(flagged, later.length);
  assert.ok(
    measured.lower <= promised.upper && promised.lower <= measured.upper,
    `promised ${promised.rate} [${promised.lower}, ${promised.upper}], measured ${flagged}/${later.length} [${measured.lower}, ${measured.upper}]`,
  );
});
