/**
 * Records every workload of catalogue.ts under `threatlens collect` (extended layout, the command's process tree
 * only) and writes one log per run plus labels: every process of a ransomware-like run is labelled ransomware, every
 * process of a benign run benign. Root and eBPF needed.
 *   node --import tsx bench/workloads-b/record.ts -o data/recordings/ransomware-b [--runs 2] [--only NAME,…] [--gzip]
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { WORKLOADS } from "./catalogue.ts";
import { makeDocumentTree } from "./tree.ts";

const root = join(fileURLToPath(import.meta.url), "..", "..", "..");
const cli = join(root, "dist", "cli", "main.js");
const args = process.argv.slice(2);
const option = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const out = option("-o");
if (!out) {
  console.error("usage: record.ts -o DIR [--runs N] [--only NAME,…] [--gzip]");
  process.exit(2);
}
const runs = Number(option("--runs") ?? 2);
const only = option("--only")?.split(",");
const gzip = args.includes("--gzip");
if (!existsSync(cli)) throw new Error("run npm run build first");
mkdirSync(out, { recursive: true });
const labelsFile = join(out, "labels.csv");
const labels = existsSync(labelsFile) ? readFileSync(labelsFile, "utf8").trimEnd().split("\n").slice(1) : [];
const scratchBase = mkdtempSync(join(tmpdir(), "tl-workloads-"));
try {
  for (const w of WORKLOADS) {
    if (only && !only.includes(w.name)) continue;
    if (!w.available()) {
      console.log(`skip ${w.name}: its tools are not installed here`);
      continue;
    }
    for (let run = 1; run <= runs; run++) {
      const seed = run * 1000 + w.name.length;
      const tree = makeDocumentTree(w.name, w.files, seed);
      const scratch = join(scratchBase, `${w.name}-${run}`);
      mkdirSync(scratch, { recursive: true });
      const ctx = { root: tree.root, scratch, seed };
      w.prepare?.(ctx);
      const log = join(out, `${w.name}-${run}.csv`);
      const started = Date.now();
      const r = spawnSync(process.execPath, [cli, "collect", "-o", log, "--json", "--", ...w.command(ctx)], {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "pipe"],
      });
      tree.remove();
      rmSync(`${tree.root}.copy`, { recursive: true, force: true });
      rmSync(`${tree.root}.mirror`, { recursive: true, force: true });
      if (r.status !== 0) throw new Error(`${w.name}: collect failed: ${r.stderr}`);
      const summary = JSON.parse(r.stdout);
      const { pids, attackers } = processIds(log, tree.root);
      const name = `${w.name}-${run}.csv`;
      labels.splice(0, labels.length, ...labels.filter((l) => !l.startsWith(`${name},`)));
      // In a ransomware-like run, the processes that created or deleted files in the victim's tree are ransomware;
      // the others (a shell loop, an interpreter's helpers) are benign.
      for (const pid of pids) {
        const label = w.label === "ransomware" && attackers.has(pid) ? "ransomware" : "benign";
        labels.push(`${name},${pid},${label},${w.name}`);
      }
      console.log(
        `${w.name} run ${run}: ${summary.events} events, ${pids.length} processes, ${summary.lost} lost, ${((Date.now() - started) / 1000).toFixed(1)} s`,
      );
      if (gzip) execFileSync("gzip", ["-f", "-9", log]);
      // After every run, so that an interrupted recording keeps the labels of what it recorded.
      writeFileSync(labelsFile, `log,pid,label,workload\n${labels.sort().join("\n")}\n`);
    }
  }
} finally {
  rmSync(scratchBase, { recursive: true, force: true });
}
console.log(`labels: ${labelsFile}`);

/** The processes of a log, and those that created or deleted a file under `tree`. */
function processIds(log: string, tree: string): { pids: number[]; attackers: Set<number> } {
  const pids = new Set<number>();
  const attackers = new Set<number>();
  const lines = readFileSync(log, "utf8").split("\n");
  for (let i = 1; i < lines.length; i++) {
    const cells = lines[i].split(",");
    if (cells.length < 10) continue;
    const pid = Number(cells[1]);
    pids.add(pid);
    if ((cells[2] === "1" || cells[2] === "2") && cells[9].replace(/^"/, "").startsWith(tree))
      attackers.add(pid);
  }
  return { pids: [...pids].sort((a, b) => a - b), attackers };
}
