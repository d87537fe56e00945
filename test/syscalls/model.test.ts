import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { ModelFileError } from "../../src/core/errors.ts";
import { disposeAutoencoder } from "../../src/models/autoencoder.ts";
import { resolveModelConfig } from "../../src/syscalls/config.ts";
import { toTraceSet } from "../../src/syscalls/dataset.ts";
import { scoreTraceSet } from "../../src/syscalls/evaluate.ts";
import {
  encodeModel,
  loadSyscallModel,
  type SyscallModel,
  saveSyscallModel,
  writeModelDirectory,
} from "../../src/syscalls/model.ts";
import { readTraces } from "../../src/syscalls/traces/index.ts";
import { trainSyscallModel } from "../../src/syscalls/train.ts";
import { TINY_CONFIG, writeSyntheticTraces } from "./synthetic.ts";
import { withTempDir } from "./traces/helpers.ts";

/** Model directories: a saved model scores exactly as the trained one; damaged directories are refused. */
let model: SyscallModel;
let other: SyscallModel;
let traces: Awaited<ReturnType<typeof readTraces>>["traces"];

before(async () => {
  await withTempDir(async (dir) => {
    const data = await writeSyntheticTraces(dir, 5, { train: 24, validation: 8, attack: 4 });
    traces = (await readTraces([data.validation, data.attack])).traces;
    const normal = toTraceSet((await readTraces(data.train)).traces);
    model = await trainSyscallModel(normal, resolveModelConfig(TINY_CONFIG), [data.train]);
    other = await trainSyscallModel(normal, resolveModelConfig({ ...TINY_CONFIG, seed: 2 }), [data.train]);
  });
});
after(() => {
  disposeAutoencoder(model.network);
  disposeAutoencoder(other.network);
});

async function refused(dir: string, pattern: RegExp): Promise<void> {
  await assert.rejects(loadSyscallModel(dir), (error: unknown) => {
    assert.ok(error instanceof ModelFileError, String(error));
    assert.match(error.message, pattern);
    return true;
  });
}

describe("syscall model directory", () => {
  test("round trip: same vocabulary, threshold, config and trace scores", async () => {
    await withTempDir(async (dir) => {
      await saveSyscallModel(dir, model);
      const loaded = await loadSyscallModel(dir);
      try {
        assert.deepEqual(loaded.config, model.config);
        assert.deepEqual(loaded.vocabulary.names, model.vocabulary.names);
        assert.equal(loaded.threshold, model.threshold);
        assert.equal(loaded.training.bestEpoch, model.training.bestEpoch);
        const set = toTraceSet(traces);
        assert.deepEqual(scoreTraceSet(loaded, set).traceScores, scoreTraceSet(model, set).traceScores);
      } finally {
        disposeAutoencoder(loaded.network);
      }
    });
  });

  test("refuses truncated, corrupted and swapped weights", async () => {
    await withTempDir(async (dir) => {
      const a = join(dir, "a");
      const b = join(dir, "b");
      await saveSyscallModel(a, model);
      await saveSyscallModel(b, other);
      const weights = await readFile(join(a, "weights.bin"));
      await writeFile(join(a, "weights.bin"), weights.subarray(0, weights.length - 10));
      await refused(a, /weights\.bin: .*bytes, but model\.json expects \d+: the file is truncated/);
      const flipped = Buffer.from(weights);
      flipped[100] ^= 0xff;
      await writeFile(join(a, "weights.bin"), flipped);
      await refused(
        a,
        /SHA-256 does not match model\.json: the file is corrupted or belongs to another model/,
      );
      // Same architecture, other weights: same length, so only the checksum tells them apart.
      await writeFile(join(a, "weights.bin"), await readFile(join(b, "weights.bin")));
      await refused(a, /SHA-256 does not match/);
    });
  });

  test("refuses an edited, truncated or foreign model.json and a missing directory", async () => {
    await withTempDir(async (dir) => {
      await saveSyscallModel(dir, model);
      const meta = join(dir, "model.json");
      const text = await readFile(meta, "utf8");
      await writeFile(meta, text.replace(/"threshold":[^,]+/, '"threshold":0.5'));
      await refused(dir, /checksum mismatch/);
      await writeFile(meta, text.slice(0, text.length / 2));
      await refused(dir, /model\.json: not a valid JSON model file \(it may be truncated or corrupted\)/);
      await writeFile(meta, text.replace('"kind":"syscall-autoencoder"', '"kind":"ransomware-svm"'));
      await refused(dir, /this is a "ransomware-svm" model; expected a "syscall-autoencoder" model/);
      await writeFile(meta, text.replace('"version":1', '"version":99'));
      await refused(dir, /version 99 is not supported/);
      await refused(join(dir, "nope"), /no model\.json here: not a model directory/);
    });
  });

  test("refuses metadata whose parts disagree even with a valid checksum", async () => {
    await withTempDir(async (dir) => {
      const encoded = encodeModel(model);
      const window = { ...encoded.payload, config: { ...encoded.payload.config, windowLength: 9 } };
      await writeModelDirectory(dir, { ...encoded, payload: window });
      await refused(dir, /window length differs between the network \(5\) and the config \(9\)/);
      const vocabulary = encoded.payload.vocabulary as { names: string[]; counts: number[] };
      const smaller = { ...vocabulary, names: vocabulary.names.slice(1), counts: vocabulary.counts.slice(1) };
      await writeModelDirectory(dir, { ...encoded, payload: { ...encoded.payload, vocabulary: smaller } });
      await refused(dir, /the network takes \d+ tokens, the vocabulary gives \d+/);
    });
  });
});
