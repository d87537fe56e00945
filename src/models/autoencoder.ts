/**
 * Window autoencoder for token sequences (system calls, or any small vocabulary): Embedding → dense encoder → small
 * latent → dense decoder → per-position logits over the vocabulary, trained with cross-entropy against the input
 * tokens. Cross-entropy is used instead of MSE against the embedded window because a jointly trained embedding lets
 * MSE collapse (every token embedded at one point gives zero loss).
 *
 * Everything stochastic (initialisation, shuffling, input corruption) draws from the config seed, and the wasm
 * backend runs single-threaded, so training is reproducible bit for bit.
 */
import { createHash } from "node:crypto";
import type * as tfTypes from "@tensorflow/tfjs";
import { ModelFileError, UsageError } from "../core/errors.ts";
import { seededRandom } from "../core/random.ts";
import { createBackend, wasmTf } from "./tfjs-backend.ts";
import { dense, lookupRows, meanSoftmaxCrossEntropy } from "./tfjs-ops.ts";

type Tf = typeof tfTypes;

export interface AutoencoderConfig {
  /** Tokens are integers in [0, vocabSize). */
  vocabSize: number;
  windowLength: number;
  embeddingDim: number;
  /** Widths of the encoder's hidden layers; the decoder mirrors them. */
  hiddenLayers: number[];
  latentDim: number;
  learningRate: number;
  batchSize: number;
  /** Maximum number of passes over the training windows. */
  epochs: number;
  /** Stop after this many epochs without a lower held-out loss (0: never stop early). */
  patience: number;
  /** Share of input positions replaced by a uniformly random token while training (denoising); targets stay clean. */
  noise: number;
  /**
   * Token that hides a position (it must not occur in real windows: reserve an id for it), or null. With a mask
   * token, corrupted training positions become this token instead of a random one.
   */
  maskToken: number | null;
  /**
   * How a window is scored. "reconstruction": mean cross-entropy over the positions of the clean window.
   * "masked-center": the cross-entropy of the centre token when the centre is hidden by `maskToken`, so the model
   * must predict it from its context instead of copying it through the bottleneck (on ADFA-LD this separated
   * attacks better: see the project notes). Training then also hides the centre of half the windows.
   */
  scoring: "reconstruction" | "masked-center";
  seed: number;
}

export interface EpochReport {
  epoch: number;
  trainLoss: number;
  /** Mean cross-entropy per position on the held-out windows (NaN when there are none). */
  validLoss: number;
  ms: number;
}

/**
 * What callers see of a TensorFlow.js tensor. Declared here so that the published declarations do not depend on
 * tfjs's own, which do not compile under strict settings without skipLibCheck.
 */
export interface WeightTensor {
  readonly isDisposed: boolean;
  dispose(): void;
}

export interface TrainedAutoencoder {
  config: AutoencoderConfig;
  /** Parameters in the order of `parameterShapes(config)`: tfjs tensors. */
  weights: WeightTensor[];
  history: EpochReport[];
  /** Epoch whose weights were kept (the one with the lowest held-out loss, or the last one). */
  bestEpoch: number;
}

const FORMAT = "threatlens-window-autoencoder";
const FORMAT_VERSION = 1;
/** Windows per forward pass when scoring: keeps logits (chunk × window × vocab floats) far below the 4 GiB heap. */
const SCORE_CHUNK = 2048;

export function validateConfig(config: AutoencoderConfig): void {
  const positiveInts: (keyof AutoencoderConfig)[] = [
    "vocabSize",
    "windowLength",
    "embeddingDim",
    "latentDim",
    "batchSize",
    "epochs",
  ];
  for (const key of positiveInts) {
    const value = config[key];
    if (typeof value !== "number" || !Number.isInteger(value) || value < 1) {
      throw new UsageError(`autoencoder ${key} must be a positive integer, got ${String(value)}`);
    }
  }
  if (!Array.isArray(config.hiddenLayers) || config.hiddenLayers.some((w) => !Number.isInteger(w) || w < 1)) {
    throw new UsageError(
      `autoencoder hiddenLayers must be positive integers, got ${JSON.stringify(config.hiddenLayers)}`,
    );
  }
  if (!Number.isInteger(config.patience) || config.patience < 0) {
    throw new UsageError(`autoencoder patience must be a non-negative integer, got ${config.patience}`);
  }
  if (!(config.learningRate > 0))
    throw new UsageError(`autoencoder learningRate must be > 0, got ${config.learningRate}`);
  if (!(config.noise >= 0 && config.noise < 1))
    throw new UsageError(`autoencoder noise must be in [0, 1), got ${config.noise}`);
  if (
    config.maskToken !== null &&
    !(Number.isInteger(config.maskToken) && config.maskToken >= 0 && config.maskToken < config.vocabSize)
  ) {
    throw new UsageError(
      `autoencoder maskToken must be null or a token in [0, ${config.vocabSize}), got ${config.maskToken}`,
    );
  }
  if (config.scoring !== "reconstruction" && config.scoring !== "masked-center") {
    throw new UsageError(
      `autoencoder scoring must be "reconstruction" or "masked-center", got ${JSON.stringify(config.scoring)}`,
    );
  }
  if (config.scoring === "masked-center" && config.maskToken === null) {
    throw new UsageError('autoencoder scoring "masked-center" needs a maskToken');
  }
  if (!Number.isInteger(config.seed))
    throw new UsageError(`autoencoder seed must be an integer, got ${config.seed}`);
}

