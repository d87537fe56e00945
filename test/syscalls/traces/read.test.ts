import assert from "node:assert/strict";
import { stat } from "node:fs/promises";
import { basename, join } from "node:path";
import { describe, it } from "node:test";
import { InputError } from "../../../src/core/errors.ts";
import { knownSyscallNames } from "../../../src/syscalls/tables.ts";
import { detectFormat } from "../../../src/syscalls/traces/detect.ts";
import { attackTypeOf, readTraces } from "../../../src/syscalls/traces/read.ts";
import { withTempDir, writeTree } from "./helpers.ts";

describe("format detection", () => {
  it("tells numbers, names, strace lines and the collector's CSV apart; prose is none of them", async () => {
    const known = await knownSyscallNames();
    const detect = (line: string) => detectFormat(line, known);
    assert.equal(detect("6 6 63 6 42 120 "), "adfa");
    assert.equal(detect("openat read close"), "names");
    assert.equal(detect("read # comment"), "names");
    assert.equal(detect('openat(AT_FDCWD, "/etc/x", O_RDONLY) = 3'), "strace");
    assert.equal(detect('1234  openat(AT_FDCWD, "/etc/x", O_RDONLY) = 3'), "strace");
    assert.equal(detect("[pid  1234] 12:34:56.123456 read(3,  <unfinished ...>"), "strace");
    assert.equal(detect("     0.000123 [00007f367c5d5ad7] brk(NULL) = 0x55f5f82e4000"), "strace");
    assert.equal(
      detect("15445 04:20:22.197276 poll([{fd=3, events=POLLIN}], 1, 500 <detached ...>"),
      "strace",
    );
    assert.equal(detect("strace: Process 1234 attached"), "strace");
    assert.equal(detect("TS,PID,TID,SYSCALL,COMM"), "collector");
    assert.equal(detect("0\trestart_syscall"), undefined);
    assert.equal(detect("read, write"), undefined);
    assert.equal(detect("the quick brown fox jumps over the lazy dog"), undefined);
    assert.equal(detect("lorem ipsum dolor sit amet"), undefined);
  });

  it("refuses a names file made mostly of words that are not syscalls, at the first such word", async () => {
    await withTempDir(async (dir) => {
      // The first line passes as names (read write open), the rest is prose.
      await writeTree(dir, {
        "lorem.txt": "read write open\nlorem ipsum dolor sit amet consectetur adipiscing\n",
        "ok.txt": "read write frobnicate open close\n",
      });
      await assert.rejects(readTraces(join(dir, "lorem.txt")), (error: unknown) => {
        assert.ok(error instanceof InputError);
        assert.match(
          error.message,
          /lorem\.txt:2: 7 of 10 tokens are not syscall names .*"lorem" at line 2, column 1/,
        );
        return true;
      });
      // A few unknown names are kept and counted (another kernel's syscalls score as unknown).
      const { traces, stats } = await readTraces(join(dir, "ok.txt"));
      assert.deepEqual(traces[0].names, ["read", "write", "frobnicate", "open", "close"]);
      assert.equal(stats.unrecognisedNames, 1);
      // Under skipInvalid the prose file is skipped whole, counted and named in a warning.
      const skipped = await readTraces(dir, { skipInvalid: true });
      assert.deepEqual(
        skipped.traces.map((t) => t.id),
        [`${basename(dir)}/ok.txt`],
      );
      assert.equal(skipped.stats.invalidFiles, 1);
      assert.match(skipped.stats.warnings[0], /lorem\.txt: skipped: 7 of 10 tokens/);
    });
  });

  it("skips and counts a file of no known format under skipInvalid, instead of stopping the run", async () => {
    await withTempDir(async (dir) => {
      await writeTree(dir, { "a.txt": "3 4 5 ", "notes.md": "The quick brown fox.\n" });
      await assert.rejects(readTraces(dir), /notes\.md:1: cannot tell the trace format/);
      const { traces, stats } = await readTraces(dir, { skipInvalid: true });
      assert.equal(traces.length, 1);
      assert.equal(stats.invalidFiles, 1);
      assert.match(stats.warnings[0], /notes\.md:1: skipped: cannot tell the trace format/);
    });
  });

  it("detects per file in a directory and lets the caller force a format", async () => {
    await withTempDir(async (dir) => {
      await writeTree(dir, {
        "a.txt": "3 4 5 ",
        "b.txt": "# names\nread write\n",
        "c.log.strace": '42 read(0, "", 1) = 0\n42 +++ exited with 0 +++\n',
      });
      const { traces, stats } = await readTraces(dir);
      assert.deepEqual(stats.formats, { adfa: 1, names: 1, strace: 1, collector: 0 });
      assert.deepEqual(
        traces.map((t) => [t.id.split("/").slice(1).join("/"), t.names]),
        [
          ["a.txt", ["read", "write", "open"]],
          ["b.txt", ["read", "write"]],
          ["c.log.strace#42", ["read"]],
        ],
      );
      await assert.rejects(
        readTraces(join(dir, "b.txt"), { format: "adfa" }),
        /b\.txt:2: "read" is not a syscall number/,
      );
      await assert.rejects(
        readTraces(join(dir, "a.txt"), { format: "strace" }),
        /a\.txt:1: unrecognised strace line/,
      );
    });
  });

  it("reports a file whose format it cannot tell, at the first meaningful line", async () => {
    await withTempDir(async (dir) => {
      await writeTree(dir, { "syscalls.tsv": "\n# table\n0\trestart_syscall\n1\texit\n" });
      await assert.rejects(readTraces(dir), (error: unknown) => {
        assert.ok(error instanceof InputError);
        assert.equal(error.location.line, 3);
        assert.match(error.message, /cannot tell the trace format from "0\\trestart_syscall"/);
        return true;
      });
    });
  });

  it("reads an empty file as an empty trace rather than dropping it", async () => {
    await withTempDir(async (dir) => {
      await writeTree(dir, { "empty.txt": "", "comments.txt": "# nothing yet\n\n" });
      const { traces } = await readTraces(dir);
      assert.deepEqual(
        traces.map((t) => t.names.length),
        [0, 0],
      );
    });
  });
});

