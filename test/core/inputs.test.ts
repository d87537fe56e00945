import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { InputError } from "../../src/core/errors.ts";
import { expandInputs } from "../../src/core/inputs.ts";

const isCsv = (name: string) => name.endsWith(".csv");

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "threatlens-inputs-"));
  // Created out of order, so sorting is observable.
  for (const file of ["logs/b.csv", "logs/a.csv", "logs/notes.txt", "logs/z/deep/c.csv", "logs/m/x.csv"]) {
    await mkdir(join(dir, file, ".."), { recursive: true });
    await writeFile(join(dir, file), "");
  }
  await mkdir(join(dir, "logs/empty-sub"));
  await mkdir(join(dir, "nothing/sub"), { recursive: true });
  await writeFile(join(dir, "nothing/sub/readme.md"), "");
  await writeFile(join(dir, "single.txt"), "");
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function assertInputError(promise: Promise<unknown>, file: string, pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof InputError, `not an InputError: ${error}`);
    assert.equal(error.location.file, file);
    assert.ok(error.message.startsWith(`${file}: `), error.message);
    assert.match(error.message, pattern);
    return true;
  });
}

describe("expandInputs", () => {
  test("a file is kept as given, even when `accept` would reject its name", async () => {
    const file = join(dir, "single.txt");
    assert.deepEqual(await expandInputs([file], isCsv), [file]);
  });

  test("a directory expands recursively to accepted files, sorted by name at each level", async () => {
    assert.deepEqual(await expandInputs([join(dir, "logs")], isCsv), [
      join(dir, "logs/a.csv"),
      join(dir, "logs/b.csv"),
      join(dir, "logs/m/x.csv"),
      join(dir, "logs/z/deep/c.csv"),
    ]);
  });

  test("inputs keep their command-line order; a file listed twice stays twice", async () => {
    const single = join(dir, "single.txt");
    const b = join(dir, "logs/b.csv");
    assert.deepEqual(await expandInputs([single, join(dir, "logs/m"), b, single], isCsv), [
      single,
      join(dir, "logs/m/x.csv"),
      b,
      single,
    ]);
  });

  test("`accept` sees bare names", async () => {
    const names: string[] = [];
    await expandInputs([join(dir, "logs")], (name) => {
      names.push(name);
      return true;
    });
    assert.deepEqual(names.sort(), ["a.csv", "b.csv", "c.csv", "notes.txt", "x.csv"]);
  });

  test("a missing path is an InputError naming it", async () => {
    const missing = join(dir, "missing.csv");
    await assertInputError(
      expandInputs([join(dir, "single.txt"), missing], isCsv),
      missing,
      /no such file or directory/,
    );
  });

  test("a directory with no accepted file (even in subdirectories) is an InputError", async () => {
    await assertInputError(
      expandInputs([join(dir, "nothing")], isCsv),
      join(dir, "nothing"),
      /no input files/,
    );
    await assertInputError(
      expandInputs([join(dir, "logs/empty-sub")], isCsv),
      join(dir, "logs/empty-sub"),
      /no input files/,
    );
  });

  test("symbolic links to files and directories are followed", async () => {
    const links = join(dir, "links");
    await mkdir(links);
    await symlink(join(dir, "logs", "a.csv"), join(links, "linked.csv"));
    await symlink(join(dir, "logs", "m"), join(links, "linked-dir"));
    assert.deepEqual(await expandInputs([links], isCsv), [
      join(links, "linked-dir", "x.csv"),
      join(links, "linked.csv"),
    ]);
  });

  test("no inputs gives no files", async () => {
    assert.deepEqual(await expandInputs([], isCsv), []);
  });
});
