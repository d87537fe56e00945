/**
 * npm run bench:ransomware — the ransomware commands timed as a user runs them (process start, input read, output
 * written), beside the original pipeline's figures from ../shared/REFERENCE.md, measured on this kind of machine (the
 * reference code is not part of this repository, so it cannot run in the same invocation):
 *   1. `ransomware features` on the shared logs concatenated 10 times (~2.5 M events), CSV written;
 *   2. `ransomware train --reference-grid` (10 C × 10 class weights, 5-fold, refit) followed by `ransomware evaluate`
 *      with permutation importance, on the authors' full training table — what `model.py --train` does.
 * In-process featurisation (no start-up, no output) follows, labelled as such.
 */
import { execFileSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Measurement, measure, median } from "./measure.ts";

const root = join(fileURLToPath(import.meta.url), "..", "..");
const data = join(root, "..", "shared", "data", "ransomware");
const cli = join(root, "dist", "cli", "main.js");
if (!existsSync(data)) {
  console.log(
    `bench:ransomware: ${data} is absent; nothing to measure (the benchmark needs the shared data).`,
  );
  process.exit(0);
}
if (!existsSync(cli)) throw new Error("run npm run build first (the benchmark runs the built CLI)");

const threatlens = (args: string[]) => measure(process.execPath, [cli, ...args]);
const check = (m: Measurement, what: string) => {
  if (m.code !== 0) throw new Error(`${what} failed: ${m.stderr}`);
  return m;
};
const logs = readdirSync(join(data, "logs")).filter((f) => f.endsWith(".csv"));
const work = mkdtempSync(join(tmpdir(), "threatlens-bench-"));
// Inputs in their own directory: no run may read another's output (a CSV, a model) as an input.
const inputs = join(work, "logs");
mkdirSync(inputs);
const out = join(work, "features.csv");
try {
  // 10 copies of every log, each its own file so that processes stay distinct (as 10× more recordings would be).
  for (let k = 0; k < 10; k++) {
    for (const log of logs)
      writeFileSync(join(inputs, `copy${k}_${log}`), readFileSync(join(data, "logs", log)));
  }
  const events =
    Number(execFileSync("sh", ["-c", `cat ${inputs}/*.csv | wc -l`], { encoding: "utf8" }).trim()) -
    logs.length * 10;
  const runs: Measurement[] = [];
  for (let i = 0; i < 3; i++)
    runs.push(check(await threatlens(["ransomware", "features", inputs, "-o", out, "-q"]), "features"));
  const f = median(runs);
  console.log(
    "1. threatlens ransomware features <10× shared logs> -o features.csv (median of 3, as a user runs it)",
  );
  console.log(
    `   events:      ${events.toLocaleString("en-US")} in ${logs.length * 10} files; CSV written: ${(statSync(out).size / 1048576).toFixed(1)} MiB`,
  );
  console.log(
    `   wall:        ${f.seconds.toFixed(2)} s = ${Math.round(events / f.seconds).toLocaleString("en-US")} events/s   (reference dataprep.py on 3.18 M events: 18.1–18.7 s = 172,000 events/s)`,
  );
  console.log(`   ratio:       ${(events / f.seconds / 172_000).toFixed(1)}× the reference's events/s`);
  console.log(`   peak RSS:    ${f.peakRssMiB.toFixed(0)} MiB   (reference: 1,273 MiB)`);

  const table = join(data, "authors_training_features.csv");
  const labels = join(data, "authors_training_labels.csv");
  const model = join(work, "model.json");
  const train = check(
    await threatlens([
      "ransomware",
      "train",
      table,
      "--authors-labels",
      labels,
      "--reference-grid",
      "-o",
      model,
      "-q",
    ]),
    "train",
  );
  const evaluate = check(
    await threatlens(["ransomware", "evaluate", "--model", model, table, "--authors-labels", labels, "-q"]),
    "evaluate",
  );
  const total = train.seconds + evaluate.seconds;
  console.log(
    "\n2. train --reference-grid + evaluate (permutation importance) on the authors' table (1,448 processes)",
  );
  console.log(
    `   train:       ${train.seconds.toFixed(2)} s (100 candidates × 5 folds on a worker pool, refit), peak RSS ${train.peakRssMiB.toFixed(0)} MiB`,
  );
  console.log(
    `   evaluate:    ${evaluate.seconds.toFixed(2)} s (metrics, 5 permutations per feature), peak RSS ${evaluate.peakRssMiB.toFixed(0)} MiB`,
  );
  console.log(
    `   together:    ${total.toFixed(2)} s   (reference model.py --train: 10.2–13.5 s, grid + permutation importance; ratio ${(11.85 / total).toFixed(2)}× at its midpoint)`,
  );

  const inProcess = JSON.parse(
    execFileSync(
      process.execPath,
      ["--import", "tsx", join(root, "bench", "ransomware-features.ts"), inputs],
      {
        encoding: "utf8",
      },
    )
      .trim()
      .split("\n")
      .at(-1)!,
  );
  console.log(
    "\n   in-process featurisation only (no process start, no CSV written; not comparable with the reference):",
  );
  console.log(
    `   ${Math.round(inProcess.eventsPerSecond).toLocaleString("en-US")} events/s, ${Math.round(inProcess.eventsPerCpuSecond).toLocaleString("en-US")} per CPU-second`,
  );
} finally {
  rmSync(work, { recursive: true, force: true });
}