describe("large files", () => {
  it("streams a multi-MiB CRLF strace log across chunk boundaries with exact line numbers", async () => {
    await withTempDir(async (dir) => {
      const lines: string[] = [];
      for (let i = 0; lines.length < 40_000; i++) {
        lines.push(
          `${100 + (i % 3)}   openat(AT_FDCWD, "/usr/lib/locale/C.utf8/LC_${"X".repeat(i % 50)}", O_RDONLY) = 3`,
        );
      }
      const file = join(dir, "big.strace");
      await writeTree(dir, { "big.strace": `${lines.join("\r\n")}\r\n` });
      const { traces, stats } = await readTraces(file);
      assert.ok((await stat(file)).size > 3 * (1 << 20), "larger than several read chunks");
      assert.deepEqual(
        traces.map((t) => [t.pid, t.names.length]),
        [
          [100, 13334],
          [101, 13333],
          [102, 13333],
        ],
      );
      assert.equal(stats.syscalls, 40_000);
      lines.splice(39_000, 0, "garbage");
      await writeTree(dir, { "big.strace": lines.join("\r\n") });
      await assert.rejects(readTraces(file), /big\.strace:39001: unrecognised strace line "garbage"/);
    });
  });
});

describe("directories", () => {
  it("recurses in code-unit order, skips hidden files and gives ids below the input's parent", async () => {
    await withTempDir(async (dir) => {
      await writeTree(dir, {
        "data/b/2.txt": "4 ",
        "data/B.txt": "3 ",
        "data/a.txt": "5 ",
        "data/b/10.txt": "6 ",
        "data/.hidden.txt": "not read",
        "data/b/.cache/x": "not read",
      });
      const { traces, stats } = await readTraces(join(dir, "data"));
      assert.deepEqual(
        traces.map((t) => t.id),
        ["data/B.txt", "data/a.txt", "data/b/10.txt", "data/b/2.txt"],
      );
      assert.equal(traces[0].source, join(dir, "data", "B.txt"));
      assert.equal(stats.files, 4);
      const filtered = await readTraces(join(dir, "data"), { accept: (name) => name.startsWith("1") });
      assert.deepEqual(
        filtered.traces.map((t) => t.id),
        ["data/b/10.txt"],
      );
    });
  });

  it("labels ADFA-LD attack runs with their family and leaves normal traces unlabelled", async () => {
    await withTempDir(async (dir) => {
      await writeTree(dir, {
        "Attack_Data_Master/Hydra_FTP_3/UAD-Hydra-FTP-3-1.txt": "3 ",
        "Attack_Data_Master/Web_Shell_10/UAD-WS-10-2.txt": "4 ",
        "Attack_Data_Master/Adduser_1/UAD-Adduser-1-3.txt": "5 ",
        "Training_Data_Master/UTD-0001.txt": "6 ",
      });
      const attacks = await readTraces(join(dir, "Attack_Data_Master"));
      assert.deepEqual(
        attacks.traces.map((t) => [t.id, t.attackType]),
        [
          ["Attack_Data_Master/Adduser_1/UAD-Adduser-1-3.txt", "Adduser"],
          ["Attack_Data_Master/Hydra_FTP_3/UAD-Hydra-FTP-3-1.txt", "Hydra_FTP"],
          ["Attack_Data_Master/Web_Shell_10/UAD-WS-10-2.txt", "Web_Shell"],
        ],
      );
      // Reading one run's folder, or one file, still finds the family from the full path.
      const run = await readTraces(join(dir, "Attack_Data_Master", "Hydra_FTP_3"));
      assert.equal(run.traces[0].attackType, "Hydra_FTP");
      // Any folder named <Type>_<k> gives the type: a user's own attack recordings need no Attack_Data_Master.
      await writeTree(dir, { "my-attacks/Reverse_Shell_2/a.txt": "3 " });
      const mine = await readTraces(join(dir, "my-attacks"));
      assert.equal(mine.traces[0].attackType, "Reverse_Shell");
      const normal = await readTraces(join(dir, "Training_Data_Master"));
      assert.ok(!("attackType" in normal.traces[0]));
    });
  });

  it("finds attack types from paths", () => {
    assert.equal(attackTypeOf("/d/Attack_Data_Master/Java_Meterpreter_6/x.txt"), "Java_Meterpreter");
    assert.equal(attackTypeOf("/d/Attack_Data_Master/x.txt"), undefined);
    assert.equal(attackTypeOf("/srv/recordings/Command_Injection_4/trace.strace"), "Command_Injection");
    assert.equal(attackTypeOf("/d/Validation_Data_Master/UVD-0001.txt"), undefined);
  });

  it("reads several inputs in order and rejects two that give the same id", async () => {
    await withTempDir(async (dir) => {
      await writeTree(dir, { "x/t.txt": "3 ", "y/t.txt": "4 ", "z/x/t.txt": "5 " });
      const { traces } = await readTraces([join(dir, "y"), join(dir, "x", "t.txt"), join(dir, "x")]);
      assert.deepEqual(
        traces.map((t) => t.id),
        ["y/t.txt", "t.txt", "x/t.txt"],
      );
      await assert.rejects(readTraces([join(dir, "x"), join(dir, "z", "x")]), /same trace id x\/t\.txt/);
    });
  });

  it("reports a missing input as an InputError naming it", async () => {
    await withTempDir(async (dir) => {
      const missing = join(dir, "nope");
      await assert.rejects(readTraces(missing), (error: unknown) => {
        assert.ok(error instanceof InputError);
        assert.equal(basename(error.location.file!), "nope");
        return true;
      });
    });
  });
});
