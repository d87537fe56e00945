import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { it } from "node:test";
import { PACKAGE_ROOT } from "../../src/core/package-root.ts";
import { createProgress } from "../../src/core/progress.ts";
import { evaluateCommand, scoreCommand, trainCommand } from "../../src/syscalls/pipeline.ts";
import { withTempDir } from "./traces/helpers.ts";

/**
 * The whole pipeline on ADFA-LD with a small fast configuration (two epochs over every second training window):
 * train on Training_Data_Master, evaluate Validation_Data_Master vs Attack_Data_Master. This checks the plumbing on
 * real data and that the detector is clearly better than chance; the quality of the shipped default is measured by
 * the grid search (docs/syscalls.md).
 */
const ADFA = join(PACKAGE_ROOT, "..", "shared", "data", "adfa-ld");
const FAMILIES = ["Adduser", "Hydra_FTP", "Hydra_SSH", "Java_Meterpreter", "Meterpreter", "Web_Shell"];

it("trains, evaluates and scores on ADFA-LD", async (t) => {
  if (!existsSync(ADFA)) {
    t.skip(`ADFA-LD not found at ${ADFA}`);
    return;
  }
  await withTempDir(async (dir) => {
    const progress = createProgress({ quiet: true });
    const model = await trainCommand(
      [join(ADFA, "Training_Data_Master")],
      { output: dir, overrides: { stride: 2, epochs: 2 } },
      progress,
    );
    assert.equal(model.training.traces, 833);
    assert.ok(model.training.heldOutFpr <= 0.05);
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
    assert.ok(e.rocAuc > 0.7, `ROC AUC ${e.rocAuc}`);
    assert.ok(e.detectionRateAtFpr["0.05"] > 0.1, `detection at 5 % FPR ${e.detectionRateAtFpr["0.05"]}`);
    const scored = await scoreCommand(
      [join(ADFA, "Attack_Data_Master", "Web_Shell_1")],
      { model: dir },
      progress,
    );
    assert.ok(scored.traces.length > 0);
    assert.ok(scored.traces.every((v) => v.mostAnomalousWindow?.syscalls.length === 7));
  });
});
