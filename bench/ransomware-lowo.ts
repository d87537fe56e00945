/**
 * npm run bench:ransomware-lowo — how the live ransomware detector does on workloads it has never seen. Two modes:
 *   - leave one workload out (default): for each recorded workload, a model is trained on the shared ebpfangel logs
 *     and every OTHER workload, then the held-out workload's logs are replayed through `ransomware watch`'s engine
 *     (a replay gives the alerts a live run gives, see docs/live.md);
 *   - --train-sets A --test-sets B: train on the shared logs and the recording sets A, replay the sets B (two sets
 *     written by different people with different tools: the nearest thing here to workloads nobody has seen).
 * Reported per run: for ransomware-like runs, the documents destroyed (deleted, or renamed away) before the first
 * alert; for benign runs, the alerts (false alarms).
 *   node --import tsx bench/ransomware-lowo.ts [--sets ransomware,ransomware-b] [--config GRID.json] [--only NAME,…]
 *   node --import tsx bench/ransomware-lowo.ts --train-sets ransomware --test-sets ransomware-b
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Alert } from "../src/core/stream/alerts.ts";
import { extractFeatures } from "../src/ransomware/extract.ts";
import { readGridConfig } from "../src/ransomware/grid-config.ts";
import { readLabels } from "../src/ransomware/labels.ts";
import { saveRansomwareModel } from "../src/ransomware/model.ts";
import { attachLabels, trainRansomwareModel } from "../src/ransomware/train.ts";
import { watchRansomware } from "../src/ransomware/watch.ts";

const root = join(fileURLToPath(import.meta.url), "..", "..");
const shared = join(root, "..", "shared", "data", "ransomware");
const recordingsDir = join(root, "data", "recordings");
const args = process.argv.slice(2);
const option = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const grid = option("--config") ?? join(root, "bench", "ransomware-lowo-grid.json");
const only = option("--only")?.split(",");
const trainSets = option("--train-sets")?.split(",");
const testSets = option("--test-sets")?.split(",");
const sets = [
  ...new Set([...(option("--sets")?.split(",") ?? []), ...(trainSets ?? []), ...(testSets ?? [])]),
];
if (sets.length === 0) {
  for (const set of ["ransomware", "ransomware-b"]) if (existsSync(join(recordingsDir, set))) sets.push(set);
}
if (!existsSync(shared) || sets.length === 0) {
  console.log("bench:ransomware-lowo needs ../shared/data/ransomware and data/recordings/ransomware*");
  process.exit(0);
}

const work = mkdtempSync(join(tmpdir(), "threatlens-lowo-"));
try {
  // Logs: the shared ones, and the recordings decompressed.
  const sharedLogs = readdirSync(join(shared, "logs")).map((f) => join(shared, "logs", f));
  // Logs of every set, renamed SET--LOG so that two sets' file names never collide.
  const recorded: string[] = [];
  const recordedLabels: string[] = [];
  const setOf = new Map<string, string>();
  for (const set of sets) {
    const dir = join(recordingsDir, set);
    for (const name of readdirSync(dir).sort()) {
      if (!name.endsWith(".csv.gz")) continue;
      const log = `${set}--${name.replace(/\.gz$/, "")}`;
      const out = join(work, log);
      writeFileSync(out, execFileSync("gzip", ["-dc", join(dir, name)], { maxBuffer: 1 << 30 }));
      recorded.push(out);
      setOf.set(log, set);
    }
    for (const line of readFileSync(join(dir, "labels.csv"), "utf8").trimEnd().split("\n").slice(1)) {
      recordedLabels.push(`${set}--${line}`);
    }
  }
  const workloadOf = new Map<string, { workload: string; label: string }>();
  for (const line of recordedLabels) {
    const [log, , label, workload] = line.split(",");
    const seen = workloadOf.get(log);
    workloadOf.set(log, {
      workload: `${setOf.get(log)}/${workload}`,
      label: seen?.label === "ransomware" ? "ransomware" : label,
    });
  }
  const labelsFile = join(work, "labels.csv");
  writeFileSync(
    labelsFile,
    `${readFileSync(join(shared, "labels.csv"), "utf8").trimEnd()}\n${recordedLabels.map((l) => l.split(",").slice(0, 3).concat("recorded").join(",")).join("\n")}\n`,
  );
  const labels = await readLabels(labelsFile);
  const { rows } = await extractFeatures([...sharedLogs, ...recorded], { snapshots: true, groups: true });
  const data = attachLabels(rows, labels);
  const config = await readGridConfig(grid);
  // Each fold: the logs held out, and what the model may train on.
  const folds: { name: string; held: Set<string> }[] = [];
  if (trainSets && testSets) {
    const held = new Set(
      recorded.map((p) => p.split("/").pop()!).filter((l) => testSets.includes(setOf.get(l)!)),
    );
    const unused = new Set(
      recorded.map((p) => p.split("/").pop()!).filter((l) => !trainSets.includes(setOf.get(l)!)),
    );
    folds.push({
      name: `train ${trainSets.join("+")}, test ${testSets.join("+")}`,
      held: new Set([...held, ...unused]),
    });
    console.log(`cross-set: ${folds[0].name}; grid ${grid}`);
  } else {
    const workloads = [...new Set([...workloadOf.values()].map((w) => w.workload))].filter(
      (w) => !only || only.includes(w) || only.includes(w.split("/")[1]),
    );
    for (const workload of workloads) {
      folds.push({
        name: workload,
        held: new Set(
          [...workloadOf.entries()].filter(([, w]) => w.workload === workload).map(([log]) => log),
        ),
      });
    }
    console.log(`leave-one-workload-out: ${workloads.length} workloads, grid ${grid}`);
  }
  const results: string[] = [];
  let lostAll: number[] = [];
  let falseAlarms = 0;
  let missed = 0;
  for (const fold of folds) {
    const heldNames = fold.held;
    const tested = recorded.filter((p) => {
      const log = p.split("/").pop()!;
      return heldNames.has(log) && (!testSets || testSets.includes(setOf.get(log)!));
    });
    const keep = data.rows.map((r) => !heldNames.has(r.log));
    const subset = {
      ...data,
      rows: data.rows.filter((_, i) => keep[i]),
      y: data.y.filter((_, i) => keep[i]),
      groups: data.groups.filter((_, i) => keep[i]),
      process: data.process.filter((_, i) => keep[i]),
    };
    const ids = new Map<number, number>();
    subset.process = Int32Array.from(subset.process, (p) => {
      let id = ids.get(p);
      if (id === undefined) ids.set(p, (id = ids.size));
      return id;
    });
    subset.processes = ids.size;
    const { model } = await trainRansomwareModel(subset, { config, inputs: [], workers: 2 });
    const modelPath = join(work, `model-${folds.indexOf(fold)}.json`);
    await saveRansomwareModel(modelPath, model);
    for (const log of tested) {
      const name = log.split("/").pop()!;
      const alerts: Alert[] = [];
      await watchRansomware({
        model: modelPath,
        input: { kind: "logs", paths: [log] },
        stdout: null,
        onAlert: (a) => alerts.push(a),
      });
      const opened = alerts.filter((a) => a.status === "new");
      const label = workloadOf.get(name)!.label;
      if (label === "ransomware") {
        const lost =
          opened.length > 0 ? destroyedBefore(log, BigInt(opened[0].eventTime)) : destroyedBefore(log, null);
        if (opened.length === 0) missed++;
        else lostAll.push(lost);
        results.push(
          `${name.padEnd(32)} ransomware  ${opened.length > 0 ? `alerted after ${lost} document(s) destroyed (${opened[0].entity}, ${opened[0].comm ?? ""})` : `MISSED (${lost} documents destroyed)`}`,
        );
      } else {
        falseAlarms += opened.length;
        results.push(
          `${name.padEnd(32)} benign      ${opened.length === 0 ? "no alert" : `${opened.length} FALSE ALARM(s): ${opened.map((a) => `${a.entity} ${a.comm ?? ""} ${a.score.toFixed(2)}`).join("; ")}`}`,
        );
      }
      console.log(results.at(-1));
    }
  }
  lostAll = lostAll.sort((a, b) => a - b);
  const median = lostAll.length > 0 ? lostAll[Math.floor((lostAll.length - 1) / 2)] : Number.NaN;
  console.log(
    `\nransomware-like runs alerted: ${lostAll.length} of ${lostAll.length + missed}; documents destroyed before the alert: median ${median}, max ${lostAll.at(-1) ?? "n/a"} (targets: median ≤ 10, none over 50); false alarms on benign runs: ${falseAlarms}`,
  );
} finally {
  rmSync(work, { recursive: true, force: true });
}

/** Documents of the victim tree (/home/tl-…) deleted or renamed away before `ts` (all of them when ts is null). */
function destroyedBefore(log: string, ts: bigint | null): number {
  const gone = new Set<string>();
  const lines = readFileSync(log, "utf8").split("\n");
  for (let i = 1; i < lines.length; i++) {
    const cells = lines[i].split(",");
    if (cells.length < 10 || cells[2] !== "2") continue;
    if (ts !== null && BigInt(cells[0]) >= ts) continue;
    const path = cells[9].replace(/^"|"$/g, "");
    if (path.startsWith("/home/tl-") && !path.endsWith(".tmp")) gone.add(path);
  }
  return gone.size;
}
