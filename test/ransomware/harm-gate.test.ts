import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import type { Alert } from "../../src/core/stream/alerts.ts";
import { FEATURE_NAMES, type ProcessFeatures } from "../../src/ransomware/features.ts";
import { loadRansomwareModel, saveRansomwareModel } from "../../src/ransomware/model.ts";
import { learnableRows } from "../../src/ransomware/train.ts";
import { DEFAULT_RANSOMWARE_MODEL, watchRansomware } from "../../src/ransomware/watch.ts";
import { tempDir } from "./helpers.ts";

/**
 * The harm gate of the shipped model: processes that churn their own temporary files or handle one file each (the
 * benign shapes that raised most false alarms) stay below the threshold whatever the SVM says; a process that
 * destroys documents it did not create is alerted within a few.
 */
const tmp = tempDir("threatlens-gate-");
after(tmp.cleanup);

const HEADER = "TS,PID,TYPE,FLAG,PATTERN,OPEN,CREATE,DELETE,ENCRYPT,FILENAME,TID,PPID,UID,COMM,FLAGS,OP";
const OPS = ["openat", "openat", "unlinkat", "EVP_CipherInit_ex", "exec", "exit"];
const CREATE_FLAGS = 577; // O_WRONLY | O_CREAT | O_TRUNC

function workload(): { log: string; lockers: Set<number> } {
  let ns = 1_700_000_000_000_000_000n;
  const lines = [HEADER];
  const row = (pid: number, type: number, name: string, comm: string) => {
    ns += 20_000n;
    lines.push(
      // Each process its own parent: this test is about processes, not groups of siblings.
      `${ns},${pid},${type},0,0,0,0,0,0,${name},${pid},${pid + 10_000},1000,${comm},${type === 1 ? CREATE_FLAGS : 0},${OPS[type]}`,
    );
  };
  const lockers = new Set<number>();
  for (let pid = 2000; pid < 2300; pid++) {
    if (pid % 100 === 50) {
      // Encrypts 30 documents: read, encrypted copy, libcrypto, delete the original.
      lockers.add(pid);
      for (let f = 0; f < 30; f++) {
        const doc = `/home/alice/Documents/report-${f}.docx`;
        row(pid, 0, doc, "locker");
        row(pid, 1, `${doc}.locked`, "locker");
        row(pid, 3, "EVP_CipherInit_ex", "locker");
        row(pid, 2, doc, "locker");
      }
    } else if (pid % 10 === 5) {
      // A backup job encrypting its own staging copies, then removing them: OCED shapes, but on its own files.
      for (let f = 0; f < 12; f++) row(pid, 1, `/home/alice/.cache/backup/part-${f}`, "backup");
      for (let f = 0; f < 12; f++) {
        const part = `/home/alice/.cache/backup/part-${f}`;
        row(pid, 0, part, "backup");
        row(pid, 1, `${part}.enc`, "backup");
        row(pid, 3, "EVP_CipherInit_ex", "backup");
        row(pid, 2, part, "backup");
      }
    } else if (pid % 2 === 0) {
      // A job churning its own temporary files: libraries, 12 files written, 6 of them deleted.
      for (let i = 0; i < 60; i++) {
        const k = i % 10;
        if (k < 7) row(pid, 0, `/usr/lib/x86_64-linux-gnu/lib${k}.so`, "worker");
        else if (k < 9) row(pid, 1, `/var/tmp/job-${pid}/out-${i}.tmp`, "worker");
        else row(pid, 2, `/var/tmp/job-${pid}/out-${i - 2}.tmp`, "worker");
      }
    } else {
      // gzip of one log: read it, write NAME.gz, delete NAME.
      row(pid, 0, "/usr/lib/x86_64-linux-gnu/libz.so.1", "gzip");
      row(pid, 0, `/var/log/app/app.log.${pid}`, "gzip");
      row(pid, 1, `/var/log/app/app.log.${pid}.gz`, "gzip");
      row(pid, 2, `/var/log/app/app.log.${pid}`, "gzip");
    }
    row(pid, 5, "", "exit");
  }
  const log = join(tmp.dir, "mixed.csv");
  writeFileSync(log, `${lines.join("\n")}\n`);
  return { log, lockers };
}

