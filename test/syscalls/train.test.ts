import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { disposeAutoencoder } from "../../src/models/autoencoder.ts";
import { resolveModelConfig } from "../../src/syscalls/config.ts";
import { toTraceSet } from "../../src/syscalls/dataset.ts";
import { scoreTraces, scoreWindows } from "../../src/syscalls/scoring.ts";
import { readTraces } from "../../src/syscalls/traces/index.ts";
import { calibrate, type TrainedNetwork, trainNetwork } from "../../src/syscalls/train.ts";
import { TINY_CONFIG, writeSyntheticTraces } from "./synthetic.ts";
import { withTempDir } from "./traces/helpers.ts";

/** The threshold is chosen on held-out normal traces for the target false-positive rate. */
let trained: TrainedNetwork;

before(async () => {
  await withTempDir(async (dir) => {
    const data = await writeSyntheticTraces(dir, 9, { train: 80, validation: 0, attack: 0 });
    const normal = toTraceSet((await readTraces(data.train)).traces);
    trained = await trainNetwork(normal, resolveModelConfig({ ...TINY_CONFIG, heldOutFraction: 0.5 }), []);
  });
});
after(() => disposeAutoencoder(trained.network));

describe("threshold at a target FPR on held-out normal traces", () => {
  for (const targetFpr of [0.05, 0.1, 0.25, 0.5]) {
    test(`target ${targetFpr}: at most that share of held-out traces flagged, and the threshold is the lowest such`, () => {
      const model = calibrate(trained, { ...trained.config, targetFpr });
      assert.equal(trained.summary.heldOutTraces, 40);
      const held = scoreTraces(
        scoreWindows(model.network, model.scoring, trained.heldOut.windows),
        trained.heldOut.offsets,
        model.scoring,
      );
      const flagged = held.filter((s) => s >= model.threshold).length;
      assert.ok(flagged / held.length <= targetFpr, `${flagged} of ${held.length}`);
      assert.equal(model.training.heldOutFpr, flagged / held.length);
      // The highest unflagged score flagged too would exceed the target.
      const below = held.filter((s) => s < model.threshold);
      const next = Math.max(...below);
      assert.ok(held.filter((s) => s >= next).length / held.length > targetFpr);
    });
  }

  test("aggregation and normalisation change the calibration, not the network", () => {
    const median = calibrate(trained, { ...trained.config, aggregation: "median" });
    const token = calibrate(trained, { ...trained.config, normalisation: "token" });
    assert.equal(median.network, trained.network);
    assert.equal(token.scoring.tokenMean?.length, trained.network.config.vocabSize);
    assert.throws(
      () => calibrate(trained, { ...trained.config, latentDim: 99 }),
      /differs from the network's/,
    );
  });
});
