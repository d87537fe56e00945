import { z } from "zod";
import { InputError, ModelFileError } from "../core/errors.ts";
import { seededRandom, shuffleInPlace } from "../core/random.ts";

/**
 * KitNET (Mirsky et al., "Kitsune", NDSS 2018): an anomaly detector fitted on normal rows only.
 *
 * 1. Feature mapping: the features are grouped into small clusters of correlated features — single-linkage
 *    hierarchical clustering on the distance 1 − corr(i, j), the dendrogram cut recursively until every cluster has
 *    at most `maxClusterSize` features (KitNET's corClust).
 * 2. Ensemble: one tiny autoencoder per cluster (one sigmoid hidden layer of ⌈hiddenRatio · inputs⌉ units, tied
 *    weights, sigmoid output, inputs min-max scaled on the training rows, the range floored at `minRange`), each
 *    scoring a row by its reconstruction RMSE.
 * 3. Output: one more autoencoder of the same kind reconstructs the vector of the ensemble's RMSEs; its RMSE is the
 *    anomaly score.
 *
 * Each autoencoder is trained as KitNET's dA is, by per-row stochastic gradient descent (the gradient of the
 * cross-entropy of a sigmoid output, i.e. x − z at the output), here for `epochs` seeded shuffled passes over the
 * training rows instead of KitNET's single online pass. Plain Float64Array arithmetic, not tfjs: these networks have
 * a few to a few hundred weights, so tfjs's per-op dispatch dominates; one epoch on the shared benign flows ran about
 * 5–10× faster than tfjs wasm in batches of 32 and ~200× faster than tfjs stepping per row as KitNET does
 * (`npm run bench:network-anomaly` prints both).
 *
 * The range of the min-max scaling is floored at `minRange` (KitNET divides by max − min, whatever it is): a feature
 * (or an ensemble RMSE) that barely varied on homogeneous normal rows would otherwise turn a tiny change into an
 * enormous error — a service's flows that all carry the same few packets then make any flow seen before its last ACK
 * look like an attack. With the floor, a change counts by its own (transformed) size once it is below the floor; a
 * constant feature gets the floor too (scale 1 when the floor is 0). `transform: "log1p"` applies sign(x)·log(1 + |x|)
 * first, because counts, bytes, rates and times are heavy-tailed and min-max scaling would otherwise squash normal
 * rows into a corner; a floor of 1 then means "a factor of e in a feature that never varied is one unit".
 */
export interface KitnetParams {
  /** Largest cluster (features per ensemble autoencoder); KitNET's m, 10 by default. */
  maxClusterSize: number;
  /** Hidden units per input of every autoencoder (KitNET: 0.75). */
  hiddenRatio: number;
  /** Smallest range (max − min, in transformed units) that min-max scaling divides by. */
  minRange: number;
  learningRate: number;
  /** Shuffled passes over the training rows, for the ensemble and then for the output autoencoder. */
  epochs: number;
  transform: "log1p" | "none";
  seed: number;
}

export const DEFAULT_KITNET_PARAMS: Readonly<KitnetParams> = {
  maxClusterSize: 10,
  hiddenRatio: 0.75,
  minRange: 1,
  learningRate: 0.1,
  epochs: 10,
  transform: "log1p",
  seed: 0,
};

/** One autoencoder with tied weights: h = σ(W·x̂ + b_h), z = σ(Wᵀ·h + b_v), x̂ = (x − min) · invRange. */
export interface DenseAutoencoder {
  inputs: number;
  hidden: number;
  /** hidden × inputs, row-major (row j: the weights of hidden unit j). */
  weights: number[];
  hiddenBias: number[];
  visibleBias: number[];
  min: number[];
  /** 1 / max(max − min, minRange), or 1 for a column constant on the training rows when minRange is 0. */
  invRange: number[];
}

