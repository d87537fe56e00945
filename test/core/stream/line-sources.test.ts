import assert from "node:assert/strict";
import { appendFileSync, mkdtempSync, renameSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { after, describe, test } from "node:test";
import { FileLineSource, type LineSource, StreamLineSource } from "../../../src/core/stream/line-sources.ts";

const dir = mkdtempSync(join(tmpdir(), "threatlens-lines-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const text = new TextDecoder();

function collect(source: LineSource, onLine?: (line: string) => void) {
  const lines: { text: string; line: number }[] = [];
  const done = source.run((bytes, start, end, line) => {
    const t = text.decode(bytes.subarray(start, end));
    lines.push({ text: t, line });
    onLine?.(t);
  });
  return { lines, done };
}

async function until(check: () => boolean, what: string, ms = 5000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("FileLineSource", () => {
  test("reads every line with its number; CRLF and a last line without terminator included", async () => {
    const file = join(dir, "a.csv");
    writeFileSync(file, "h\r\none\ntwo\r\n\nlast");
    const source = new FileLineSource(file);
    const { lines, done } = collect(source);
    await done;
    assert.deepEqual(
      lines.map((l) => [l.line, l.text]),
      [
        [1, "h"],
        [2, "one"],
        [3, "two"],
        [4, ""],
        [5, "last"],
      ],
    );
    assert.equal(source.position().offset, 17);
  });

  test("resumes after a position: the header again, then exactly the lines not yet read", async () => {
    const file = join(dir, "b.csv");
    writeFileSync(file, "HEADER\nr1\nr2\nr3\n");
    const first = new FileLineSource(file);
    let stopAfter = 0;
    const { lines } = collect(first, () => {
      if (++stopAfter === 2) first.stop();
    });
    await until(() => lines.length >= 2, "two lines");
    const position = first.position();
    assert.equal(position.offset, "HEADER\nr1\n".length);
    const second = new FileLineSource(file);
    second.resume(position);
    const rest = collect(second);
    await rest.done;
    assert.deepEqual(
      rest.lines.map((l) => [l.line, l.text]),
      [
        [1, "HEADER"],
        [3, "r2"],
        [4, "r3"],
      ],
    );
  });

  test("a checkpoint of a file that was replaced since is not applied to the new file", async () => {
    const file = join(dir, "c.csv");
    writeFileSync(file, "H\nold1\nold2\n");
    const first = new FileLineSource(file);
    await collect(first).done;
    const position = first.position();
    // Rotation as logrotate does it: the new file is created while the old one still exists (a new inode).
    writeFileSync(`${file}.new`, "H\nnew1\n");
    renameSync(`${file}.new`, file);
    const second = new FileLineSource(file);
    second.resume(position);
    const { lines, done } = collect(second);
    await done;
    assert.deepEqual(
      lines.map((l) => l.text),
      ["H", "new1"],
    );
    assert.equal(second.stats.rotations, 1);
    assert.match(second.notices[0], /replaced since the checkpoint/);
  });

  test("follow: lines appended later, a rotation and a truncation are all read, in order", async () => {
    const file = join(dir, "follow.csv");
    writeFileSync(file, "H\na\n");
    const source = new FileLineSource(file, { follow: true, pollMs: 20 });
    const { lines, done } = collect(source);
    await until(() => lines.length === 2, "the first lines");
    appendFileSync(file, "b\nc");
    await until(() => lines.length === 3, "an appended line");
    appendFileSync(file, "\n");
    await until(() => lines.length === 4, "a line completed later");
    renameSync(file, `${file}.1`);
    writeFileSync(file, "H\nd\n");
    await until(() => lines.length === 6, "the rotated file");
    truncateSync(file, 0);
    await new Promise((r) => setTimeout(r, 100));
    appendFileSync(file, "H\ne\n");
    await until(() => lines.length === 8, "the truncated file's new lines");
    source.stop();
    await done;
    assert.deepEqual(
      lines.map((l) => l.text),
      ["H", "a", "b", "c", "H", "d", "H", "e"],
    );
    assert.equal(source.stats.rotations, 1);
    assert.equal(source.stats.truncations, 1);
    assert.deepEqual(
      lines.map((l) => l.line),
      [1, 2, 3, 4, 1, 2, 1, 2],
    );
  });
});

describe("StreamLineSource", () => {
  test("joins lines split across chunks", async () => {
    const stream = new PassThrough();
    const source = new StreamLineSource(stream);
    const { lines, done } = collect(source);
    stream.write("ab");
    stream.write("c\nd");
    stream.write("e\n\nf");
    stream.end();
    await done;
    assert.deepEqual(
      lines.map((l) => l.text),
      ["abc", "de", "", "f"],
    );
  });

  test("overload 'drop': whole chunks are dropped and every lost line is counted", async () => {
    const stream = new PassThrough();
    const source = new StreamLineSource(stream, { overload: "drop", maxQueueBytes: 64, sliceMs: 0 });
    const { lines, done } = collect(source, () => {
      // A slow consumer: 2 ms per line.
      const until = Date.now() + 2;
      while (Date.now() < until);
    });
    let written = 0;
    for (let chunk = 0; chunk < 50; chunk++) {
      let text = "";
      for (let k = 0; k < 4; k++) text += `line-${chunk}-${k}\n`;
      written += 4;
      stream.write(text);
    }
    stream.end();
    await done;
    assert.ok(source.stats.droppedLines > 0, "the slow consumer made the queue overflow");
    assert.equal(lines.length + source.stats.droppedLines, written);
    for (const l of lines) assert.match(l.text, /^line-\d+-\d$/, "no line is delivered broken");
  });

  test("overload 'block': nothing is dropped, the writer is held back instead", async () => {
    const stream = new PassThrough({ highWaterMark: 16 });
    const source = new StreamLineSource(stream, { overload: "block", maxQueueBytes: 64, sliceMs: 0 });
    const { lines, done } = collect(source, () => {
      const until = Date.now() + 1;
      while (Date.now() < until);
    });
    for (let i = 0; i < 200; i++) {
      if (!stream.write(`line-${i}\n`)) await new Promise((r) => stream.once("drain", r));
    }
    stream.end();
    await done;
    assert.equal(source.stats.droppedLines, 0);
    assert.equal(lines.length, 200);
  });
});
