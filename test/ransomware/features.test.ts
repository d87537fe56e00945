import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { extractFeatures } from "../../src/ransomware/extract.ts";
import { BEHAVIOURS, FEATURE_NAMES, TRIGRAMS } from "../../src/ransomware/features.ts";
import { featuresToCsv } from "../../src/ransomware/table.ts";
import { sequence, type TestEvent, tempDir, writeLog } from "./helpers.ts";

const tmp = tempDir();
after(tmp.cleanup);

async function featuresOf(events: TestEvent[], options: { windowMs?: number; originSec?: number } = {}) {
  const file = writeLog(tmp.dir, `log${Math.random().toString(36).slice(2)}.csv`, events, options.originSec);
  const { rows } = await extractFeatures([file], { windowMs: options.windowMs });
  return rows.map((r) => ({
    ...r,
    get: (name: string) => {
      const i = FEATURE_NAMES.indexOf(name);
      assert.ok(i >= 0, `unknown feature ${name}`);
      return r.values[i];
    },
  }));
}

describe("feature schema", () => {
  test("is fixed: every trigram, behaviour and path feature is a column, whatever the input", async () => {
    assert.equal(TRIGRAMS.length, 64);
    assert.equal(new Set(FEATURE_NAMES).size, FEATURE_NAMES.length);
    for (const g of TRIGRAMS) assert.ok(FEATURE_NAMES.includes(g));
    for (const b of BEHAVIOURS)
      assert.ok(FEATURE_NAMES.includes(`B_${b}_sum`) && FEATURE_NAMES.includes(`B_${b}_max`));
    const [p] = await featuresOf(sequence(7, "O"));
    assert.equal(p.values.length, FEATURE_NAMES.length);
    const header = featuresToCsv([p]).split("\n")[0].split(",");
    assert.deepEqual(header, ["log", "pid", "first_ts", ...FEATURE_NAMES]);
  });
});

describe("event counts and windows", () => {
  test("totals, per-window maximum, mean per active window and per-minute rate", async () => {
    // Window 1 s: 3 opens at 0.0-0.2 s, 1 open at 2.5 s; 2 creates at 2.6-2.7 s. Lifetime 2.7 s.
    const events: TestEvent[] = [
      { t: 0, pid: 1, type: "O" },
      { t: 0.1, pid: 1, type: "O" },
      { t: 0.2, pid: 1, type: "O" },
      { t: 2.5, pid: 1, type: "O" },
      { t: 2.6, pid: 1, type: "C" },
      { t: 2.7, pid: 1, type: "C" },
    ];
    const [p] = await featuresOf(events);
    assert.equal(p.get("O_sum"), 4);
    assert.equal(p.get("O_max"), 3);
    assert.equal(p.get("C_sum"), 2);
    assert.equal(p.get("C_max"), 2);
    assert.equal(p.get("windows_active"), 2);
    assert.equal(p.get("O_mean"), 2);
    assert.ok(Math.abs(p.get("O_rate") - (4 * 60) / 2.7) < 1e-6);
    assert.ok(Math.abs(p.get("duration_s") - 2.7) < 1e-9);
    assert.equal(p.get("events"), 6);
  });

  test("a wider window merges bursts", async () => {
    const events = [...sequence(1, "OOO", 0.1), ...sequence(1, "O", 0.1, 2.5)];
    const [p] = await featuresOf(events, { windowMs: 5000 });
    assert.equal(p.get("O_max"), 4);
    assert.equal(p.get("windows_active"), 1);
  });

  test("pattern matches are counted in total and per window", async () => {
    const events: TestEvent[] = [
      { t: 0, pid: 1, type: "O", pattern: 3 },
      { t: 0.5, pid: 1, type: "C", pattern: 1 },
      { t: 1.5, pid: 1, type: "C", pattern: 0 },
      { t: 1.6, pid: 1, type: "D", pattern: 2 },
    ];
    const [p] = await featuresOf(events);
    assert.equal(p.get("P_sum"), 3);
    assert.equal(p.get("P_max"), 2);
  });

  test("timestamps above 2^53 ns are exact: windows are computed from exact differences", async () => {
    // Origin 9,500,000 s of uptime = 9.5e15 ns > 2^53. Events 1 ns apart must stay distinct and in one window.
    const events = [
      { t: 0, pid: 5, type: "O" as const },
      { t: 1e-9, pid: 5, type: "O" as const },
      { t: 0.999999999, pid: 5, type: "O" as const },
      { t: 1.000000001, pid: 5, type: "O" as const },
    ];
    const [p] = await featuresOf(events, { originSec: 9_500_000 });
    assert.equal(p.get("O_max"), 3);
    assert.equal(p.get("windows_active"), 2);
    assert.equal(p.firstTs, "9500000000000000");
    assert.equal(p.lastTs, "9500001000000001");
    assert.ok(BigInt(p.lastTs) > 2n ** 53n);
  });

  test("out-of-order rows count in the current window instead of reopening an old one", async () => {
    const events: TestEvent[] = [
      { t: 0, pid: 1, type: "O" },
      { t: 2.1, pid: 1, type: "O" },
      { t: 0.5, pid: 1, type: "O" },
    ];
    const [p] = await featuresOf(events);
    assert.equal(p.get("O_max"), 2);
    assert.equal(p.get("windows_active"), 2);
  });
});