async function alertsOf(modelPath: string, log: string): Promise<Alert[]> {
  const alerts: Alert[] = [];
  await watchRansomware({
    model: modelPath,
    input: { kind: "logs", paths: [log] },
    stdout: null,
    onAlert: (a) => alerts.push(a),
  });
  return alerts;
}

describe("harm gate (shipped model)", () => {
  test("own temporary files and one-file tools raise nothing; document destruction is alerted within 5", async () => {
    const { log, lockers } = workload();
    const alerts = await alertsOf(DEFAULT_RANSOMWARE_MODEL, log);
    const alerted = new Set(alerts.map((a) => Number(a.pid)));
    assert.deepEqual([...alerted].sort(), [...lockers].sort());
    for (const a of alerts.filter((x) => x.status === "new")) {
      const evidence = a.evidence as { deletes: number };
      assert.ok(evidence.deletes <= 5, `alerted after ${evidence.deletes} deletes`);
    }
  });

  test("the gate holds whatever the SVM says: with a threshold every process crosses, only harm is alerted", async () => {
    const { log, lockers } = workload();
    const model = await loadRansomwareModel(DEFAULT_RANSOMWARE_MODEL);
    assert.ok(model.harmGate, "the shipped model carries a harm gate");
    model.threshold = -100;
    const lenient = join(tmp.dir, "lenient.json");
    await saveRansomwareModel(lenient, model);
    const gated = new Set((await alertsOf(lenient, log)).map((a) => Number(a.pid)));
    assert.deepEqual([...gated].sort(), [...lockers].sort());
    delete model.harmGate;
    await saveRansomwareModel(lenient, model);
    const ungated = new Set((await alertsOf(lenient, log)).map((a) => Number(a.pid)));
    assert.equal(ungated.size, 300, "without the gate every process is alerted");
  });
});

describe("learnableRows", () => {
  const row = (features: Record<string, number>, snapshot: boolean): ProcessFeatures => {
    const values = new Float64Array(FEATURE_NAMES.length);
    for (const [name, v] of Object.entries(features)) values[FEATURE_NAMES.indexOf(name)] = v;
    return { log: "a.csv", pid: 1, firstTs: "", lastTs: "", values, ...(snapshot ? { snapshot } : {}) };
  };
  const data = (rows: ProcessFeatures[], y: number[]) => ({
    rows,
    y: Uint8Array.from(y),
    groups: rows.map((r) => r.log),
    process: Int32Array.from(rows.map((_, i) => i)),
    processes: rows.length,
    unmatchedLabels: [],
    otherLogs: [],
  });

  test("learns ransomware rows once they show harm, and every benign row", () => {
    const rows = [
      row({ D_sum: 6, D_foreign: 0 }, true), // ransomware, deleted only its own files so far: left out
      row({ D_sum: 3, D_foreign: 2, R_overwrite: 1 }, true), // ransomware, 3 destroyed: learned
      row({ C_sum: 100 }, false), // ransomware writing copies by the hundred: learned
      row({ D_sum: 1, D_foreign: 1 }, false), // a one-file rm labelled ransomware: left out
      row({}, true), // benign: learned
    ];
    const kept = learnableRows(data(rows, [1, 1, 1, 1, 0]));
    assert.deepEqual([...kept.y], [1, 1, 0]);
    assert.equal(kept.processes, 3);
    assert.deepEqual([...kept.process], [0, 1, 2]);
  });

  test("feature tables (no snapshots) are learned as labelled", () => {
    const input = data([row({ D_sum: 1 }, false), row({}, false)], [1, 0]);
    assert.equal(learnableRows(input), input);
  });
});
