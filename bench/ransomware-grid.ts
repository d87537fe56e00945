/** Child of bench/ransomware.ts: time the reference grid on the authors' table; print one JSON line. */
import { defaultWorkerCount } from "../src/core/pool.ts";
import { REFERENCE_GRID_FILE, readGridConfig } from "../src/ransomware/grid-config.ts";
import { readAuthorsLabels } from "../src/ransomware/labels.ts";
import { readFeatureTable } from "../src/ransomware/table.ts";
import { attachLabels, gridCandidates, trainRansomwareModel } from "../src/ransomware/train.ts";

const [tableFile, labelsFile] = process.argv.slice(2);
const table = await readFeatureTable(tableFile);
const data = attachLabels(table.rows, await readAuthorsLabels(labelsFile));
const config = await readGridConfig(REFERENCE_GRID_FILE);
let gridDone = 0;
const started = performance.now();
await trainRansomwareModel(data, {
  config,
  inputs: [tableFile],
  onProgress: (done, total) => {
    if (done === total) gridDone = performance.now();
  },
});
const finished = performance.now();
console.log(
  JSON.stringify({
    processes: data.rows.length,
    positives: data.y.reduce((a, b) => a + b, 0),
    candidates: gridCandidates(config).length,
    folds: config.folds,
    workers: defaultWorkerCount(),
    gridMs: gridDone - started,
    refitMs: finished - gridDone,
  }),
);
