import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { loadProcessFeatures } from "../../src/ransomware/inputs.ts";
import { featuresToCsv } from "../../src/ransomware/table.ts";
import { sequence, tempDir, writeLog } from "./helpers.ts";

const tmp = tempDir();
after(tmp.cleanup);

test("a directory may hold logs, feature tables and label files: labels are skipped and reported", async () => {
  writeLog(tmp.dir, "run1.csv", sequence(7, "OCD"));
  writeFileSync(join(tmp.dir, "labels.csv"), "log,pid,label\nrun1.csv,7,ransomware\n");
  writeFileSync(join(tmp.dir, "authors_labels.csv"), "PID\n10007\n");
  const first = await loadProcessFeatures([join(tmp.dir, "run1.csv")]);
  writeFileSync(
    join(tmp.dir, "table.csv"),
    featuresToCsv(first.rows.map((r) => ({ ...r, log: "other.csv" }))),
  );
  const loaded = await loadProcessFeatures([tmp.dir]);
  assert.deepEqual(
    loaded.rows.map((r) => `${r.log}:${r.pid}`),
    ["run1.csv:7", "other.csv:7"],
  );
  assert.deepEqual(loaded.skippedFiles.sort(), [
    join(tmp.dir, "authors_labels.csv"),
    join(tmp.dir, "labels.csv"),
  ]);
  assert.equal(loaded.tables[0].format, "threatlens");
});

test("a label file named explicitly as an input is an error", async () => {
  await assert.rejects(loadProcessFeatures([join(tmp.dir, "labels.csv")]), /labels\.csv:1: not an event log/);
});