/** Names and shapes of every parameter, in storage order. */
export function parameterShapes(config: AutoencoderConfig): { name: string; shape: number[] }[] {
  const { vocabSize: v, windowLength: l, embeddingDim: d, hiddenLayers, latentDim } = config;
  const shapes = [{ name: "embedding", shape: [v, d] }];
  const dense = (name: string, from: number, to: number) => {
    shapes.push({ name: `${name}/kernel`, shape: [from, to] }, { name: `${name}/bias`, shape: [to] });
  };
  const encoderWidths = [l * d, ...hiddenLayers, latentDim];
  for (let i = 0; i + 1 < encoderWidths.length; i++)
    dense(`encoder/${i}`, encoderWidths[i], encoderWidths[i + 1]);
  const decoderWidths = [latentDim, ...[...hiddenLayers].reverse(), l * v];
  for (let i = 0; i + 1 < decoderWidths.length; i++)
    dense(`decoder/${i}`, decoderWidths[i], decoderWidths[i + 1]);
  return shapes;
}

function initialWeights(tf: Tf, config: AutoencoderConfig, random: () => number): tfTypes.Variable[] {
  return parameterShapes(config).map(({ name, shape }) => {
    const size = shape.reduce((a, b) => a * b, 1);
    const values = new Float32Array(size);
    if (name === "embedding") {
      for (let i = 0; i < size; i++) values[i] = (random() * 2 - 1) * 0.05;
    } else if (name.endsWith("/kernel")) {
      // Glorot uniform, as Keras and PyTorch-style dense layers start.
      const limit = Math.sqrt(6 / (shape[0] + shape[1]));
      for (let i = 0; i < size; i++) values[i] = (random() * 2 - 1) * limit;
    }
    return tf.variable(tf.tensor(values, shape, "float32"), true, name);
  });
}

/** Logits of shape [batch × windowLength, vocabSize]. */
function forward(
  config: AutoencoderConfig,
  weights: tfTypes.Tensor[],
  tokens: tfTypes.Tensor2D,
): tfTypes.Tensor2D {
  const batch = tokens.shape[0];
  const embedded = lookupRows(weights[0] as tfTypes.Tensor2D, tokens.reshape([-1])).reshape([
    batch,
    config.windowLength * config.embeddingDim,
  ]);
  let h = embedded as tfTypes.Tensor2D;
  const denseCount = (weights.length - 1) / 2;
  for (let i = 0; i < denseCount; i++) {
    const kernel = weights[1 + 2 * i] as tfTypes.Tensor2D;
    const bias = weights[2 + 2 * i] as tfTypes.Tensor1D;
    h = dense(h, kernel, bias, i < denseCount - 1 ? "relu" : "linear");
  }
  return h.reshape([batch * config.windowLength, config.vocabSize]);
}

/** Cross-entropy of every position: shape [batch × windowLength]. */
function positionCrossEntropy(tf: Tf, logits: tfTypes.Tensor2D, targets: tfTypes.Tensor1D): tfTypes.Tensor1D {
  const logProbs = tf.logSoftmax(logits);
  const picked = tf.sum(tf.mul(logProbs, tf.oneHot(targets, logits.shape[1])), 1);
  return tf.neg(picked) as tfTypes.Tensor1D;
}

