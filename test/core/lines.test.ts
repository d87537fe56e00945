import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { scanLines } from "../../src/core/lines.ts";
import { randomInt, seededRandom } from "../../src/core/random.ts";

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "threatlens-lines-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The specification scanLines must match: split on LF, drop one trailing CR per line, no line after a final LF. */
function referenceLines(bytes: Buffer): Buffer[] {
  const lines: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] !== 10) continue;
    lines.push(stripCr(bytes.subarray(start, i)));
    start = i + 1;
  }
  if (start < bytes.length) lines.push(stripCr(bytes.subarray(start)));
  return lines;
}

function stripCr(line: Buffer): Buffer {
  return line.length > 0 && line[line.length - 1] === 13 ? line.subarray(0, line.length - 1) : line;
}

async function scan(bytes: Buffer | string, chunkBytes?: number) {
  const file = join(dir, `f-${randomName()}.txt`);
  await writeFile(file, bytes);
  const lines: Buffer[] = [];
  const numbers: number[] = [];
  const progress: number[] = [];
  const count = await scanLines(
    file,
    (buf, start, end, lineNo) => {
      // The buffer is reused: copy, as the contract asks.
      lines.push(Buffer.from(buf.subarray(start, end)));
      numbers.push(lineNo);
    },
    { chunkBytes, onBytes: (n) => progress.push(n) },
  );
  return { count, lines, numbers, progress };
}

let fileCounter = 0;
function randomName(): string {
  return String(fileCounter++);
}

// Multi-byte characters (2, 3 and 4 bytes) so that chunk boundaries fall inside UTF-8 sequences.
const PIECES = ["a", "b", ",", " ", "é", "€", "😀", "\r", "\t", '"'];

function randomFile(random: () => number, chunkBytes: number): Buffer {
  const parts: string[] = [];
  const lineCount = randomInt(random, 12);
  for (let l = 0; l < lineCount; l++) {
    const kind = random();
    // Empty lines, short lines and lines several chunks long.
    const length =
      kind < 0.2 ? 0 : kind < 0.6 ? randomInt(random, chunkBytes) : randomInt(random, 5 * chunkBytes);
    let line = "";
    for (let k = 0; k < length; k++) line += PIECES[randomInt(random, PIECES.length)];
    const terminator = random() < 0.3 ? "\r\n" : "\n";
    parts.push(line + (l === lineCount - 1 && random() < 0.5 ? "" : terminator));
  }
  return Buffer.from(parts.join(""), "utf8");
}

describe("scanLines", () => {
  test("matches a reference split on random files for chunk sizes 1..64", async () => {
    const random = seededRandom(7);
    for (let trial = 0; trial < 300; trial++) {
      const chunkBytes = 1 + randomInt(random, 64);
      const bytes = randomFile(random, chunkBytes);
      const expected = referenceLines(bytes);
      const { count, lines, numbers, progress } = await scan(bytes, chunkBytes);
      const context = `trial ${trial}, chunkBytes ${chunkBytes}, file ${JSON.stringify(bytes.toString("utf8"))}`;
      assert.equal(count, expected.length, context);
      assert.deepEqual(lines, expected, context);
      assert.deepEqual(
        numbers,
        expected.map((_, i) => i + 1),
        context,
      );
      // UTF-8 straddling chunk boundaries comes out whole once decoded per line.
      assert.deepEqual(
        lines.map((l) => l.toString("utf8")),
        expected.map((l) => l.toString("utf8")),
        context,
      );
      if (bytes.length > 0) assert.equal(progress.at(-1), bytes.length, context);
      for (let i = 1; i < progress.length; i++) assert.ok(progress[i] > progress[i - 1], context);
    }
  });

  test("empty file visits nothing", async () => {
    const { count, lines, progress } = await scan("", 4);
    assert.equal(count, 0);
    assert.deepEqual(lines, []);
    assert.deepEqual(progress, []);
  });

  test("a lone newline is one empty line; no line after the final newline", async () => {
    assert.deepEqual((await scan("\n", 1)).lines, [Buffer.alloc(0)]);
    assert.deepEqual((await scan("\r\n", 1)).lines, [Buffer.alloc(0)]);
    assert.deepEqual((await scan("a\n\nb\n", 2)).lines.map(String), ["a", "", "b"]);
  });

  test("no final newline still yields the last line, with its CR dropped", async () => {
    assert.deepEqual((await scan("a\nbc", 1)).lines.map(String), ["a", "bc"]);
    assert.deepEqual((await scan("a\r\nbc\r", 3)).lines.map(String), ["a", "bc"]);
  });

  test("only one CR is dropped, and CR in the middle of a line is kept", async () => {
    assert.deepEqual((await scan("a\r\r\nb\rc\n", 2)).lines.map(String), ["a\r", "b\rc"]);
  });

  test("CRLF split across a chunk boundary", async () => {
    // With chunkBytes 2, "a\r" fills the first read and "\n" starts the second.
    assert.deepEqual((await scan("a\r\nb\r\n", 2)).lines.map(String), ["a", "b"]);
  });

  test("a line far longer than the chunk grows the buffer", async () => {
    const long = "x".repeat(10_000);
    const { lines } = await scan(`${long}\nshort\n${long}`, 3);
    assert.deepEqual(lines.map(String), [long, "short", long]);
  });

  test("default chunk size works", async () => {
    const text = Array.from({ length: 1000 }, (_, i) => `line ${i}`).join("\n");
    const { count, lines } = await scan(text);
    assert.equal(count, 1000);
    assert.equal(String(lines[999]), "line 999");
  });

  test("an exception from the visitor propagates and closes the file", async () => {
    const file = join(dir, "throws.txt");
    await writeFile(file, "a\nb\nc\n");
    let seen = 0;
    await assert.rejects(
      scanLines(
        file,
        () => {
          if (++seen === 2) throw new Error("stop");
        },
        { chunkBytes: 1 },
      ),
      /stop/,
    );
    assert.equal(seen, 2);
  });

  test("a missing file rejects", async () => {
    await assert.rejects(
      scanLines(join(dir, "missing.txt"), () => {}),
      { code: "ENOENT" },
    );
  });
});