export interface KitnetModel {
  /** Width of the rows the model scores. */
  features: number;
  transform: "log1p" | "none";
  /** Feature indexes of each ensemble member, in order. */
  clusters: number[][];
  ensemble: DenseAutoencoder[];
  output: DenseAutoencoder;
  params: KitnetParams;
}

const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));

function signedLog1p(v: number): number {
  return v >= 0 ? Math.log1p(v) : -Math.log1p(-v);
}

/** Rows (row-major, `columns` wide) with the model's transform applied, as a new matrix. */
function transformed(X: Float64Array, transform: KitnetParams["transform"]): Float64Array {
  if (transform === "none") return X;
  const out = new Float64Array(X.length);
  for (let i = 0; i < X.length; i++) out[i] = signedLog1p(X[i]);
  return out;
}

/** Pearson correlation matrix of the columns (0 for a constant column: it is close to nothing). */
export function correlationMatrix(X: Float64Array, rows: number, columns: number): Float64Array {
  const mean = new Float64Array(columns);
  for (let r = 0; r < rows; r++) for (let c = 0; c < columns; c++) mean[c] += X[r * columns + c];
  for (let c = 0; c < columns; c++) mean[c] /= rows;
  const cov = new Float64Array(columns * columns);
  const d = new Float64Array(columns);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < columns; c++) d[c] = X[r * columns + c] - mean[c];
    for (let a = 0; a < columns; a++) {
      const da = d[a];
      if (da === 0) continue;
      for (let b = a; b < columns; b++) cov[a * columns + b] += da * d[b];
    }
  }
  const corr = new Float64Array(columns * columns);
  for (let a = 0; a < columns; a++) {
    for (let b = a; b < columns; b++) {
      const denom = Math.sqrt(cov[a * columns + a] * cov[b * columns + b]);
      const v = a === b ? 1 : denom > 0 ? cov[a * columns + b] / denom : 0;
      corr[a * columns + b] = v;
      corr[b * columns + a] = v;
    }
  }
  return corr;
}

interface Dendrogram {
  leaves: number[];
  left: Dendrogram | null;
  right: Dendrogram | null;
}

/**
 * Single-linkage clustering on 1 − corr (negative distances clipped to 0, as KitNET does), then the dendrogram split
 * from the top until every cluster has at most `maxSize` members. Ties merge the lowest-numbered pair first, so the
 * result depends on the data only. Clusters are returned in order of their smallest feature.
 */
export function mapFeatures(corr: Float64Array, columns: number, maxSize: number): number[][] {
  if (columns === 0) return [];
  const distance = (a: number, b: number) => Math.max(0, 1 - corr[a * columns + b]);
  const nodes: (Dendrogram | null)[] = Array.from({ length: columns }, (_, i) => ({
    leaves: [i],
    left: null,
    right: null,
  }));
  // Single linkage: the distance between clusters is that of their closest members, kept in a dense matrix.
  const dist = new Float64Array(columns * columns);
  for (let a = 0; a < columns; a++) for (let b = 0; b < columns; b++) dist[a * columns + b] = distance(a, b);
  for (let merges = 0; merges < columns - 1; merges++) {
    let best = Number.POSITIVE_INFINITY;
    let ba = -1;
    let bb = -1;
    for (let a = 0; a < columns; a++) {
      if (nodes[a] === null) continue;
      for (let b = a + 1; b < columns; b++) {
        if (nodes[b] === null) continue;
        if (dist[a * columns + b] < best) {
          best = dist[a * columns + b];
          ba = a;
          bb = b;
        }
      }
    }
    const left = nodes[ba]!;
    const right = nodes[bb]!;
    nodes[ba] = { leaves: [...left.leaves, ...right.leaves], left, right };
    nodes[bb] = null;
    for (let c = 0; c < columns; c++) {
      const v = Math.min(dist[ba * columns + c], dist[bb * columns + c]);
      dist[ba * columns + c] = v;
      dist[c * columns + ba] = v;
    }
  }
  const root = nodes.find((n) => n !== null)!;
  const clusters: number[][] = [];
  const split = (n: Dendrogram) => {
    if (n.leaves.length <= maxSize || n.left === null || n.right === null) {
      clusters.push([...n.leaves].sort((a, b) => a - b));
      return;
    }
    split(n.left);
    split(n.right);
  };
  split(root);
  return clusters.sort((a, b) => a[0] - b[0]);
}

