/**
 * Child of bench/network.ts: times FlowMeter's reference grid (120 settings, 10-fold) on FlowMeter's own flows of
 * the shared captures (its compatibility mode: flows of ≥ 15 packets, labelled per capture); prints one JSON line.
 */
import { join } from "node:path";
import { defaultWorkerCount } from "../src/core/pool.ts";
import { loadFlows } from "../src/network/dataset.ts";
import { loadPortNames } from "../src/network/flowmeter/ports.ts";
import { REFERENCE_NETWORK_GRID, readNetworkGrid } from "../src/network/grid-config.ts";
import { readManifest } from "../src/network/labels/manifest.ts";
import { gridCandidates, trainNetworkModel } from "../src/network/train.ts";

const [shared] = process.argv.slice(2);
const pcaps = join(shared, "pcaps");
const config = await readNetworkGrid(REFERENCE_NETWORK_GRID);
const data = await loadFlows([pcaps], {
  labels: { manifest: await readManifest(join(pcaps, "manifest.tsv")) },
  featureSet: "flowmeter",
  flowSource: "flowmeter",
  portNames: () => loadPortNames(join(shared, "flowmeter", "port_names.json")),
  maxFlowsPerCapture: config.maxFlowsPerCapture,
  seed: config.seed,
});
let gridDone = 0;
const started = performance.now();
const { model } = await trainNetworkModel(data, {
  config,
  inputs: [pcaps],
  onProgress: (done, total) => {
    if (done === total) gridDone = performance.now();
  },
});
const finished = performance.now();
console.log(
  JSON.stringify({
    flows: data.rows.length,
    positives: model.training.malicious,
    candidates: gridCandidates(config).length,
    folds: config.folds,
    workers: defaultWorkerCount(),
    gridMs: gridDone - started,
    refitMs: finished - gridDone,
    rocAuc: model.crossValidation.metrics.rocAuc,
  }),
);
