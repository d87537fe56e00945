import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { ModelFileError, UsageError } from "../../src/core/errors.ts";
import { randomInt, seededRandom } from "../../src/core/random.ts";
import { resolveModelConfig } from "../../src/syscalls/config.ts";
import { toTraceSet } from "../../src/syscalls/dataset.ts";
import { scoreTraceSet } from "../../src/syscalls/evaluate.ts";
import {
  decodeModel,
  disposeModel,
  encodeModel,
  loadSyscallModel,
  SYSCALL_MODEL,
  type SyscallModel,
  saveSyscallModel,
  writeModelDirectory,
} from "../../src/syscalls/model.ts";
import { readTraces } from "../../src/syscalls/traces/index.ts";
import { trainSyscallModel } from "../../src/syscalls/train.ts";
import { TINY_AUTOENCODER_CONFIG, TINY_CONFIG, writeSyntheticTraces } from "./synthetic.ts";
import { withTempDir } from "./traces/helpers.ts";

/** Model directories: a saved model scores exactly as the trained one; damaged directories are refused. */
let model: SyscallModel;
let withNetwork: SyscallModel;
let traces: Awaited<ReturnType<typeof readTraces>>["traces"];

before(async () => {
  await withTempDir(async (dir) => {
    const data = await writeSyntheticTraces(dir, 5, { train: 24, validation: 8, attack: 4 });
    traces = (await readTraces([data.validation, data.attack])).traces;
    const normal = toTraceSet((await readTraces(data.train)).traces);
    model = await trainSyscallModel(normal, resolveModelConfig(TINY_CONFIG), [data.train]);
    withNetwork = await trainSyscallModel(normal, resolveModelConfig(TINY_AUTOENCODER_CONFIG), [data.train]);
  });
});
after(() => {
  disposeModel(model);
  disposeModel(withNetwork);
});

async function refused(dir: string, pattern: RegExp): Promise<void> {
  await assert.rejects(loadSyscallModel(dir), (error: unknown) => {
    assert.ok(error instanceof ModelFileError, String(error));
    assert.match(error.message, pattern);
    return true;
  });
}

const scores = (m: SyscallModel) => scoreTraceSet(m, toTraceSet(traces)).map((t) => t.score);