function initAutoencoder(
  data: Float64Array,
  rows: number,
  inputs: number,
  params: KitnetParams,
  random: () => number,
): DenseAutoencoder {
  const hidden = Math.max(1, Math.ceil(params.hiddenRatio * inputs));
  const min = new Array<number>(inputs).fill(Number.POSITIVE_INFINITY);
  const max = new Array<number>(inputs).fill(Number.NEGATIVE_INFINITY);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < inputs; c++) {
      const v = data[r * inputs + c];
      if (v < min[c]) min[c] = v;
      if (v > max[c]) max[c] = v;
    }
  }
  const invRange = min.map((lo, c) => {
    const range = Math.max(max[c] - lo, params.minRange);
    return range > 0 ? 1 / range : 1;
  });
  // KitNET's initialisation: uniform in ±1/inputs, zero biases.
  const a = 1 / inputs;
  return {
    inputs,
    hidden,
    weights: Array.from({ length: hidden * inputs }, () => (2 * random() - 1) * a),
    hiddenBias: new Array<number>(hidden).fill(0),
    visibleBias: new Array<number>(inputs).fill(0),
    min,
    invRange,
  };
}

/** Working copy of an autoencoder in typed arrays, with scratch space: scoring allocates nothing. */
class Net {
  readonly W: Float64Array;
  readonly bh: Float64Array;
  readonly bv: Float64Array;
  readonly min: Float64Array;
  readonly inv: Float64Array;
  readonly x: Float64Array;
  readonly h: Float64Array;
  readonly err: Float64Array;

  constructor(readonly ae: DenseAutoencoder) {
    this.W = Float64Array.from(ae.weights);
    this.bh = Float64Array.from(ae.hiddenBias);
    this.bv = Float64Array.from(ae.visibleBias);
    this.min = Float64Array.from(ae.min);
    this.inv = Float64Array.from(ae.invRange);
    this.x = new Float64Array(ae.inputs);
    this.h = new Float64Array(ae.hidden);
    this.err = new Float64Array(ae.inputs);
  }

  /** Reconstruction RMSE of `source[offset … offset+inputs)`; with `rate` > 0, then one SGD step on that row. */
  run(source: ArrayLike<number>, offset: number, rate: number): number {
    const { W, bh, bv, x, h, err } = this;
    const n = x.length;
    const k = h.length;
    for (let i = 0; i < n; i++) x[i] = (source[offset + i] - this.min[i]) * this.inv[i];
    for (let j = 0; j < k; j++) {
      let s = bh[j];
      const row = j * n;
      for (let i = 0; i < n; i++) s += W[row + i] * x[i];
      h[j] = sigmoid(s);
    }
    let sq = 0;
    for (let i = 0; i < n; i++) {
      let s = bv[i];
      for (let j = 0; j < k; j++) s += W[j * n + i] * h[j];
      const e = x[i] - sigmoid(s);
      err[i] = e;
      sq += e * e;
    }
    if (rate > 0) {
      // KitNET's dA step: δ_h = (W·err) ⊙ h(1 − h); ΔW = δ_h xᵀ + h errᵀ (tied weights get both terms).
      for (let j = 0; j < k; j++) {
        const row = j * n;
        let back = 0;
        for (let i = 0; i < n; i++) back += W[row + i] * err[i];
        const dh = back * h[j] * (1 - h[j]);
        const hj = h[j];
        for (let i = 0; i < n; i++) W[row + i] += rate * (dh * x[i] + hj * err[i]);
        bh[j] += rate * dh;
      }
      for (let i = 0; i < n; i++) bv[i] += rate * err[i];
    }
    return Math.sqrt(sq / n);
  }