function checkWindows(windows: Int32Array, config: AutoencoderConfig, what: string): number {
  if (windows.length % config.windowLength !== 0) {
    throw new UsageError(
      `${what}: ${windows.length} tokens is not a multiple of the window length ${config.windowLength}`,
    );
  }
  for (let i = 0; i < windows.length; i++) {
    const token = windows[i];
    if (token < 0 || token >= config.vocabSize) {
      throw new UsageError(
        `${what}: token ${token} at index ${i} is outside the vocabulary [0, ${config.vocabSize})`,
      );
    }
  }
  return windows.length / config.windowLength;
}

/**
 * Trains on `trainWindows` (n × windowLength tokens, row-major) and keeps the weights of the epoch with the lowest
 * held-out loss on `validWindows`. Both sets should be normal data only.
 */
export async function trainAutoencoder(
  trainWindows: Int32Array,
  validWindows: Int32Array,
  config: AutoencoderConfig,
  onEpoch?: (report: EpochReport) => void,
  /** Epochs done so far, fractional within an epoch (called after every batch), for progress bars. */
  onProgress?: (epochs: number) => void,
): Promise<TrainedAutoencoder> {
  validateConfig(config);
  const tf = await createBackend();
  const n = checkWindows(trainWindows, config, "training windows");
  const nValid = checkWindows(validWindows, config, "validation windows");
  if (n === 0) throw new UsageError("no training windows");
  const random = seededRandom(config.seed);
  const weights = initialWeights(tf, config, random);
  const optimizer = tf.train.adam(config.learningRate);
  const L = config.windowLength;
  const order = Int32Array.from({ length: n }, (_, i) => i);
  const history: EpochReport[] = [];
  let best: { loss: number; epoch: number; weights: tfTypes.Tensor[] } | undefined;
  let sinceBest = 0;

  try {
    for (let epoch = 1; epoch <= config.epochs; epoch++) {
      const started = performance.now();
      for (let i = n - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        const t = order[i];
        order[i] = order[j];
        order[j] = t;
      }
      let lossSum = 0;
      for (let start = 0; start < n; start += config.batchSize) {
        const rows = Math.min(config.batchSize, n - start);
        const targets = new Int32Array(rows * L);
        for (let r = 0; r < rows; r++)
          targets.set(trainWindows.subarray(order[start + r] * L, order[start + r] * L + L), r * L);
        const inputs = corrupt(targets, config, random);
        const loss = tf.tidy(() => {
          const x = tf.tensor2d(inputs, [rows, L], "int32");
          const y = tf.tensor1d(targets, "int32");
          return optimizer.minimize(
            () => meanSoftmaxCrossEntropy(forward(config, weights, x), y),
            true,
            weights as tfTypes.Variable[],
          ) as tfTypes.Scalar;
        });
        lossSum += (await loss.data())[0] * rows;
        loss.dispose();
        onProgress?.(epoch - 1 + (start + rows) / n);
      }
      const validLoss =
        nValid > 0 ? mean(scoreWindows(tf, config, weights, validWindows, nValid).windows) : Number.NaN;
      const report = { epoch, trainLoss: lossSum / n, validLoss, ms: performance.now() - started };
      history.push(report);
      onEpoch?.(report);
      if (nValid === 0 || best === undefined || validLoss < best.loss) {
        for (const w of best?.weights ?? []) w.dispose();
        best = { loss: validLoss, epoch, weights: weights.map((w) => tf.clone(w)) };
        sinceBest = 0;
      } else if (config.patience > 0 && ++sinceBest >= config.patience) {
        break;
      }
    }
  } finally {
    for (const w of weights) w.dispose();
    optimizer.dispose();
  }
  if (best === undefined) throw new Error("training ran no epoch");
  return { config, weights: best.weights, history, bestEpoch: best.epoch };
}

/** Share of training windows whose centre is hidden when scoring hides the centre: half learn to fill it in. */
const CENTER_MASK_RATE = 0.5;

function corrupt(targets: Int32Array, config: AutoencoderConfig, random: () => number): Int32Array {
  const masksCenter = config.scoring === "masked-center";
  if (config.noise === 0 && !masksCenter) return targets;
  const inputs = targets.slice();
  const L = config.windowLength;
  const center = L >> 1;
  for (let i = 0; i < inputs.length; i++) {
    if (random() < config.noise) inputs[i] = config.maskToken ?? Math.floor(random() * config.vocabSize);
  }
  if (masksCenter) {
    for (let w = 0; w < inputs.length / L; w++) {
      if (random() < CENTER_MASK_RATE) inputs[w * L + center] = config.maskToken as number;
    }
  }
  return inputs;
}

