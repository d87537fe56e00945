import assert from "node:assert/strict";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { before, describe, test } from "node:test";
import {
  configHash,
  DEFAULT_MODEL_CONFIG,
  DEFAULT_SEARCH_FILE,
  readSearchConfig,
  resolveModelConfig,
  type SearchConfig,
} from "../../src/syscalls/config.ts";
import { toTraceSet } from "../../src/syscalls/dataset.ts";
import { runSearch, type SearchData, searchConfigurations } from "../../src/syscalls/search.ts";
import { readTraces } from "../../src/syscalls/traces/index.ts";
import { TINY_CONFIG, writeSyntheticTraces } from "./synthetic.ts";
import { withTempDir } from "./traces/helpers.ts";

const search: SearchConfig = {
  base: TINY_CONFIG,
  space: { signals: [["ngram", "repertoire"], ["novelty"]], ngramOrder: [4] },
};

async function load(dir: string): Promise<SearchData> {
  const paths = await writeSyntheticTraces(dir, 21, { train: 24, validation: 10, attack: 4 });
  const set = async (p: string) => toTraceSet((await readTraces(p)).traces, true);
  return {
    train: await set(paths.train),
    validation: await set(paths.validation),
    attack: await set(paths.attack),
    inputs: { train: [paths.train], validation: [paths.validation], attack: [paths.attack] },
  };
}

describe("syscall grid search", () => {
  let data: SearchData;
  before(async () => {
    await withTempDir(async (dir) => {
      data = await load(dir);
    });
  });

  test("configuration hashes ignore key order and the settings of signals not used", () => {
    const a = resolveModelConfig({ ngramOrder: 4, noveltyWindow: 5 });
    const b = resolveModelConfig({ noveltyWindow: 5, ngramOrder: 4 });
    assert.equal(configHash(a), configHash(b));
    assert.notEqual(configHash(a), configHash({ ...a, ngramOrder: 5 }));
    // Without the autoencoder signal its settings do not change the detector.
    assert.equal(configHash(a), configHash({ ...a, latentDim: 99 }));
    const configs = searchConfigurations({
      base: {},
      space: { signals: [["ngram"], ["novelty"]], ngramOrder: [3, 5] },
    });
    assert.deepEqual(
      configs.map((c) => `${c.signals.join("+")}:${c.ngramOrder}`),
      ["ngram:3", "ngram:5", "novelty:3"],
    );
    assert.throws(() => searchConfigurations({ base: {}, space: { windowLength: [1] } }), /windowLength/);
  });

  test("resumes: finished configurations are not rerun, new ones are", async () => {
    await withTempDir(async (out) => {
      const stages: string[] = [];
      const first = await runSearch(data, search, {
        outDir: out,
        workers: 1,
        onStage: (m) => stages.push(m),
      });
      assert.equal(first.skipped, 0);
      assert.equal(first.rows.length, 2);
      assert.ok(first.rows.every((r) => r.status === "ok" && r.rocAuc !== null));
      assert.ok(stages.includes("2 configuration(s) to train"), stages.join("\n"));
      assert.ok(first.heldOut !== null && first.heldOut.halves.length === 2);
      const modelFile = join(out, "runs", first.rows[0].hash, "model.json");
      const writtenAt = (await stat(modelFile)).mtimeMs;

      stages.length = 0;
      const second = await runSearch(data, search, {
        outDir: out,
        workers: 1,
        onStage: (m) => stages.push(m),
      });
      assert.equal(second.skipped, 2);
      assert.ok(stages.includes("0 configuration(s) to train"), stages.join("\n"));
      assert.equal((await stat(modelFile)).mtimeMs, writtenAt);
      assert.deepEqual(second.rows, first.rows);
      assert.equal(second.best.hash, first.best.hash);

      const wider: SearchConfig = { ...search, space: { ...search.space, ngramOrder: [4, 6] } };
      const third = await runSearch(data, wider, { outDir: out, workers: 1 });
      assert.equal(third.skipped, 2);
      assert.equal(third.rows.length, 3, "novelty alone ignores ngramOrder");
      const results = JSON.parse(await readFile(join(out, "results.json"), "utf8"));
      assert.equal(results.rows.length, 3);
      const csv = (await readFile(join(out, "results.csv"), "utf8")).trim().split("\n");
      assert.equal(csv.length, 4);
      assert.ok(csv[0].startsWith("hash,status,signals,ngramOrder,"));
      await stat(join(out, "best", "weights.bin"));
    });
  });

  test("refuses to resume on other input traces", async () => {
    await withTempDir(async (out) => {
      await runSearch(data, { ...search, space: { signals: [["novelty"]] } }, { outDir: out, workers: 1 });
      const fewer = {
        ...data,
        validation: { ...data.validation, ids: data.validation.ids.map((id) => `${id}x`) },
      };
      await assert.rejects(
        runSearch(fewer, search, { outDir: out, workers: 1 }),
        /holds a search on other input traces/,
      );
    });
  });
});

test("the default search covers the shipped default: 33 distinct detectors", async () => {
  const configs = searchConfigurations(await readSearchConfig(DEFAULT_SEARCH_FILE));
  // 16 with an order signal, with and without timing syscalls, and the repertoire alone (which reads every call).
  assert.equal(configs.length, 33);
  assert.ok(configs.some((c) => configHash(c) === configHash(DEFAULT_MODEL_CONFIG)));
});