  save(): DenseAutoencoder {
    return { ...this.ae, weights: [...this.W], hiddenBias: [...this.bh], visibleBias: [...this.bv] };
  }
}

function trainNet(
  ae: DenseAutoencoder,
  data: Float64Array,
  rows: number,
  params: KitnetParams,
  random: () => number,
): DenseAutoencoder {
  const net = new Net(ae);
  const order = Array.from({ length: rows }, (_, i) => i);
  for (let epoch = 0; epoch < params.epochs; epoch++) {
    shuffleInPlace(order, random);
    for (const r of order) net.run(data, r * ae.inputs, params.learningRate);
  }
  return net.save();
}

function columnsOf(X: Float64Array, rows: number, columns: number, pick: readonly number[]): Float64Array {
  const out = new Float64Array(rows * pick.length);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < pick.length; c++) out[r * pick.length + c] = X[r * columns + pick[c]];
  }
  return out;
}

/** Fits KitNET on `rows` normal rows of `X` (row-major, `columns` wide). */
export function trainKitnet(
  X: Float64Array,
  rows: number,
  columns: number,
  params: KitnetParams = DEFAULT_KITNET_PARAMS,
): KitnetModel {
  if (rows < 2) throw new InputError(`KitNET needs at least 2 training rows, got ${rows}`);
  if (X.length !== rows * columns)
    throw new InputError(`expected ${rows} × ${columns} values, got ${X.length}`);
  const random = seededRandom(params.seed);
  const T = transformed(X, params.transform);
  const clusters = mapFeatures(correlationMatrix(T, rows, columns), columns, params.maxClusterSize);
  const ensemble = clusters.map((cluster) => {
    const part = columnsOf(T, rows, columns, cluster);
    return trainNet(initAutoencoder(part, rows, cluster.length, params, random), part, rows, params, random);
  });
  const rmse = ensembleRmse(ensemble, clusters, T, rows, columns);
  const output = trainNet(
    initAutoencoder(rmse, rows, clusters.length, params, random),
    rmse,
    rows,
    params,
    random,
  );
  return {
    features: columns,
    transform: params.transform,
    clusters,
    ensemble,
    output,
    params: { ...params },
  };
}

function ensembleRmse(
  ensemble: DenseAutoencoder[],
  clusters: number[][],
  T: Float64Array,
  rows: number,
  columns: number,
): Float64Array {
  const out = new Float64Array(rows * ensemble.length);
  ensemble.forEach((ae, k) => {
    const net = new Net(ae);
    const part = columnsOf(T, rows, columns, clusters[k]);
    for (let r = 0; r < rows; r++) out[r * ensemble.length + k] = net.run(part, r * ae.inputs, 0);
  });
  return out;
}

/**
 * The anomaly score of one row: a closure over typed-array copies of the model with its own scratch space, so it
 * allocates nothing per row (what `network watch` calls for every flow scoring). Reads the first `features` values.
 */
export function kitnetRowScorer(model: KitnetModel): (row: ArrayLike<number>) => number {
  const nets = model.ensemble.map((ae) => new Net(ae));
  const output = new Net(model.output);
  const clusters = model.clusters.map((c) => Int32Array.from(c));
  const log = model.transform === "log1p";
  const width = Math.max(...model.clusters.map((c) => c.length));
  const part = new Float64Array(width);
  const rmse = new Float64Array(nets.length);
  return (row) => {
    for (let k = 0; k < nets.length; k++) {
      const cluster = clusters[k];
      for (let c = 0; c < cluster.length; c++) {
        const v = row[cluster[c]];
        part[c] = log ? signedLog1p(v) : v;
      }
      rmse[k] = nets[k].run(part, 0, 0);
    }
    return output.run(rmse, 0, 0);
  };
}