function mean(values: Float32Array): number {
  let sum = 0;
  for (const v of values) sum += v;
  return values.length === 0 ? Number.NaN : sum / values.length;
}

function scoreWindows(
  tf: Tf,
  config: AutoencoderConfig,
  weights: tfTypes.Tensor[],
  windows: Int32Array,
  n: number,
): { positions: Float32Array; windows: Float32Array } {
  const L = config.windowLength;
  const positions = new Float32Array(n * L);
  for (let start = 0; start < n; start += SCORE_CHUNK) {
    const rows = Math.min(SCORE_CHUNK, n - start);
    const tokens = windows.subarray(start * L, (start + rows) * L);
    const inputs = config.scoring === "masked-center" ? hideCenters(tokens, config) : tokens;
    const losses = tf.tidy(() => {
      const x = tf.tensor2d(inputs, [rows, L], "int32");
      return positionCrossEntropy(tf, forward(config, weights, x), tf.tensor1d(tokens, "int32"));
    });
    positions.set(losses.dataSync() as Float32Array, start * L);
    losses.dispose();
  }
  const perWindow = new Float32Array(n);
  for (let w = 0; w < n; w++) {
    if (config.scoring === "masked-center") {
      perWindow[w] = positions[w * L + (L >> 1)];
      continue;
    }
    let sum = 0;
    for (let p = 0; p < L; p++) sum += positions[w * L + p];
    perWindow[w] = sum / L;
  }
  return { positions, windows: perWindow };
}

function hideCenters(tokens: Int32Array, config: AutoencoderConfig): Int32Array {
  const hidden = tokens.slice();
  const L = config.windowLength;
  for (let i = L >> 1; i < hidden.length; i += L) hidden[i] = config.maskToken as number;
  return hidden;
}

/**
 * Each window's score (see `AutoencoderConfig.scoring`) and the cross-entropy of each of its positions
 * (n × windowLength, row-major; with "masked-center", computed with the centre hidden). Identical windows are scored
 * once: traces repeat windows heavily, so this saves most of the work.
 */
export function reconstructionLosses(
  model: TrainedAutoencoder,
  windows: Int32Array,
): { windows: Float32Array; positions: Float32Array } {
  const tf = backendOf(model);
  const L = model.config.windowLength;
  const n = checkWindows(windows, model.config, "windows to score");
  const firstSeen = new Map<string, number>();
  const uniqueOf = new Int32Array(n);
  const uniqueRows: number[] = [];
  for (let w = 0; w < n; w++) {
    const key = windows.subarray(w * L, w * L + L).join(",");
    let u = firstSeen.get(key);
    if (u === undefined) {
      u = uniqueRows.length;
      firstSeen.set(key, u);
      uniqueRows.push(w);
    }
    uniqueOf[w] = u;
  }
  const unique = new Int32Array(uniqueRows.length * L);
  for (let u = 0; u < uniqueRows.length; u++)
    unique.set(windows.subarray(uniqueRows[u] * L, uniqueRows[u] * L + L), u * L);
  const scored = scoreWindows(tf, model.config, tensors(model), unique, uniqueRows.length);
  const perWindow = new Float32Array(n);
  const positions = new Float32Array(n * L);
  for (let w = 0; w < n; w++) {
    const u = uniqueOf[w];
    perWindow[w] = scored.windows[u];
    positions.set(scored.positions.subarray(u * L, u * L + L), w * L);
  }
  return { windows: perWindow, positions };
}

/** Each window's anomaly score: its reconstruction cross-entropy (see `AutoencoderConfig.scoring`). */
export function windowLosses(model: TrainedAutoencoder, windows: Int32Array): Float32Array {
  return reconstructionLosses(model, windows).windows;
}

function backendOf(model: TrainedAutoencoder): Tf {
  const tf = wasmTf();
  if (model.weights.some((w) => w.isDisposed)) throw new Error("this autoencoder has been disposed");
  return tf;
}

function tensors(model: TrainedAutoencoder): tfTypes.Tensor[] {
  return model.weights as tfTypes.Tensor[];
}

export function disposeAutoencoder(model: TrainedAutoencoder): void {
  for (const w of model.weights) w.dispose();
}

export interface WeightEntry {
  name: string;
  shape: number[];
  dtype: "float32";
  byteOffset: number;
  byteLength: number;
}

export interface AutoencoderMeta {
  format: typeof FORMAT;
  version: number;
  config: AutoencoderConfig;
  bestEpoch: number;
  history: EpochReport[];
  weights: WeightEntry[];
  weightsByteLength: number;
  weightsSha256: string;
}

