import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { InputError } from "../../../src/core/errors.ts";
import { randomInt, seededRandom } from "../../../src/core/random.ts";
import { loadSyscallTable } from "../../../src/syscalls/tables.ts";
import { type ReadOptions, readTraces } from "../../../src/syscalls/traces/read.ts";
import { i386Names, pick, randomTrace, withTempDir } from "./helpers.ts";

async function readText(text: string, options: ReadOptions = {}, name = "t.txt") {
  return withTempDir(async (dir) => {
    await writeFile(join(dir, name), text);
    return readTraces(join(dir, name), options);
  });
}

const SEPARATORS = [" ", " ", " ", "  ", "\t", "\n", " \n", "\r\n"];

function joinRandomly(random: () => number, tokens: string[]): string {
  return tokens.map((token) => token + pick(random, SEPARATORS)).join("");
}

async function expectInputError(promise: Promise<unknown>, line: number, message: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof InputError, String(error));
    assert.equal(error.location.line, line);
    assert.match(error.message, message);
    return true;
  });
}

describe("ADFA-LD reader", () => {
  it("maps numbers with the i386 table by default, as in the data set's files", async () => {
    // ADFA-LD layout: one line, a space after every number, no final newline.
    const { traces, stats } = await readText("6 6 63 6 42 120 6 195 ");
    assert.deepEqual(traces[0].names, [
      "close",
      "close",
      "dup2",
      "close",
      "pipe",
      "clone",
      "close",
      "stat64",
    ]);
    assert.equal(traces[0].id, "t.txt");
    assert.equal(stats.formats.adfa, 1);
  });

  it("uses the x86_64 table when asked", async () => {
    const { traces } = await readText("0 1 2 59\n", { arch: "x86_64" });
    assert.deepEqual(traces[0].names, ["read", "write", "open", "execve"]);
  });

  it("reads back random traces written as numbers, whatever the whitespace (property)", async () => {
    const table = await loadSyscallTable("i386");
    const pool = await i386Names();
    for (let seed = 1; seed <= 100; seed++) {
      const random = seededRandom(seed);
      const names = randomTrace(random, pool, 300);
      if (names.length === 0) continue; // an empty file is read as an empty plain trace (see read.test.ts)
      let text = joinRandomly(
        random,
        names.map((name) => String(table.number(name))),
      );
      if (random() < 0.5) text = text.trimEnd();
      const { traces } = await readText(text);
      assert.deepEqual(traces[0].names, names, `seed ${seed}`);
    }
  });

  it("reports an unknown number with file, line and token position", async () => {
    await expectInputError(
      readText("3 4\n5 999 6 "),
      2,
      /t\.txt:2: unknown i386 syscall number 999 \(token 4, column 3\)/,
    );
    await expectInputError(
      readText("3 4 5x 6", { format: "adfa" }),
      1,
      /"5x" is not a syscall number \(token 3/,
    );
    await expectInputError(readText("3 12345678901 6"), 1, /unknown i386 syscall number 12345678901/);
  });

  it("drops and counts unknown numbers under skipInvalid", async () => {
    const { traces, stats } = await readText("3 999 4 -1 5 ", { format: "adfa", skipInvalid: true });
    assert.deepEqual(traces[0].names, ["read", "write", "open"]);
    assert.equal(stats.invalidTokens, 2);
  });
});

describe("plain syscall-name reader", () => {
  it("reads names separated by spaces and newlines, with # comments", async () => {
    const { traces, stats } = await readText(
      "# recorded by hand\nopenat read  read\n\nclose # done\n\texit_group",
    );
    assert.deepEqual(traces[0].names, ["openat", "read", "read", "close", "exit_group"]);
    assert.equal(stats.formats.names, 1);
  });

  it("reads back random traces (property)", async () => {
    const pool = [...(await i386Names()), "newfstatat", "syscall_0x1b3"];
    for (let seed = 1; seed <= 100; seed++) {
      const random = seededRandom(seed);
      const names = randomTrace(random, pool, 200);
      const lines = joinRandomly(random, names).split("\n");
      const commented = lines.map((line) =>
        random() < 0.2 ? `${line} # note ${randomInt(random, 9)}` : line,
      );
      const { traces } = await readText(`# header\n${commented.join("\n")}`);
      assert.deepEqual(traces[0].names, names, `seed ${seed}`);
    }
  });

  it("reports a token that is not a syscall name with its position, or counts it under skipInvalid", async () => {
    await expectInputError(
      readText("read write\nopen( close"),
      2,
      /"open\(" is not a syscall name \(token 3, column 1\)/,
    );
    const { traces, stats } = await readText("read 3 write", { format: "names", skipInvalid: true });
    assert.deepEqual(traces[0].names, ["read", "write"]);
    assert.equal(stats.invalidTokens, 1);
  });
});
