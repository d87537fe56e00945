/**
 * npm run bench:syscalls — training and scoring throughput (windows/s) of the syscall autoencoder on TensorFlow.js
 * (wasm backend), for the reference architecture of ../shared/REFERENCE.md (Embedding(341,16) → 320→64→16→64→320,
 * MSE against the embedded window, 20,000 windows of 20, Adam) at batch 256 and at the shipped default batch size,
 * and for the shipped default model (src/syscalls/config.ts). Where `/usr/bin/python3 -c 'import torch'` works, the
 * same models run in PyTorch (bench/syscalls_torch.py, one thread) in the same invocation and the ratios are printed;
 * otherwise the comparison is skipped and the REFERENCE.md figures are shown instead.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type * as tfTypes from "@tensorflow/tfjs";
import { seededRandom } from "../src/core/random.ts";
import { trainAutoencoder, windowLosses } from "../src/models/autoencoder.ts";
import { createBackend } from "../src/models/tfjs-backend.ts";
import { dense as denseLayer, lookupRows } from "../src/models/tfjs-ops.ts";
import { DEFAULT_MODEL_CONFIG } from "../src/syscalls/config.ts";
import { autoencoderConfigFor } from "../src/syscalls/scoring.ts";

const WINDOWS = 20_000;
const EPOCHS = 3;
const PYTHON = "/usr/bin/python3";
/** Syscall ids of a typical vocabulary (ADFA-LD training keeps ~150 names; the reference uses 341). */
const DEFAULT_VOCABULARY = 152;

interface Rates {
  trainWindowsPerSecond: number;
  scoreWindowsPerSecond: number;
}

function randomWindows(count: number, length: number, vocab: number, seed: number): Int32Array {
  const random = seededRandom(seed);
  return Int32Array.from({ length: count * length }, () => Math.floor(random() * vocab));
}

/** The reference model as REFERENCE.md describes it, in tfjs; best epoch of EPOCHS. */
async function referenceTfjs(batch: number): Promise<Rates> {
  const tf = await createBackend();
  const V = 341;
  const L = 20;
  const data = randomWindows(WINDOWS, L, V, 1);
  const random = seededRandom(2);
  const uniform = (shape: number[], limit: number) =>
    tf.variable(
      tf.tensor(
        Float32Array.from({ length: shape.reduce((a, b) => a * b) }, () => (random() * 2 - 1) * limit),
        shape,
      ),
    );
  const widths = [L * 16, 64, 16, 64, L * 16];
  const embedding = uniform([V, 16], 0.05);
  const dense = widths
    .slice(1)
    .flatMap((w, i) => [uniform([widths[i], w], Math.sqrt(6 / (widths[i] + w))), tf.variable(tf.zeros([w]))]);
  const variables = [embedding, ...dense];
  const optimizer = tf.train.adam(1e-3);
  const forward = (x: tfTypes.Tensor2D) => {
    const e = lookupRows(embedding as tfTypes.Tensor2D, x.reshape([-1])).reshape([
      x.shape[0],
      L * 16,
    ]) as tfTypes.Tensor2D;
    let h = e;
    for (let i = 0; i < 4; i++) {
      h = denseLayer(
        h,
        dense[2 * i] as tfTypes.Tensor2D,
        dense[2 * i + 1] as tfTypes.Tensor1D,
        i < 3 ? "relu" : "linear",
      );
    }
    return tf.mean(tf.square(tf.sub(h, e)), 1);
  };
  let train = 0;
  for (let epoch = 0; epoch < EPOCHS; epoch++) {
    const started = performance.now();
    for (let start = 0; start < WINDOWS; start += batch) {
      const rows = Math.min(batch, WINDOWS - start);
      const loss = tf.tidy(() => {
        const x = tf.tensor2d(data.subarray(start * L, (start + rows) * L), [rows, L], "int32");
        return optimizer.minimize(
          () => tf.mean(forward(x)) as tfTypes.Scalar,
          true,
          variables,
        ) as tfTypes.Scalar;
      });
      await loss.data();
      loss.dispose();
    }
    train = Math.max(train, WINDOWS / ((performance.now() - started) / 1000));
  }
  const started = performance.now();
  for (let start = 0; start < WINDOWS; start += 2048) {
    const rows = Math.min(2048, WINDOWS - start);
    const scores = tf.tidy(() =>
      forward(tf.tensor2d(data.subarray(start * L, (start + rows) * L), [rows, L], "int32")),
    );
    await scores.data();
    scores.dispose();
  }
  const score = WINDOWS / ((performance.now() - started) / 1000);
  for (const v of variables) v.dispose();
  optimizer.dispose();
  return { trainWindowsPerSecond: train, scoreWindowsPerSecond: score };
}