describe("syscall model directory", () => {
  for (const which of ["n-gram signals", "with the autoencoder"]) {
    test(`round trip (${which}): same config, vocabulary, calibration and trace scores`, async () => {
      const original = which === "n-gram signals" ? model : withNetwork;
      await withTempDir(async (dir) => {
        await saveSyscallModel(dir, original);
        const loaded = await loadSyscallModel(dir);
        try {
          assert.deepEqual(loaded.config, original.config);
          assert.deepEqual(loaded.vocabulary.names, original.vocabulary.names);
          assert.deepEqual(loaded.calibration, original.calibration);
          assert.deepEqual(scores(loaded), scores(original));
        } finally {
          disposeModel(loaded);
        }
      });
    });
  }

  test("refuses truncated and corrupted weights, an edited, truncated or foreign model.json", async () => {
    await withTempDir(async (dir) => {
      await saveSyscallModel(dir, model);
      const weights = await readFile(join(dir, "weights.bin"));
      await writeFile(join(dir, "weights.bin"), weights.subarray(0, weights.length - 10));
      await refused(dir, /weights\.bin: .*bytes, but model\.json expects \d+: the file is truncated/);
      const flipped = Buffer.from(weights);
      flipped[100] ^= 0xff;
      await writeFile(join(dir, "weights.bin"), flipped);
      await refused(dir, /SHA-256 does not match model\.json/);
      await writeFile(join(dir, "weights.bin"), weights);
      const meta = join(dir, "model.json");
      const text = await readFile(meta, "utf8");
      await writeFile(meta, text.replace(/"threshold":[^,]+/, '"threshold":0.5'));
      await refused(dir, /checksum mismatch/);
      await writeFile(meta, text.slice(0, text.length / 2));
      await refused(dir, /model\.json: not a valid JSON model file/);
      await writeFile(meta, text.replace('"kind":"syscall-detector"', '"kind":"syscall-autoencoder"'));
      await refused(dir, /this is a "syscall-autoencoder" model; expected a "syscall-detector" model/);
      await refused(join(dir, "nope"), /no model\.json here: not a model directory/);
    });
  });

  test("a path to model.json instead of its directory is a usage error that says which directory to pass", async () => {
    await withTempDir(async (dir) => {
      await saveSyscallModel(dir, model);
      await assert.rejects(loadSyscallModel(join(dir, "model.json")), (error: unknown) => {
        assert.ok(error instanceof UsageError);
        assert.match(error.message, /expected a model directory .*got a file: pass .* instead/);
        assert.doesNotMatch(error.message, /ENOTDIR/);
        return true;
      });
    });
  });

  test("refuses metadata whose parts disagree even with a valid checksum", async () => {
    await withTempDir(async (dir) => {
      const encoded = encodeModel(model);
      const p = encoded.payload;
      const without = {
        ...p,
        calibration: { ...p.calibration, normal: { ngram: p.calibration.normal.ngram } },
      };
      await writeModelDirectory(dir, { ...encoded, payload: without });
      await refused(dir, /no calibration scores for the novelty signal/);
      const profiles = p.profiles.map((x) => ({ ...x, grams: x.grams + 1 }));
      await writeModelDirectory(dir, { ...encoded, payload: { ...p, profiles } });
      await refused(dir, /profile 0: the arrays hold \d+ grams/);
      const net = encodeModel(withNetwork);
      const noSignal = { ...net.payload, config: { ...net.payload.config, signals: model.config.signals } };
      await writeModelDirectory(dir, { ...net, payload: noSignal });
      await refused(dir, /a network without the autoencoder signal/);
    });
  });

  test("fuzz: random damage to the metadata (re-signed) gives a usable model or a ModelFileError, nothing else", async () => {
    const encoded = encodeModel(model);
    const random = seededRandom(21);
    const junk = [null, "x", -1, 0, 1.5, 1e308, [], {}, true, [3, 1], ["read"]];
    let rejected = 0;
    for (let trial = 0; trial < 300; trial++) {
      const copy = structuredClone(encoded.payload) as unknown as Record<string, unknown>;
      let parent: Record<string, unknown> | unknown[] = copy;
      let key: string | number = "";
      for (let depth = 0; depth < 5; depth++) {
        const keys: (string | number)[] = Array.isArray(parent) ? [...parent.keys()] : Object.keys(parent);
        if (keys.length === 0) break;
        key = keys[randomInt(random, keys.length)];
        const child: unknown = (parent as Record<string | number, unknown>)[key];
        if (typeof child !== "object" || child === null || random() < 0.25) break;
        parent = child as Record<string, unknown> | unknown[];
      }
      const node = parent as Record<string | number, unknown>;
      const action = randomInt(random, 3);
      if (action === 0) node[key] = junk[randomInt(random, junk.length)];
      else if (action === 1) delete node[key];
      else if (Array.isArray(node[key])) (node[key] as unknown[]).length = randomInt(random, 3);
      // Loading validates the schema, then decodeModel cross-checks the parts: both, as loadSyscallModel does.
      try {
        const parsed = SYSCALL_MODEL.schema.safeParse(copy);
        if (!parsed.success) throw new ModelFileError("schema");
        const loaded = await decodeModel(parsed.data, encoded.weights, "model.json");
        const got = scores(loaded);
        assert.ok(
          got.every((s) => Number.isFinite(s)),
          `trial ${trial}: accepted model scores ${got}`,
        );
        disposeModel(loaded);
      } catch (error) {
        assert.ok(error instanceof ModelFileError, `trial ${trial}: ${(error as Error).stack}`);
        rejected++;
      }
    }
    assert.ok(rejected > 150, `only ${rejected} of 300 damaged models rejected`);
  });
});
