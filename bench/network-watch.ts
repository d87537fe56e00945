/**
 * npm run bench:network-watch — `threatlens network watch CAPTURE` replaying a capture as fast as it can, measured as
 * a user runs it (the built CLI, process start to exit, alerts written to a file), beside batch `network classify` on
 * the same capture with the same model: the packets per second the live detector sustains, and what scoring flows at
 * their scoring points and grouping them into incidents costs over batch. The capture is the attack-heavy one of
 * bench:network (the shared Ethernet captures concatenated, shifted in time and address), built in /tmp and removed.
 *   npm run bench:network-watch [-- COPIES]   (default 4 copies, about 550 k packets)
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(fileURLToPath(import.meta.url), "..", "..");
const shared = join(root, "..", "shared", "data", "pcaps");
if (!existsSync(shared)) {
  console.log(
    `bench:network-watch: ${shared} is absent; nothing to measure (the benchmark needs the shared data).`,
  );
  process.exit(0);
}
const copies = process.argv[2] ?? "4";
const RUNS = 3;

console.log("building the CLI (npm run build)…");
execFileSync("npm", ["run", "build", "--silent"], { cwd: root, stdio: "inherit" });
const cli = join(root, "dist", "cli", "main.js");
const probe = join(root, "bench", "exit-rss.mjs");
const work = mkdtempSync(join(tmpdir(), "threatlens-bench-"));

function run(args: string[]): { wall: number; cpu: number; maxRss: number; stderr: string } {
  const rssFile = join(work, "rss.json");
  const t0 = performance.now();
  const r = spawnSync(process.execPath, ["--import", probe, cli, ...args], {
    env: { ...process.env, THREATLENS_BENCH_RSS: rssFile },
    stdio: ["ignore", "ignore", "pipe"],
    encoding: "utf8",
  });
  const wall = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`threatlens ${args.join(" ")} failed: ${r.stderr}`);
  return { ...JSON.parse(readFileSync(rssFile, "utf8")), wall, stderr: r.stderr };
}

function median(values: number[]): number {
  return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
}

try {
  const line = execFileSync(
    process.execPath,
    ["--import", "tsx", join(root, "bench", "network-flows.ts"), "build", work, "big", copies],
    { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] },
  ).trim();
  const [, capture, packetText] = line.split(" ");
  const packets = Number(packetText);
  const model = join(root, "data", "models", "network.json");
  console.log(
    `capture: ${packets.toLocaleString("en")} packets (${copies} copies of the shared Ethernet captures); load average ${loadavg()[0].toFixed(1)} at start`,
  );
  const cases: [string, string[]][] = [
    [
      "network watch CAPTURE",
      ["network", "watch", capture, "--stats", "0", "-q", "--alerts", join(work, "a.jsonl")],
    ],
    [
      "network classify CAPTURE --json",
      ["network", "classify", capture, "--model", model, "--json", "-q", "-o", join(work, "c.json")],
    ],
  ];
  for (const [label, args] of cases) {
    const runs = Array.from({ length: RUNS }, () => run(args));
    const wall = median(runs.map((r) => r.wall));
    const cpu = median(runs.map((r) => r.cpu));
    const rss = Math.max(...runs.map((r) => r.maxRss)) / 2 ** 20;
    console.log(
      `  ${label.padEnd(32)} ${Math.round(packets / wall)
        .toLocaleString("en")
        .padStart(9)} packets/s wall, ${Math.round(packets / cpu)
        .toLocaleString("en")
        .padStart(
          9,
        )} per CPU-s  (median of ${RUNS}: ${wall.toFixed(2)} s wall, ${cpu.toFixed(2)} CPU-s; peak RSS ${rss.toFixed(0)} MiB)`,
    );
    const summary = runs[0].stderr.split("\n").find((l) => l.startsWith("threatlens summary"));
    if (summary) console.log(`    ${summary}`);
  }
  console.log(`load average ${loadavg()[0].toFixed(1)} at the end (other jobs share this machine)`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
