/**
 * Records every workload (workloads.ts) under `threatlens collect` (extended format, the workload's process tree)
 * and writes, to the output directory:
 *   logs/NN_<workload>.csv   one event log per run
 *   labels.csv               log,pid,label: the ransomware-like processes, i.e. the processes of a ransomware-like
 *                            run that encrypted through libcrypto or created, deleted or renamed files in the
 *                            victim tree (the tool, its worker processes, `rm` or `openssl` run per file, the shell
 *                            that writes ransom notes); helpers that only read (find, sort) and everything in the
 *                            benign runs are unlisted, i.e. benign
 *   processes.csv            log,pid,comm,label,workload,events,victim_changes: every process, for a closer look
 *   runs.json                per run: workload, description, tree, the workload's own report, the collector's summary
 *
 *   node --import tsx bench/workloads/record.ts -o OUT [--only a,b] [--files N] [--seed S] [--root DIR]
 *
 * Needs root and bpftrace (the eBPF collector), gcc and libssl-dev (the C workload), /usr/bin/python3 with
 * python3-cryptography, openssl and gpg; a workload whose tools are missing is skipped, saying so.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { findExecutable } from "../../src/collector/environment.ts";
import { csvField, parseCsv } from "../../src/core/csv.ts";
import { generateTree } from "./tree.ts";
import { WORKLOAD_DIR, WORKLOADS, type Workload } from "./workloads.ts";

const root = join(WORKLOAD_DIR, "..", "..");
const { values } = parseArgs({
  options: {
    output: { type: "string", short: "o" },
    only: { type: "string" },
    files: { type: "string", default: "200" },
    seed: { type: "string", default: "7" },
    root: { type: "string", default: tmpdir() },
  },
});
if (values.output === undefined) {
  console.error("usage: record.ts -o OUT [--only a,b] [--files N] [--seed S] [--root DIR]");
  process.exit(2);
}
const out = values.output;
const only = values.only?.split(",");
const workloads = WORKLOADS.filter((w) => only === undefined || only.includes(w.name));
mkdirSync(join(out, "logs"), { recursive: true });

// Short paths: the collector keeps 63 bytes of each path (as ebpfangel did), and a tree under a long temporary
// name would leave only that name. /tmp/tl-XXXXXX/w01/Documents/taxes/2024/invoice_123.docx fits.
const scratch = mkdtempSync(join(values.root, "tl-"));
const bin = join(scratch, "bin");
mkdirSync(bin);
const gcc = spawnSync(
  "gcc",
  ["-O2", "-o", join(bin, "cransom"), join(WORKLOAD_DIR, "ransomware", "cransom.c"), "-lcrypto"],
  { encoding: "utf8" },
);
if (gcc.status !== 0)
  console.error(`record: cannot build cransom (${gcc.stderr.trim()}); C workloads skipped`);

interface Run {
  log: string;
  workload: string;
  label: string;
  description: string;
  tree: { files: number; bytes: number };
  report: unknown;
  collector: unknown;
}
const runs: Run[] = [];
const labels: string[] = ["log,pid,label"];
const processes: string[] = ["log,pid,comm,label,workload,events,victim_changes"];

function missing(w: Workload): string | null {
  for (const tool of w.needs) {
    if (tool === "gcc" && gcc.status !== 0) return "cransom did not build";
    if (findExecutable(tool) === null) return `${tool} is not installed`;
  }
  return null;
}

try {
  workloads.forEach((w, index) => {
    const why = missing(w);
    if (why !== null) {
      console.error(`record: ${w.name} skipped: ${why}`);
      return;
    }
    const tree = join(scratch, `w${String(index + 1).padStart(2, "0")}`);
    const summary = generateTree(tree, {
      files: w.files ?? Number(values.files),
      seed: Number(values.seed) + index,
    });
    const log = `${String(index + 1).padStart(2, "0")}_${w.name}.csv`;
    const report = `${tree}.report.json`;
    const command = ["env", `WORKLOAD_REPORT=${report}`, ...w.command({ tree, bin })];
    const started = Date.now();
    const r = spawnSync(
      process.execPath,
      [
        "--import",
        "tsx",
        join(root, "src", "cli", "main.ts"),
        "collect",
        "-o",
        join(out, "logs", log),
        "--json",
        "-q",
        "--",
        ...command,
      ],
      { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] },
    );
    if (r.status !== 0) throw new Error(`collect failed for ${w.name} (status ${r.status})`);
    const collected = JSON.parse(r.stdout);
    const did = existsSync(report) ? JSON.parse(readFileSync(report, "utf8")) : null;
    if (collected.command?.exitCode !== 0)
      console.error(`record: ${w.name} exited with ${collected.command?.exitCode}`);
    if (collected.lost !== 0)
      console.error(`record: ${w.name}: the collector lost ${collected.lost} records`);
    const table = parseCsv(readFileSync(join(out, "logs", log), "latin1"), log);
    const pidAt = table.header.indexOf("PID");
    const commAt = table.header.indexOf("COMM");
    const typeAt = table.header.indexOf("TYPE");
    const nameAt = table.header.indexOf("FILENAME");
    const perPid = new Map<string, { comm: string; events: number; victim: number }>();
    for (const row of table.rows) {
      const p = perPid.get(row[pidAt]) ?? { comm: row[commAt], events: 0, victim: 0 };
      const type = Number(row[typeAt]);
      // The comm after the last exec (rows before it are the gate shell's or env's).
      if (type === 4) p.comm = row[commAt];
      if (type <= 3) p.events++;
      if (type === 3 || ((type === 1 || type === 2) && row[nameAt].startsWith(`${tree}/`))) p.victim++;
      perPid.set(row[pidAt], p);
    }
    for (const [pid, p] of perPid) {
      const label = w.label === "ransomware" && p.victim > 0 ? "ransomware" : "benign";
      if (label === "ransomware") labels.push(`${log},${pid},ransomware`);
      processes.push(`${log},${pid},${csvField(p.comm)},${label},${w.name},${p.events},${p.victim}`);
    }
    runs.push({
      log,
      workload: w.name,
      label: w.label,
      description: w.description,
      tree: { files: summary.files, bytes: summary.bytes },
      report: did,
      collector: {
        events: collected.events,
        byType: collected.byType,
        lost: collected.lost,
        kernelRecords: collected.kernelRecords,
        durationMs: collected.durationMs,
      },
    });
    console.error(
      `record: ${log}: ${collected.events} events, ${perPid.size} processes, lost ${collected.lost}, ` +
        `${JSON.stringify(did)} (${((Date.now() - started) / 1000).toFixed(1)} s)`,
    );
    rmSync(tree, { recursive: true, force: true });
    rmSync(report, { force: true });
  });
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
writeFileSync(join(out, "labels.csv"), `${labels.join("\n")}\n`);
writeFileSync(join(out, "processes.csv"), `${processes.join("\n")}\n`);
writeFileSync(join(out, "runs.json"), `${JSON.stringify(runs, null, 2)}\n`);
console.error(`record: ${runs.length} runs in ${out}`);
