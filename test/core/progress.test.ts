import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { test } from "node:test";
import { createProgress } from "../../src/core/progress.ts";

/** A terminal-like stream that records what was written. */
function fakeTerminal(): { stream: NodeJS.WriteStream; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      chunks.push(String(chunk));
      done();
    },
  }) as unknown as NodeJS.WriteStream;
  Object.assign(stream, {
    isTTY: true,
    columns: 120,
    cursorTo: () => true,
    clearLine: () => true,
    moveCursor: () => true,
  });
  return { stream, text: () => chunks.join("") };
}

test("a status line printed while a bar runs does not end the bar: later updates still draw it", () => {
  const { stream, text } = fakeTerminal();
  const progress = createProgress({ stream });
  progress.start("training", 6, "fits");
  progress.update(1.5);
  progress.info("epoch 1/4: training loss 1.23");
  const before = text().length;
  progress.update(4);
  progress.stop();
  const after = text().slice(before);
  assert.match(text(), /epoch 1\/4: training loss 1\.23/);
  assert.match(after, /training .*4\/6 fits/, "the bar is drawn again after the status line");
});

test("--quiet silences progress and status lines, not warnings", () => {
  const { stream, text } = fakeTerminal();
  const progress = createProgress({ stream, quiet: true });
  progress.start("training", 2);
  progress.info("hidden");
  progress.warn("skipped 3 invalid tokens");
  assert.equal(text(), "warning: skipped 3 invalid tokens\n");
});