/** The shipped default model through the production training and scoring code. */
async function defaultTfjs(): Promise<Rates> {
  const config = autoencoderConfigFor(
    { ...DEFAULT_MODEL_CONFIG, epochs: EPOCHS, patience: 0 },
    DEFAULT_VOCABULARY,
  );
  const data = randomWindows(WINDOWS, config.windowLength, DEFAULT_VOCABULARY, 3);
  const model = await trainAutoencoder(data, new Int32Array(0), config);
  const train = Math.max(...model.history.map((h) => WINDOWS / (h.ms / 1000)));
  const started = performance.now();
  windowLosses(model, data);
  const score = WINDOWS / ((performance.now() - started) / 1000);
  for (const w of model.weights) w.dispose();
  return { trainWindowsPerSecond: train, scoreWindowsPerSecond: score };
}

function torchAvailable(): boolean {
  return spawnSync(PYTHON, ["-c", "import torch"], { stdio: "ignore" }).status === 0;
}

const fmt = (v: number) => Math.round(v).toLocaleString("en-US").padStart(10);
const ratio = (ours: number, theirs: number) => `${(theirs / ours).toFixed(2)}× slower than PyTorch`;

const defaultBatch = DEFAULT_MODEL_CONFIG.batchSize;
const batches = [...new Set([256, defaultBatch])];
const defaultConfig = autoencoderConfigFor(DEFAULT_MODEL_CONFIG, DEFAULT_VOCABULARY);
console.log(
  `syscall autoencoder throughput, ${WINDOWS.toLocaleString("en-US")} random windows, best of ${EPOCHS} epochs, tfjs wasm (1 thread)`,
);
const ours: Record<string, Rates> = {};
for (const b of batches) ours[`reference@${b}`] = await referenceTfjs(b);
ours.default = await defaultTfjs();

let torch: { torch: string; reference: Record<string, Rates>; default: Rates } | undefined;
if (torchAvailable()) {
  const script = join(fileURLToPath(import.meta.url), "..", "syscalls_torch.py");
  const args = { windows: WINDOWS, epochs: EPOCHS, referenceBatches: batches, default: { ...defaultConfig } };
  const out = execFileSync(PYTHON, [script, JSON.stringify(args)], {
    encoding: "utf8",
    env: { ...process.env, OMP_NUM_THREADS: "1", OPENBLAS_NUM_THREADS: "1" },
  });
  torch = JSON.parse(out.trim().split("\n").at(-1)!);
} else {
  console.log(
    `PyTorch comparison skipped: \`${PYTHON} -c 'import torch'\` fails (install Debian python3-torch to run it)`,
  );
}

const rows: [string, Rates, Rates | undefined][] = [
  ...batches.map((b): [string, Rates, Rates | undefined] => [
    `reference MSE, batch ${b}${b === defaultBatch ? " (our default batch)" : ""}`,
    ours[`reference@${b}`],
    torch?.reference[String(b)],
  ]),
  [
    `default: w=${defaultConfig.windowLength} emb=${defaultConfig.embeddingDim} hidden=${defaultConfig.hiddenLayers.join("-")} z=${defaultConfig.latentDim} ${defaultConfig.scoring} CE, V=${defaultConfig.vocabSize}, batch ${defaultConfig.batchSize}`,
    ours.default,
    torch?.default,
  ],
];
for (const [name, mine, theirs] of rows) {
  console.log(`\n${name}`);
  console.log(
    `  training: ${fmt(mine.trainWindowsPerSecond)} windows/s${theirs ? `   PyTorch ${fmt(theirs.trainWindowsPerSecond)}  → ${ratio(mine.trainWindowsPerSecond, theirs.trainWindowsPerSecond)}` : ""}`,
  );
  console.log(
    `  scoring:  ${fmt(mine.scoreWindowsPerSecond)} windows/s${theirs ? `   PyTorch ${fmt(theirs.scoreWindowsPerSecond)}  → ${ratio(mine.scoreWindowsPerSecond, theirs.scoreWindowsPerSecond)}` : ""}`,
  );
}
if (torch) console.log(`\nPyTorch ${torch.torch}, one thread, run in this invocation.`);
console.log(
  "REFERENCE.md (PyTorch 1.13, 1 thread, batch 256): reference MSE 0.14 s/epoch = ~143,000 training windows/s, 750–850 k scoring windows/s; target: training within 3× of PyTorch.",
);
