/**
 * npm run bench:network-blend — why the default network model blends its boosted trees with a KitNET anomaly part,
 * and why by the mean: on the shared captures (capped as training caps them), for fold seeds 7, 1, 2, 3, the shipped
 * trees candidate (weighting `sqrt`) and the shipped anomaly part are cross-validated on the same folds — grouped by
 * capture, and one fold per source — each fold's trees and anomaly part fitted without it (the part calibrated on
 * inner folds, as `network train` does), then their out-of-fold scores are combined four ways. Printed: pooled and
 * per-capture ROC AUC, and the mean share of flagged flows in benign and in malicious captures at 0.5.
 */
import { existsSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Fold, leaveOneGroupOut } from "../src/core/folds.ts";
import evaluateGbdtFold from "../src/models/gbdt-cv-worker.ts";
import { outOfFoldAnomaly } from "../src/network/anomaly.ts";
import { loadFlows } from "../src/network/dataset.ts";
import { makeFolds } from "../src/network/folds.ts";
import { DEFAULT_NETWORK_GRID, type GbdtGridConfig, readNetworkGrid } from "../src/network/grid-config.ts";
import { readManifest } from "../src/network/labels/manifest.ts";
import { flowMetrics } from "../src/network/metrics.ts";
import { blendScores } from "../src/network/model.ts";
import { type GbdtCandidate, gbdtParams, gridCandidates } from "../src/network/train.ts";

const root = join(fileURLToPath(import.meta.url), "..", "..");
const pcaps = join(root, "..", "shared", "data", "pcaps");
if (!existsSync(pcaps)) {
  console.log(`bench:network-blend: ${pcaps} is absent; nothing to measure.`);
  process.exit(0);
}
const config = (await readNetworkGrid(DEFAULT_NETWORK_GRID)) as GbdtGridConfig;
if (config.anomaly === undefined) throw new Error("the default config has no anomaly part");
const anomaly = config.anomaly;
const candidate = (gridCandidates(config) as GbdtCandidate[]).find((c) => c.weighting === "sqrt");
if (candidate === undefined) throw new Error("the default grid has no sqrt candidate");
const FOLD_SEEDS = [7, 1, 2, 3];
const logit = (p: number) => Math.log(Math.max(p, 1e-12) / Math.max(1 - p, 1e-12));
const COMBINATIONS: [string, (trees: number, part: number) => number][] = [
  ["trees alone", (t) => t],
  ["anomaly part alone", (_, a) => a],
  ["mean (shipped)", blendScores],
  ["mean of log-odds", (t, a) => 1 / (1 + Math.exp(-(logit(t) + logit(a)) / 2))],
  ["maximum", (t, a) => Math.max(t, a)],
  ["1 − (1 − t)(1 − a)", (t, a) => 1 - (1 - t) * (1 - a)],
];

console.log(`load average ${loadavg()[0].toFixed(1)} at start (other jobs share this machine)`);
const started = performance.now();
const data = await loadFlows([pcaps], {
  labels: { manifest: await readManifest(join(pcaps, "manifest.tsv")) },
  maxFlowsPerCapture: config.maxFlowsPerCapture,
  seed: config.seed,
});
const y = data.y!;
const columns = data.featureNames.length;
const X = new Float64Array(data.rows.length * columns);
data.rows.forEach((r, i) => {
  X.set(r, i * columns);
});
const codes = new Map<string, number>();
const groups = Int32Array.from(data.groups, (g) => {
  if (!codes.has(g)) codes.set(g, codes.size);
  return codes.get(g)!;
});
console.log(`${data.rows.length} flows from ${codes.size} captures (capped at ${config.maxFlowsPerCapture})`);

for (const seed of FOLD_SEEDS) {
  const designs: [string, Fold[]][] = [
    [`grouped 5-fold, fold seed ${seed}`, makeFolds({ ...data, y }, { ...config, seed })],
    // The by-source folds are fixed; the seed still changes KitNET's fits.
    [`one fold per source, KitNET seed ${seed}`, leaveOneGroupOut(data.sources)],
  ];
  for (const [what, folds] of designs) {
    const trees = new Float64Array(y.length);
    for (const fold of folds) {
      const { probability } = evaluateGbdtFold({
        X,
        columns,
        y,
        groups,
        train: fold.train,
        test: fold.test,
        params: gbdtParams(candidate),
        weighting: candidate.weighting,
      });
      fold.test.forEach((i, k) => {
        trees[i] = probability[k];
      });
    }
    const { scores: part } = outOfFoldAnomaly(data, y, folds, {
      model: "kitnet",
      ...anomaly,
      folds: config.folds,
      cv: "grouped",
      seed,
      maxFlowsPerCapture: config.maxFlowsPerCapture,
    });
    console.log(`\n${what}`);
    for (const [name, combine] of COMBINATIONS) {
      const m = flowMetrics(
        y,
        trees.map((t, i) => combine(t, part[i])),
        data.groups,
        0.5,
      );
      console.log(
        `  ${name.padEnd(22)} pooled ROC AUC ${m.rocAuc!.toFixed(3)}, per capture ${m.captureRocAuc!.toFixed(3)}; flagged in benign captures ${pct(m.captureFpr)}, in malicious ${pct(m.captureRecall)}`,
      );
    }
  }
}
console.log(
  `\n${((performance.now() - started) / 1000).toFixed(0)} s; load average ${loadavg()[0].toFixed(1)} at the end`,
);

function pct(v: number | null): string {
  return v === null ? "n/a" : `${(100 * v).toFixed(1)} %`;
}
