import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { after, describe, test } from "node:test";
import { RansomwareDetector } from "../../src/ransomware/detector.ts";
import { extractFeatures } from "../../src/ransomware/extract.ts";
import { FEATURE_NAMES } from "../../src/ransomware/features.ts";
import { toFileEvent } from "../../src/ransomware/memory.ts";
import { tempDir } from "./helpers.ts";

const tmp = tempDir();
after(tmp.cleanup);

const HEADER = "TS,PID,TYPE,FLAG,PATTERN,OPEN,CREATE,DELETE,ENCRYPT,FILENAME,TID,PPID,UID,COMM,FLAGS,OP";
type Row = readonly [pid: number, ppid: number, type: number, path: string, comm: string];

function extendedLog(rows: readonly Row[]): string {
  const lines = rows.map(
    ([pid, ppid, type, path, comm], i) =>
      `${1_000_000_000_000 + i * 1_000_000},${pid},${type},0,0,0,0,0,0,${path},${pid},${ppid},1000,${comm},0,${type === 2 ? "unlinkat" : "openat"}`,
  );
  const file = `${tmp.dir}/tree${Math.random().toString(36).slice(2)}.csv`;
  writeFileSync(file, `${[HEADER, ...lines].join("\n")}\n`);
  return file;
}

/** `find -exec sh -c 'gpg … && rm …'`: find (100) runs a shell per file (2xx), each shell a gpg and an rm (3xx). */
function shellPerFile(files: number): Row[] {
  const rows: Row[] = [[100, 50, 0, "/home/u", "find"]];
  for (let f = 0; f < files; f++) {
    const shell = 200 + f;
    rows.push([shell, 100, 0, "/etc/ld.so.cache", "sh"]);
    rows.push([300 + 2 * f, shell, 0, `/home/u/d${f}.txt`, "gpg"]);
    rows.push([300 + 2 * f, shell, 1, `/home/u/d${f}.txt.gpg`, "gpg"]);
    rows.push([301 + 2 * f, shell, 2, `/home/u/d${f}.txt`, "rm"]);
  }
  return rows;
}

describe("groups of processes", () => {
  test("a shell per file: the grandparent's group holds every file's tools", async () => {
    const { rows } = await extractFeatures([extendedLog(shellPerFile(4))], { groups: true });
    const grand = rows.filter((r) => r.generation === 2);
    assert.equal(grand.length, 1);
    assert.equal(grand[0].pid, 100);
    assert.deepEqual(
      [...(grand[0].children ?? [])].sort((a, b) => a - b),
      [300, 301, 302, 303, 304, 305, 306, 307],
    );
    assert.equal(grand[0].values[FEATURE_NAMES.indexOf("D_foreign")], 4, "its 4 deletes are one entity's");
    // Each shell's children (gpg and rm of one file): one member destroys, so the group would repeat its alert.
    assert.equal(rows.filter((r) => r.children && r.generation === undefined && r.pid >= 200).length, 0);
    // find's children, the shells, destroy and create nothing: their group would only repeat others' alerts.
    assert.ok(!rows.some((r) => r.children && r.generation === undefined && r.pid === 100));
  });

  test("grandchildren through a single parent are that parent's children: no second group", async () => {
    const log = extendedLog([
      [20, 10, 0, "/home/u/backup.sh", "sh"],
      [30, 20, 0, "/home/u/a.txt", "tar"],
      [30, 20, 1, "/home/u/w/b.tgz", "tar"],
      [31, 20, 0, "/home/u/w/b.tgz", "gpg"],
      [31, 20, 1, "/home/u/w/b.tgz.gpg", "gpg"],
      [32, 20, 2, "/home/u/w/b.tgz", "rm"],
      [33, 20, 2, "/home/u/old-1.tgz", "rm"],
      [34, 20, 2, "/home/u/old-2.tgz", "rm"],
    ]);
    const { rows } = await extractFeatures([log], { groups: true });
    assert.equal(rows.filter((r) => r.generation === 2).length, 0);
    assert.deepEqual(
      rows.filter((r) => r.children).map((r) => r.pid),
      [20],
    );
  });

  test("a group whose harm is one member's is not scored: that member's own alert says it", async () => {
    const log = extendedLog([
      [40, 30, 0, "/home/u/notes.txt", "ls"],
      [41, 30, 0, "/home/u/a.doc", "locker"],
      [41, 30, 1, "/home/u/a.doc.locked", "locker"],
      [41, 30, 2, "/home/u/a.doc", "locker"],
      [41, 30, 2, "/home/u/b.doc", "locker"],
      [41, 30, 2, "/home/u/c.doc", "locker"],
    ]);
    const { rows } = await extractFeatures([log], { groups: true });
    assert.deepEqual(
      rows.map((r) => [r.pid, r.children !== undefined]),
      [
        [40, false],
        [41, false],
      ],
    );
  });

  test("groups of grandchildren survive a checkpoint", () => {
    const detector = new RansomwareDetector();
    const hooks = { touched: () => {}, ended: () => {} };
    const types = ["open", "create", "delete"] as const;
    shellPerFile(2).forEach(([pid, ppid, type, path, comm], i) => {
      detector.observe(
        toFileEvent({ ts: 1_000_000_000 + i, pid, ppid, type: types[type], path, comm }),
        hooks,
      );
    });
    const saved = JSON.parse(JSON.stringify(detector.snapshot()));
    const grand = saved.entities.find(
      (e: { generation: number; pid: number }) => e.generation === 2 && e.pid === 100,
    );
    assert.deepEqual(grand.parents.sort(), [200, 201]);
    assert.equal(grand.harmMembers.length, 2);
    const restored = new RansomwareDetector();
    restored.restore(saved);
    assert.deepEqual(JSON.parse(JSON.stringify(restored.snapshot())), saved);
  });
});