/** Plain JSON metadata plus one little-endian float32 buffer holding every parameter. */
export function serializeAutoencoder(model: TrainedAutoencoder): { meta: AutoencoderMeta; weights: Buffer } {
  backendOf(model);
  const entries: WeightEntry[] = [];
  const parts: Buffer[] = [];
  let offset = 0;
  parameterShapes(model.config).forEach(({ name, shape }, i) => {
    const values = tensors(model)[i].dataSync() as Float32Array;
    const bytes = Buffer.alloc(values.length * 4);
    for (let j = 0; j < values.length; j++) bytes.writeFloatLE(values[j], j * 4);
    entries.push({ name, shape, dtype: "float32", byteOffset: offset, byteLength: bytes.length });
    parts.push(bytes);
    offset += bytes.length;
  });
  const weights = Buffer.concat(parts);
  const meta: AutoencoderMeta = {
    format: FORMAT,
    version: FORMAT_VERSION,
    config: { ...model.config, hiddenLayers: [...model.config.hiddenLayers] },
    bestEpoch: model.bestEpoch,
    history: model.history.map((h) => ({ ...h })),
    weights: entries,
    weightsByteLength: weights.length,
    weightsSha256: sha256(weights),
  };
  return { meta, weights };
}

/** Rebuilds a model from `serializeAutoencoder` output; any mismatch is a ModelFileError. */
export async function deserializeAutoencoder(
  meta: unknown,
  weights: Uint8Array,
  file?: string,
): Promise<TrainedAutoencoder> {
  const fail = (message: string): never => {
    throw new ModelFileError(`autoencoder model: ${message}`, { file });
  };
  if (typeof meta !== "object" || meta === null) fail("metadata is not an object");
  const m = meta as Partial<AutoencoderMeta>;
  if (m.format !== FORMAT) fail(`format is ${JSON.stringify(m.format)}, expected ${JSON.stringify(FORMAT)}`);
  if (m.version !== FORMAT_VERSION)
    fail(`unsupported version ${JSON.stringify(m.version)} (this build reads ${FORMAT_VERSION})`);
  const config = m.config as AutoencoderConfig;
  try {
    validateConfig(config ?? ({} as AutoencoderConfig));
  } catch (error) {
    fail(`invalid config: ${(error as Error).message}`);
  }
  if (weights.length !== m.weightsByteLength)
    fail(`weights are ${weights.length} bytes, metadata says ${m.weightsByteLength}`);
  if (sha256(weights) !== m.weightsSha256)
    fail("weights checksum (sha256) does not match: the file is corrupted");
  const expected = parameterShapes(config);
  const entries = Array.isArray(m.weights) ? m.weights : fail("weight manifest missing");
  if (entries.length !== expected.length)
    fail(`${entries.length} weight tensors, the architecture needs ${expected.length}`);
  let offset = 0;
  expected.forEach(({ name, shape }, i) => {
    const e = entries[i];
    const bytes = shape.reduce((a, b) => a * b, 1) * 4;
    if (e?.name !== name || JSON.stringify(e.shape) !== JSON.stringify(shape) || e.dtype !== "float32") {
      fail(
        `weight ${i} is ${e?.name} ${JSON.stringify(e?.shape)} ${e?.dtype}, expected ${name} ${JSON.stringify(shape)} float32`,
      );
    }
    if (e.byteOffset !== offset || e.byteLength !== bytes)
      fail(`weight ${name} has byte range ${e.byteOffset}+${e.byteLength}, expected ${offset}+${bytes}`);
    offset += bytes;
  });
  if (offset !== weights.length)
    fail(`weights are ${weights.length} bytes, the architecture needs ${offset}`);
  const tf = await createBackend();
  const view = Buffer.from(weights.buffer, weights.byteOffset, weights.length);
  const tensors = expected.map(({ shape }, i) => {
    const values = new Float32Array(entries[i].byteLength / 4);
    for (let j = 0; j < values.length; j++) values[j] = view.readFloatLE(entries[i].byteOffset + j * 4);
    return tf.tensor(values, shape, "float32");
  });
  return {
    config: { ...config, hiddenLayers: [...config.hiddenLayers] },
    weights: tensors,
    history: Array.isArray(m.history) ? m.history : [],
    bestEpoch: typeof m.bestEpoch === "number" ? m.bestEpoch : 0,
  };
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}
