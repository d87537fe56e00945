import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { InputError } from "../../../src/core/errors.ts";
import { randomInt, seededRandom } from "../../../src/core/random.ts";
import { loadSyscallTable } from "../../../src/syscalls/tables.ts";
import { readTraces } from "../../../src/syscalls/traces/read.ts";
import { pick, withTempDir } from "./helpers.ts";

const HEADER = "TS,PID,TID,SYSCALL,COMM";

async function readCollector(text: string, skipInvalid = false) {
  return withTempDir(async (dir) => {
    const file = join(dir, "run.csv");
    await writeFile(file, text);
    return readTraces(file, { skipInvalid });
  });
}

describe("collector syscall CSV (threatlens collect --syscalls)", () => {
  it("one trace per TID in call order; programs from COMM, changed by an execve", async () => {
    const { traces, stats } = await readCollector(
      [
        HEADER,
        "1700000000000000001,100,100,read,python3",
        "1700000000000000002,100,101,futex,python3",
        "1700000000000000003,200,200,clone,python3",
        "1700000000000000004,200,200,execve,python3",
        "1700000000000000005,200,200,brk,sh",
        "1700000000000000006,100,101,prctl,python3",
        // A thread renaming itself is not an exec: its program stays python3.
        "1700000000000000007,100,101,read,worker-1",
        "1700000000000000008,100,100,write,python3",
      ].join("\n"),
    );
    assert.equal(stats.formats.collector, 1);
    assert.deepEqual(
      traces.map((t) => [t.id, t.pid, t.program, t.names]),
      [
        ["run.csv#100", 100, "python3", ["read", "write"]],
        ["run.csv#101", 101, "python3", ["futex", "prctl", "read"]],
        ["run.csv#200", 200, "sh", ["clone", "execve", "brk"]],
      ],
    );
  });

  it("reads quoted command names with commas and quotes (RFC 4180), cut to 15 characters as comm is", async () => {
    const { traces } = await readCollector(
      [HEADER, '1,7,7,read,"a,b ""c"""', '2,8,8,read,"averyveryverylongname"'].join("\n"),
    );
    assert.deepEqual(
      traces.map((t) => t.program),
      ['a,b "c"', "averyveryverylo"],
    );
  });

  it("requires the exact header, reports a malformed row with its line, or counts it under skipInvalid", async () => {
    await assert.rejects(readCollector("TS,PID,SYSCALL\n1,2,read\n", false), /cannot tell the trace format/);
    const text = [HEADER, "1,7,7,read,sh", "2,7,x,write,sh", "3,7,7,close,sh"].join("\n");
    await assert.rejects(readCollector(text), (error: unknown) => {
      assert.ok(error instanceof InputError);
      assert.equal(error.location.line, 3);
      assert.match(error.message, /expected TS,PID,TID,SYSCALL,COMM/);
      return true;
    });
    const { traces, stats } = await readCollector(text, true);
    assert.deepEqual(traces[0].names, ["read", "close"]);
    assert.equal(stats.invalidLines, 1);
  });

  it("counts syscall names in no table, and refuses a file of them", async () => {
    const { stats } = await readCollector(
      [HEADER, "1,7,7,read,sh", "2,7,7,frobnicate,sh", "3,7,7,read,sh"].join("\n"),
    );
    assert.equal(stats.unrecognisedNames, 1);
    await assert.rejects(
      readCollector([HEADER, "1,7,7,hello,sh", "2,7,7,world,sh"].join("\n")),
      /2 of 2 tokens are not syscall names/,
    );
  });

  it("fuzz: random rows and mutations give traces or located InputErrors, every row accounted for", async () => {
    const names = (await loadSyscallTable("x86_64")).entries().map(([, n]) => n);
    for (let seed = 1; seed <= 100; seed++) {
      const random = seededRandom(seed);
      const rows = Array.from({ length: 1 + randomInt(random, 60) }, (_, i) => {
        const tid = 1 + randomInt(random, 5);
        let row = `${1000 + i},${tid},${tid},${pick(random, names)},${pick(random, ["sh", "python3", '"x,y"'])}`;
        if (random() < 0.1) row = row.slice(0, randomInt(random, row.length));
        return row;
      });
      const text = [HEADER, ...rows].join("\n");
      const { stats } = await readCollector(text, true);
      assert.equal(stats.syscalls + stats.invalidLines, rows.filter((r) => r !== "").length, `seed ${seed}`);
      try {
        await readCollector(text);
        assert.equal(stats.invalidLines, 0, `seed ${seed}`);
      } catch (error) {
        assert.ok(error instanceof InputError, `seed ${seed}: ${error}`);
        assert.ok(error.location.line! >= 2);
      }
    }
  });
});