/** Anomaly scores of `rows` rows of `X` (row-major, `model.features` wide). */
export function kitnetScores(model: KitnetModel, X: Float64Array, rows: number): Float64Array {
  const score = kitnetRowScorer(model);
  const out = new Float64Array(rows);
  for (let r = 0; r < rows; r++) out[r] = score(X.subarray(r * model.features, (r + 1) * model.features));
  return out;
}

const finite = z.number().refine(Number.isFinite, "must be finite");
const autoencoderSchema = z
  .object({
    inputs: z.number().int().positive(),
    hidden: z.number().int().positive(),
    weights: z.array(finite),
    hiddenBias: z.array(finite),
    visibleBias: z.array(finite),
    min: z.array(finite),
    invRange: z.array(z.number().positive().refine(Number.isFinite, "must be finite")),
  })
  .strict();
export const kitnetParamsSchema = z
  .object({
    maxClusterSize: z.number().int().min(1).max(1000),
    hiddenRatio: z.number().positive().max(10),
    minRange: z.number().nonnegative().max(1e6),
    learningRate: z.number().positive().max(10),
    epochs: z.number().int().positive().max(10000),
    transform: z.enum(["log1p", "none"]),
    seed: z.number().int(),
  })
  .strict();
const kitnetSchema = z
  .object({
    features: z.number().int().positive(),
    transform: z.enum(["log1p", "none"]),
    clusters: z.array(z.array(z.number().int().nonnegative()).nonempty()).nonempty(),
    ensemble: z.array(autoencoderSchema),
    output: autoencoderSchema,
    params: kitnetParamsSchema,
  })
  .strict();

/** Checks a KitNET model read from a file: shapes agree, clusters cover every feature exactly once. */
export function validateKitnet(raw: unknown, where: { file: string; features: number }): KitnetModel {
  const fail = (message: string): never => {
    throw new ModelFileError(`invalid KitNET model: ${message}`, { file: where.file });
  };
  const parsed = kitnetSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    fail(`${issue.path.join(".")}: ${issue.message}`);
  }
  const m = parsed.data as KitnetModel;
  if (m.features !== where.features) fail(`${m.features} features, the model names ${where.features}`);
  const seen = new Uint8Array(m.features);
  for (const cluster of m.clusters) {
    for (const f of cluster) {
      if (f >= m.features) fail(`cluster feature ${f} out of range (${m.features} features)`);
      if (seen[f]) fail(`feature ${f} is in two clusters`);
      seen[f] = 1;
    }
  }
  if (seen.includes(0)) fail(`feature ${seen.indexOf(0)} is in no cluster`);
  if (m.ensemble.length !== m.clusters.length)
    fail(`${m.ensemble.length} ensemble autoencoders for ${m.clusters.length} clusters`);
  const checkShape = (ae: DenseAutoencoder, inputs: number, what: string) => {
    if (ae.inputs !== inputs) fail(`${what} has ${ae.inputs} inputs, expected ${inputs}`);
    const sizes: [string, number, number][] = [
      ["weights", ae.weights.length, ae.hidden * ae.inputs],
      ["hiddenBias", ae.hiddenBias.length, ae.hidden],
      ["visibleBias", ae.visibleBias.length, ae.inputs],
      ["min", ae.min.length, ae.inputs],
      ["invRange", ae.invRange.length, ae.inputs],
    ];
    for (const [name, got, want] of sizes)
      if (got !== want) fail(`${what}.${name} has ${got} values, expected ${want}`);
  };
  m.ensemble.forEach((ae, k) => {
    checkShape(ae, m.clusters[k].length, `ensemble ${k}`);
  });
  checkShape(m.output, m.clusters.length, "output");
  if (m.transform !== m.params.transform) fail("transform differs from params.transform");
  return m;
}
