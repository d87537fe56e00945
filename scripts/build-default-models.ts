/**
 * Rebuilds the ransomware model shipped in the package (data/models/ransomware.json) and its model card
 * (docs/models/ransomware.md), from public data and the runs recorded for threatlens:
 *   - the 11 ebpfangel logs in ../shared/data/ransomware (real samples and benign work, labels.csv);
 *   - data/recordings/ransomware/ and ransomware-b/: ransomware-like tools and benign bulk work recorded with
 *     `threatlens collect` (sets A and B, written separately: bench/workloads/ and bench/workloads-b/; their READMEs
 *     say how).
 * Usage: node --import tsx scripts/build-default-models.ts [--workers N]
 */
import { execFileSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createProgress } from "../src/core/progress.ts";
import { MIN_CREATED_FOR_HARM, MIN_DESTROYED_FOR_HARM } from "../src/ransomware/features.ts";
import { trainCommand } from "../src/ransomware/pipeline.ts";
import { describeCandidate } from "../src/ransomware/train.ts";

const root = join(fileURLToPath(import.meta.url), "..", "..");
const shared = join(root, "..", "shared", "data", "ransomware");
const recordingSets = ["ransomware", "ransomware-b"].map((set) => join(root, "data", "recordings", set));
const output = join(root, "data", "models", "ransomware.json");
const card = join(root, "docs", "models", "ransomware.md");
const workersArg = process.argv.indexOf("--workers");
const workers = workersArg > 0 ? Number(process.argv[workersArg + 1]) : undefined;

