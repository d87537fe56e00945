import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { it } from "node:test";
import { PACKAGE_ROOT } from "../../../src/core/package-root.ts";
import { readTraces } from "../../../src/syscalls/traces/read.ts";

const ADFA = join(PACKAGE_ROOT, "..", "shared", "data", "adfa-ld");
const FAMILIES = ["Adduser", "Hydra_FTP", "Hydra_SSH", "Java_Meterpreter", "Meterpreter", "Web_Shell"];

it("reads all of ADFA-LD: 833 training, 2,000 validation and 439 attack traces", async (t) => {
  if (!existsSync(ADFA)) {
    t.skip(`ADFA-LD not found at ${ADFA}`);
    return;
  }
  const started = performance.now();
  const [training, validation, attack] = await Promise.all(
    ["Training_Data_Master", "Validation_Data_Master", "Attack_Data_Master"].map((folder) =>
      readTraces(join(ADFA, folder)),
    ),
  );
  const seconds = (performance.now() - started) / 1000;

  assert.equal(training.traces.length, 833);
  assert.equal(validation.traces.length, 2000);
  assert.equal(attack.traces.length, 439);
  for (const { stats, traces } of [training, validation, attack]) {
    assert.equal(stats.formats.adfa, traces.length, "every file detected as ADFA");
    assert.equal(stats.invalidTokens, 0);
    assert.ok(traces.every((trace) => trace.names.length > 0));
  }
  assert.ok([...training.traces, ...validation.traces].every((trace) => trace.attackType === undefined));
  const perFamily = new Map<string, number>();
  for (const trace of attack.traces)
    perFamily.set(trace.attackType!, (perFamily.get(trace.attackType!) ?? 0) + 1);
  assert.deepEqual([...perFamily.keys()].sort(), FAMILIES);
  assert.equal(training.traces[0].id, "Training_Data_Master/UTD-0001.txt");
  assert.equal(validation.traces.at(-1)!.id, "Validation_Data_Master/UVD-2000.txt");

  const syscalls = training.stats.syscalls + validation.stats.syscalls + attack.stats.syscalls;
  t.diagnostic(
    `read 3,272 traces, ${syscalls} syscalls in ${seconds.toFixed(2)} s ` +
      `(training ${training.stats.syscalls}, validation ${validation.stats.syscalls}, attack ${attack.stats.syscalls}); ` +
      `attack traces per family ${JSON.stringify(Object.fromEntries(perFamily))}`,
  );
});
