/**
 * npm run bench:network — flow extraction packets/s and peak RSS on every shared capture and on a ≥ 1 M-packet
 * capture (the shared Ethernet captures concatenated with shifted timestamps, built in /tmp by network-flows.ts and
 * removed afterwards), then the grid-search time of FlowMeter's reference grid, printed beside the reference
 * figures from ../shared/REFERENCE.md. Each measurement runs in a fresh child process so that its peak RSS is its own.
 */
import { execFileSync } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(fileURLToPath(import.meta.url), "..", "..");
const shared = join(root, "..", "shared", "data");
if (!existsSync(join(shared, "pcaps"))) {
  console.log(
    `bench:network: ${join(shared, "pcaps")} is absent; nothing to measure (the benchmark needs the shared data).`,
  );
  process.exit(0);
}

function child(script: string, args: string[]): string {
  return execFileSync(process.execPath, ["--import", "tsx", join(root, "bench", script), ...args], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  }).trim();
}

const reference = "FlowMeter: 18–25 k packets/s, 42–47 MB RSS; target ≥ 1,000,000 packets/s on one core";
console.log("flow extraction, all shared captures (one process, captures one after another)");
console.log(`  ${child("network-flows.ts", ["shared"])}`);
console.log(`  reference: ${reference}`);

const big = "/tmp/threatlens-bench";
try {
  console.log("\nflow extraction, ≥ 1 M-packet capture (shared captures concatenated, shifted in time)");
  console.log(`  ${child("network-flows.ts", ["big", "1200000"])}`);
  for (const file of ["big.pcap", "big.pcapng"]) {
    console.log(`  ${file}:`);
    for (const line of child("network-flows.ts", ["file", join(big, file)]).split("\n"))
      console.log(`    ${line}`);
  }
  console.log(`  reference: ${reference}`);
} finally {
  rmSync(big, { recursive: true, force: true });
}

const g = JSON.parse(child("network-grid.ts", [shared]).split("\n").at(-1)!);
console.log(
  "\nreference grid (6 class weights × l1/l2 × 5 C × intercept = 120 settings, 10-fold stratified, ROC AUC)",
);
console.log(
  `  data:             FlowMeter's own flows of the shared captures (≥ 15 packets): ${g.flows} flows, ${g.positives} malicious; ${g.candidates} candidates × ${g.folds} folds on ${g.workers} workers`,
);
console.log(
  `  grid search:      ${(g.gridMs / 1000).toFixed(2)} s wall (+ refit ${(g.refitMs / 1000).toFixed(2)} s); CV ROC AUC ${g.rocAuc?.toFixed(4) ?? "n/a"} (stratified, not grouped)`,
);
console.log(
  "  reference:        sklearn GridSearchCV, same grid (its l1 half fails under lbfgs); no timing in REFERENCE.md",
);