if (!existsSync(shared)) {
  console.error(`${shared} is absent: the default model is trained on the shared ebpfangel logs`);
  process.exit(1);
}
const work = mkdtempSync(join(tmpdir(), "threatlens-models-"));
try {
  const logs = readdirSync(join(shared, "logs"))
    .filter((f) => f.endsWith(".csv"))
    .map((f) => join(shared, "logs", f));
  const labelLines = readFileSync(join(shared, "labels.csv"), "utf8").trimEnd().split("\n");
  const header = labelLines[0];
  const recorded: string[] = [];
  for (const recordings of recordingSets) {
    if (!existsSync(recordings)) continue;
    // Two sets may name a log alike: each set's logs and labels get the set's name as a prefix.
    const prefix = `${recordings.split("/").pop()}--`;
    for (const name of readdirSync(recordings).sort()) {
      if (!name.endsWith(".csv.gz")) continue;
      const out = join(work, prefix + name.replace(/\.gz$/, ""));
      writeFileSync(out, execFileSync("gzip", ["-dc", join(recordings, name)], { maxBuffer: 1 << 30 }));
      recorded.push(out);
    }
    const [, ...rows] = readFileSync(join(recordings, "labels.csv"), "utf8").trimEnd().split("\n");
    const columns = header.split(",").length;
    for (const row of rows) {
      const cells = row.split(",");
      cells[0] = prefix + cells[0];
      while (cells.length < columns) cells.push("recorded");
      labelLines.push(cells.slice(0, columns).join(","));
    }
  }
  const labels = join(work, "labels.csv");
  writeFileSync(labels, `${labelLines.join("\n")}\n`);
  const progress = createProgress();
  mkdirSync(join(root, "data", "models"), { recursive: true });
  const config = join(root, "config", "ransomware-default-model.json");
  const result = await trainCommand([...logs, ...recorded], { output, labels, workers, config }, progress);
  const { model } = result;
  const cv = model.crossValidation.metrics;
  const sources = {
    shared: logs.length,
    recorded: recorded.length,
  };
  mkdirSync(join(root, "docs", "models"), { recursive: true });
  writeFileSync(
    card,
    `# Model card: the default ransomware model

\`data/models/ransomware.json\`, used by \`threatlens ransomware watch\` (and \`predict\`) when no \`--model\` is given.
Rebuilt by \`node --import tsx scripts/build-default-models.ts\` (deterministic: seeded folds).

## Data
- ${sources.shared} ebpfangel logs from \`../shared/data/ransomware/logs\` (real ransomware samples — BlackMatter, REvil,
  Avoslocker, cl0p, iFire — and benign work on a Linux VM; MIT licence), labels from its \`labels.csv\`.
- ${sources.recorded} runs recorded on this project's machines with \`threatlens collect\` (data/recordings/ransomware
  and ransomware-b, their READMEs list the workloads): ransomware-like tools written for threatlens and ordinary bulk file work.
- ${model.training.processes} processes (${model.training.ransomware} ransomware), ${model.training.snapshots} snapshots
  of processes part-way through their lives, as the live detector sees them.

## Model
${describeCandidate(model.hyperparameters)}; threshold ${model.threshold} on the SVM decision value; window
${model.windowMs} ms. The SVM reads ${model.featureNames.length} features${model.excludedFeatures?.length ? `; the ${model.excludedFeatures.length} event-type trigram counts are left out (they name each tool's exact order of calls, which is what differs between a tool the model knows and one it does not)` : ""}. Chosen by ${model.crossValidation.candidates} candidates × ${model.crossValidation.folds}-fold
cross-validation grouped by log (no log on both sides), ranked by ${model.crossValidation.selection.join(", then ")}
of each process's highest score over its life (what \`watch\` alerts on).

## Cross-validation (per process, grouped by log)
| recall | precision | MCC | ROC AUC | PR AUC | TP | FP | TN | FN |
|---|---|---|---|---|---|---|---|---|
| ${pct(cv.recall)} | ${pct(cv.precision)} | ${cv.mcc.toFixed(3)} | ${cv.rocAuc?.toFixed(4) ?? "n/a"} | ${cv.prAuc?.toFixed(4) ?? "n/a"} | ${cv.confusion.tp} | ${cv.confusion.fp} | ${cv.confusion.tn} | ${cv.confusion.fn} |

Folds hold out logs, not workloads: a workload's other run is in training, so these figures are optimistic. The
setting (config/ransomware-default-model.json) was chosen by training on one recorded set and replaying the other;
those runs, in [docs/live.md](../live.md#files-lost-before-the-alert-measured) (documents lost before the alert,
false alarms on benign work the model never saw), are the honest figures.

## What it learns from, and the harm gate
Benign rows all; ransomware rows once they show harm — ${MIN_DESTROYED_FOR_HARM} files that existed before the process
destroyed (deleted, truncated or renamed over, or user data opened for writing; its own temporary files do not count),
or ${MIN_CREATED_FOR_HARM} files created — so a one-file \`rm\` of a shell loop and a process's first events (libraries, a few
reads) do not teach it to flag every short process. The same gate holds at scoring time: a process scores below the
threshold until it shows harm, so temporary-file churn and one-file tools (\`gzip\` of one log) cannot alert whatever
the SVM says. Features are log1p-transformed, standardised and clipped to their training range.

## Known limits
- Encryption through libraries the collector does not probe (Go's crypto, statically linked OpenSSL, pure-Python
  ciphers) produces no encrypt events; the model also relies on open/create/delete/rename shapes, but a slow
  ransomware that touches a few files per minute, interleaved with ordinary work, stays below the threshold longer.
- Compression and encryption tools that rewrite many user files (gpg per file, zip, tar with --remove-files) look
  like ransomware; CryptoDrop names the same false positives. \`gzip -r\` is told apart by its output names
  (\`X_compressed_share\`): ransomware that names its output \`.gz\` gets past that feature.
- Tools that rewrite a whole tree in place, keeping every name (an editor's or formatter's atomic saves over hundreds
  of files), have the shape of in-place encryption: left out of training while an in-place Node locker that also
  keeps names was in it, set B's editor saves (150 files) alerted at scores 0.03–0.04 (bench/ransomware-lowo.ts).
- Trained on one Linux VM's logs and this project's machines: other hosts' normal work differs; retrain with your own
  recordings (\`threatlens collect\`, \`ransomware train\`) where it misfires.
`,
  );
  console.log(`wrote ${output} and ${card}`);
  console.log(
    `cross-validated: recall ${pct(cv.recall)}, precision ${pct(cv.precision)}, MCC ${cv.mcc.toFixed(3)}`,
  );
} finally {
  rmSync(work, { recursive: true, force: true });
}

function pct(v: number): string {
  return `${(v * 100).toFixed(1)} %`;
}
