import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { after, describe, test } from "node:test";
import { BloomFilter } from "../../src/core/bloom.ts";
import { extractFeatures } from "../../src/ransomware/extract.ts";
import {
  BEHAVIOURS,
  FEATURE_NAMES,
  ProcessFeatureState,
  showsHarm,
  TRIGRAMS,
} from "../../src/ransomware/features.ts";
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

describe("harm: files that existed before the process", () => {
  /** Rows of the collector's extended layout (open flags, OP) for one process, 1 ms apart. */
  function extendedLog(rows: (readonly [type: number, path: string, flags: number, op: string])[]): string {
    const header = "TS,PID,TYPE,FLAG,PATTERN,OPEN,CREATE,DELETE,ENCRYPT,FILENAME,TID,PPID,UID,COMM,FLAGS,OP";
    const lines = rows.map(
      ([type, path, flags, op], i) =>
        `${1000_000_000_000 + i * 1_000_000},77,${type},0,0,0,0,0,0,${path},77,1,1000,job,${flags},${op}`,
    );
    const file = `${tmp.dir}/ext${Math.random().toString(36).slice(2)}.csv`;
    writeFileSync(file, `${[header, ...lines].join("\n")}\n`);
    return file;
  }
  const O_TRUNC_CREATE = 577; // O_WRONLY | O_CREAT | O_TRUNC
  const valuesOf = async (file: string) => {
    const { rows } = await extractFeatures([file]);
    return rows[0].values;
  };
  const get = (values: Float64Array, name: string) => values[FEATURE_NAMES.indexOf(name)];

  test("deletes of its own temporary files are not harm; deletes of other files are", async () => {
    const own = await valuesOf(
      extendedLog([
        ...[1, 2, 3, 4].map((k) => [1, `/var/tmp/job/t${k}.tmp`, O_TRUNC_CREATE, "openat"] as const),
        ...[1, 2, 3, 4].map((k) => [2, `/var/tmp/job/t${k}.tmp`, 0, "unlinkat"] as const),
      ]),
    );
    assert.equal(get(own, "D_sum"), 4);
    assert.equal(get(own, "D_foreign"), 0);
    assert.equal(showsHarm(own), false);
    const foreign = await valuesOf(
      extendedLog([
        [1, "/home/u/a.txt.gz", O_TRUNC_CREATE, "openat"],
        [2, "/home/u/a.txt", 0, "unlinkat"],
        [2, "/home/u/b.txt", 0, "unlinkat"],
        [2, "/home/u/c.txt", 0, "unlinkat"],
      ]),
    );
    assert.equal(get(foreign, "D_foreign"), 3);
    assert.equal(showsHarm(foreign), true);
  });

  test("a truncating create or a rename over a path it read is an overwrite; a new file is not", async () => {
    const values = await valuesOf(
      extendedLog([
        [0, "/home/u/a.doc", 0, "openat"],
        [1, "/home/u/a.doc", O_TRUNC_CREATE, "openat"], // read, then truncated in place
        [0, "/home/u/b.doc", 0, "openat"],
        [1, "/home/u/b.doc.swp", O_TRUNC_CREATE, "openat"], // new file: not an overwrite
        [2, "/home/u/b.doc.swp", 0, "rename"],
        [1, "/home/u/b.doc", 0, "rename"], // renamed over the original it read
        [1, "/home/u/c.doc", 64, "openat"], // O_CREAT without O_TRUNC, never read: not an overwrite
        [0, "/home/u/c.doc", 0, "openat"],
        [1, "/home/u/c.doc", O_TRUNC_CREATE, "openat"], // its own file, rewritten: not an overwrite
      ]),
    );
    assert.equal(get(values, "R_overwrite"), 2);
    assert.equal(get(values, "D_foreign"), 0, "the .swp it deleted by the rename was its own");
    assert.equal(showsHarm(values), false, "2 files destroyed is below the gate");
  });

  test("what loaders open does not push a document out of the recent opens", async () => {
    const values = await valuesOf(
      extendedLog([
        [0, "/home/u/a.doc", 0, "openat"],
        ...Array.from(
          { length: 12 },
          (_, k) => [0, `/usr/lib/x86_64-linux-gnu/lib${k}.so`, 0, "openat"] as const,
        ),
        [0, "/etc/ld.so.cache", 0, "openat"],
        [0, "/proc/self/maps", 0, "openat"],
        [1, "/home/u/a.doc", 0, "renameat"], // `mv a.doc.tmp a.doc` after the tool's start-up
      ]),
    );
    assert.equal(get(values, "R_overwrite"), 1);
  });

  test("failed deletes and directory removals destroy nothing", async () => {
    const AT_REMOVEDIR = 0x200;
    const values = await valuesOf(
      extendedLog([
        [2, "/home/u/.#lk0x1.vm.77x", 0, "unlink:ENOENT"], // gpg's lock probe: the path never existed
        [2, "/home/u/a.txt", 0, "unlinkat:EACCES"],
        [2, "/home/u/b.txt", 0, "unlinkat:E95"],
        [2, "/home/u/old", AT_REMOVEDIR, "unlinkat"],
        [2, "/home/u/older", AT_REMOVEDIR, "unlinkat"],
        [2, "/home/u/c.txt", 0, "unlinkat"], // the one file destroyed
      ]),
    );
    assert.equal(get(values, "D_sum"), 6, "every delete is still an event, as in ebpfangel's logs");
    assert.equal(get(values, "D_foreign"), 1);
    assert.equal(showsHarm(values), false);
  });

  test("a linked name is the process's own; a relative delete matches its own files by base name", async () => {
    const values = await valuesOf(
      extendedLog([
        [1, "/home/u/w/k.tmp", O_TRUNC_CREATE, "openat"],
        [1, "/home/u/w/pubring.kbx.lock", 0, "linkat"], // a lock taken by link(2)
        [2, "/home/u/w/pubring.kbx.lock", 0, "unlink"],
        [1, "/home/u/w/backup.tgz.gpg", O_TRUNC_CREATE, "openat"],
        [1, "/home/u/w/random_seed", O_TRUNC_CREATE, "openat"],
        // rm -rf w: names relative to the directory it walks
        [2, "backup.tgz.gpg", 0, "unlinkat"],
        [2, "random_seed", 0, "unlinkat"],
        [2, "k.tmp", 0, "unlinkat"],
        [2, "notes.txt", 0, "unlinkat"], // not its own
      ]),
    );
    assert.equal(get(values, "D_foreign"), 1);
  });

  test("creates and deletes of compressed names are counted", async () => {
    const values = await valuesOf(
      extendedLog([
        [1, "/home/u/a.txt.gz", O_TRUNC_CREATE, "openat"],
        [1, "/home/u/b.log.XZ", O_TRUNC_CREATE, "openat"],
        [1, "/home/u/c.doc.locked", O_TRUNC_CREATE, "openat"],
        [1, "/home/u/gz", O_TRUNC_CREATE, "openat"],
        [2, "/home/u/d.tar.zst", 0, "unlinkat"], // gunzip -r and friends delete the compressed file
        [2, "/home/u/e.doc", 0, "unlinkat"],
      ]),
    );
    assert.equal(get(values, "X_compressed_share"), 0.5);
  });

  test("the filter of created paths survives a checkpoint", () => {
    const state = new ProcessFeatureState(1000, 0, 1e9);
    const restored = ProcessFeatureState.fromJSON(JSON.parse(JSON.stringify(state.toJSON())), 1e9);
    assert.equal(restored.created, null);
    const created = new ProcessFeatureState(1000, 0, 1e9);
    created.created = new BloomFilter(8192);
    created.created.add(12345);
    const copy = ProcessFeatureState.fromJSON(JSON.parse(JSON.stringify(created.toJSON())), 1e9);
    assert.ok(copy.created?.has(12345));
  });
});