describe("sequences and behaviours", () => {
  test("trigrams count every consecutive triple per process", async () => {
    const [p] = await featuresOf(sequence(1, "OCDOCD"));
    assert.equal(p.get("OCD"), 2);
    assert.equal(p.get("CDO"), 1);
    assert.equal(p.get("DOC"), 1);
    const total = TRIGRAMS.reduce((a, g) => a + p.get(g), 0);
    assert.equal(total, 4);
  });

  test("interleaved processes keep separate sequences", async () => {
    const a = sequence(1, "OCD", 0.002);
    const b = sequence(2, "DDD", 0.002, 0.001);
    const [p1, p2] = await featuresOf([...a, ...b].sort((x, y) => x.t - y.t));
    assert.equal(p1.pid, 1);
    assert.equal(p1.get("OCD"), 1);
    assert.equal(p1.get("DDD"), 0);
    assert.equal(p2.get("DDD"), 1);
  });

  test("named behaviours match as documented", async () => {
    const [p] = await featuresOf(
      sequence(1, "OCD" + "OCED" + "OCEEED" + "DDDDDDD" + "OOOO" + "CCCCCCCC" + "EEEE"),
    );
    assert.equal(p.get("B_ocd_sum"), 1);
    assert.equal(p.get("B_oced_sum"), 1);
    assert.equal(p.get("B_ocend_sum"), 2, "ocend matches OCED and OCEEED");
    // The first D of the run ends OCEEED; the remaining 7 Ds hold two non-overlapping triples.
    assert.equal(p.get("B_ddd_sum"), 2);
    assert.equal(p.get("B_batch_O_sum"), 1);
    assert.equal(p.get("B_batch_C_sum"), 1, "a run of 8 counts once");
    assert.equal(p.get("B_batch_E_sum"), 1);
    assert.equal(p.get("B_batch_D_sum"), 1);
  });

  test("a failed partial match restarts on an open", async () => {
    const [p] = await featuresOf(sequence(1, "OOCD"));
    assert.equal(p.get("B_ocd_sum"), 1);
  });

  test("behaviour maxima are per window", async () => {
    const events = [...sequence(1, "OCDOCD", 0.01), ...sequence(1, "OCD", 0.01, 3)];
    const [p] = await featuresOf(events);
    assert.equal(p.get("B_ocd_sum"), 3);
    assert.equal(p.get("B_ocd_max"), 2);
  });
});

describe("paths", () => {
  test("system and user-data areas, opened vs created or deleted", async () => {
    const events: TestEvent[] = [
      { t: 0, pid: 1, type: "O", name: "/etc/passwd" },
      { t: 0.1, pid: 1, type: "O", name: "//sys/fs/cgroup/x" },
      { t: 0.2, pid: 1, type: "C", name: "/usr/lib/x.so" },
      { t: 0.3, pid: 1, type: "D", name: "/var/tmp/y" },
      { t: 0.4, pid: 1, type: "O", name: "/home/alice/doc.txt" },
      { t: 0.5, pid: 1, type: "C", name: "/home/alice/doc.txt.locked" },
      { t: 0.6, pid: 1, type: "D", name: "/media/usb/a" },
      { t: 0.7, pid: 1, type: "O", name: "/etcetera/not-system" },
      { t: 0.8, pid: 1, type: "O", name: "relative/path" },
      { t: 0.9, pid: 1, type: "E", name: "EVP_EncryptInit_ex" },
    ];
    const [p] = await featuresOf(events);
    assert.equal(p.get("S_open"), 2);
    assert.equal(p.get("S_create_delete"), 2);
    assert.equal(p.get("U_open"), 1);
    assert.equal(p.get("U_create_delete"), 2);
    assert.equal(p.get("X_ext_append"), 1);
    // Encrypt events name a function, not a file: 9 file events on 9 distinct paths.
    assert.equal(p.get("N_files"), 9);
    assert.equal(p.get("N_create_dirs"), 2);
  });

  test("distinct files and directories count repeats once", async () => {
    const events: TestEvent[] = [];
    for (let i = 0; i < 50; i++)
      events.push({ t: i * 0.01, pid: 1, type: "O", name: `/home/u/d${i % 5}/f${i % 10}` });
    const [p] = await featuresOf(events);
    assert.equal(p.get("N_files"), 10);
    assert.equal(p.get("N_dirs"), 5);
  });
});

describe("process identity", () => {
  test("the same PID in two logs is two processes", async () => {
    const a = writeLog(tmp.dir, "a.csv", sequence(42, "OOO"));
    const b = writeLog(tmp.dir, "b.csv", sequence(42, "CC"));
    const { rows, summary } = await extractFeatures([a, b]);
    assert.equal(summary.processes, 2);
    assert.deepEqual(
      rows.map((r) => [r.log, r.pid]),
      [
        ["a.csv", 42],
        ["b.csv", 42],
      ],
    );
  });

  test("two inputs with the same file name are refused", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const a = writeLog(tmp.dir, "same.csv", sequence(1, "O"));
      const b = writeLog(dir, "same.csv", sequence(1, "O"));
      await assert.rejects(extractFeatures([a, b]), /share the file name same\.csv/);
    } finally {
      cleanup();
    }
  });
});
