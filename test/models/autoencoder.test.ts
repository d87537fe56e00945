import assert from "node:assert/strict";
import { before, test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { ModelFileError, UsageError } from "../../src/core/errors.ts";
import { seededRandom } from "../../src/core/random.ts";
import {
  type AutoencoderConfig,
  deserializeAutoencoder,
  disposeAutoencoder,
  reconstructionLosses,
  serializeAutoencoder,
  type TrainedAutoencoder,
  trainAutoencoder,
  windowLosses,
} from "../../src/models/autoencoder.ts";
import { createBackend } from "../../src/models/tfjs-backend.ts";

const config: AutoencoderConfig = {
  vocabSize: 8,
  windowLength: 5,
  embeddingDim: 4,
  hiddenLayers: [12],
  latentDim: 3,
  learningRate: 0.02,
  batchSize: 64,
  epochs: 12,
  patience: 0,
  noise: 0.1,
  maskToken: null,
  scoring: "reconstruction",
  seed: 7,
};

/** Normal behaviour: the cycle 0→1→2→3→4→5 from a random phase. Tokens 6 and 7 occur only in anomalies. */
function normalWindows(count: number, seed: number): Int32Array {
  const random = seededRandom(seed);
  const out = new Int32Array(count * config.windowLength);
  for (let w = 0; w < count; w++) {
    const phase = Math.floor(random() * 6);
    for (let p = 0; p < config.windowLength; p++) out[w * config.windowLength + p] = (phase + p) % 6;
  }
  return out;
}

function anomalousWindows(count: number, seed: number): Int32Array {
  const random = seededRandom(seed);
  return Int32Array.from({ length: count * config.windowLength }, () =>
    Math.floor(random() * config.vocabSize),
  );
}

const mean = (values: Float32Array) => values.reduce((a, b) => a + b, 0) / values.length;

let model: TrainedAutoencoder;
const train = normalWindows(600, 1);
const valid = normalWindows(100, 2);

before(async () => {
  await createBackend();
  model = await trainAutoencoder(train, valid, config);
});

test("runs on the wasm backend", () => {
  assert.equal(tf.getBackend(), "wasm");
});

test("training reduces the held-out loss and reports every epoch", () => {
  assert.equal(model.history.length, config.epochs);
  const first = model.history[0];
  const best = model.history[model.bestEpoch - 1];
  assert.ok(best.validLoss < first.validLoss * 0.5, `valid loss ${first.validLoss} → ${best.validLoss}`);
  assert.ok(model.history.at(-1)!.trainLoss < first.trainLoss);
  assert.ok(
    Math.abs(mean(windowLosses(model, valid)) - best.validLoss) < 1e-4,
    "kept weights are the best epoch's",
  );
});

test("same seed gives identical training; another seed does not", async () => {
  const again = await trainAutoencoder(train, valid, config);
  assert.deepEqual(
    again.history.map((h) => [h.trainLoss, h.validLoss]),
    model.history.map((h) => [h.trainLoss, h.validLoss]),
  );
  assert.deepEqual(windowLosses(again, valid), windowLosses(model, valid));
  const progress: number[] = [];
  const other = await trainAutoencoder(train, valid, { ...config, seed: 8, epochs: 2 }, undefined, (e) =>
    progress.push(e),
  );
  assert.notDeepEqual(other.history[0].trainLoss, model.history[0].trainLoss);
  // Progress within each epoch, batch by batch, rising to the number of epochs.
  assert.ok(
    progress.some((e) => e > 0 && e < 1),
    "fractions within the first epoch",
  );
  assert.deepEqual(
    [...progress].sort((a, b) => a - b),
    progress,
  );
  assert.equal(progress.at(-1), 2);
  disposeAutoencoder(again);
  disposeAutoencoder(other);
});

test("anomalous windows reconstruct worse than normal ones", () => {
  const normal = windowLosses(model, normalWindows(200, 3));
  const anomalous = windowLosses(model, anomalousWindows(200, 4));
  let wins = 0;
  for (const a of anomalous) for (const n of normal) if (a > n) wins++;
  assert.ok(
    wins / (normal.length * anomalous.length) > 0.95,
    `pairwise AUC ${wins / (normal.length * anomalous.length)}`,
  );
});

test("position losses average to window losses, and duplicate windows get identical scores", () => {
  const windows = new Int32Array([...normalWindows(3, 5), ...normalWindows(3, 5)]);
  const { windows: perWindow, positions } = reconstructionLosses(model, windows);
  assert.equal(positions.length, windows.length);
  for (let w = 0; w < 6; w++) {
    const slice = positions.subarray(w * config.windowLength, (w + 1) * config.windowLength);
    assert.ok(Math.abs(mean(slice) - perWindow[w]) < 1e-6);
  }
  assert.deepEqual(perWindow.subarray(0, 3), perWindow.subarray(3));
});

test("scoring in chunks matches scoring one window at a time", () => {
  const windows = anomalousWindows(2500, 9);
  const all = windowLosses(model, windows);
  for (const w of [0, 2047, 2048, 2499]) {
    const single = windowLosses(
      model,
      windows.subarray(w * config.windowLength, (w + 1) * config.windowLength),
    );
    assert.ok(Math.abs(single[0] - all[w]) < 1e-5);
  }
});

test("serialize → deserialize gives identical losses", async () => {
  const { meta, weights } = serializeAutoencoder(model);
  const restored = await deserializeAutoencoder(JSON.parse(JSON.stringify(meta)), weights);
  const probe = anomalousWindows(50, 6);
  assert.deepEqual(windowLosses(restored, probe), windowLosses(model, probe));
  assert.deepEqual(restored.config, model.config);
  disposeAutoencoder(restored);
});

test("corrupted or mismatched model files are refused with ModelFileError", async () => {
  const { meta, weights } = serializeAutoencoder(model);
  const flipped = Buffer.from(weights);
  flipped[10] ^= 0xff;
  await assert.rejects(deserializeAutoencoder(meta, flipped), ModelFileError);
  await assert.rejects(deserializeAutoencoder(meta, weights.subarray(0, weights.length - 4)), ModelFileError);
  await assert.rejects(deserializeAutoencoder({ ...meta, format: "other" }, weights), ModelFileError);
  await assert.rejects(deserializeAutoencoder({ ...meta, version: 99 }, weights), ModelFileError);
  await assert.rejects(
    deserializeAutoencoder(
      { ...meta, config: { ...meta.config, latentDim: meta.config.latentDim + 1 } },
      weights,
    ),
    ModelFileError,
  );
  const reshaped = structuredClone(meta);
  reshaped.weights[1].shape = [...reshaped.weights[1].shape].reverse();
  await assert.rejects(deserializeAutoencoder(reshaped, weights), ModelFileError);
  await assert.rejects(deserializeAutoencoder(null, weights), ModelFileError);
});

test("masked-centre scoring predicts the hidden centre from its context", async () => {
  // Token 7 is reserved as the mask; a window whose centre breaks the cycle must score higher than a normal one.
  const masked = await trainAutoencoder(train, valid, {
    ...config,
    maskToken: 7,
    scoring: "masked-center",
    epochs: 8,
  });
  const normal = normalWindows(100, 11);
  const broken = normal.slice();
  for (let w = 0; w < 100; w++)
    broken[w * config.windowLength + 2] = (broken[w * config.windowLength + 2] + 3) % 6;
  const normalScores = windowLosses(masked, normal);
  const brokenScores = windowLosses(masked, broken);
  assert.ok(mean(brokenScores) > mean(normalScores) + 1, `${mean(normalScores)} vs ${mean(brokenScores)}`);
  for (let w = 0; w < 100; w++) assert.ok(brokenScores[w] > normalScores[w]);
  const { positions, windows } = reconstructionLosses(masked, normal.subarray(0, config.windowLength));
  assert.equal(windows[0], positions[2], "the window score is the centre position's loss");
  await assert.rejects(trainAutoencoder(train, valid, { ...config, scoring: "masked-center" }), UsageError);
  disposeAutoencoder(masked);
});

test("windows outside the vocabulary or of the wrong length are usage errors", async () => {
  assert.throws(() => windowLosses(model, new Int32Array([0, 1, 2, 3, 8])), UsageError);
  assert.throws(() => windowLosses(model, new Int32Array([0, 1, 2])), UsageError);
  await assert.rejects(trainAutoencoder(train, valid, { ...config, hiddenLayers: [0] }), UsageError);
  await assert.rejects(trainAutoencoder(new Int32Array(0), valid, config), UsageError);
});
