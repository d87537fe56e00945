/** Child of bench/ransomware.ts: featurise every log in a directory and print one JSON line of figures. */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { extractFeatures } from "../src/ransomware/extract.ts";

const dir = process.argv[2];
const files = readdirSync(dir)
  .sort()
  .map((f) => join(dir, f));
const started = performance.now();
const cpuBefore = process.cpuUsage();
const { summary } = await extractFeatures(files);
const cpu = process.cpuUsage(cpuBefore);
const ms = performance.now() - started;
console.log(
  JSON.stringify({
    files: files.length,
    events: summary.events,
    processes: summary.processes,
    seconds: ms / 1000,
    eventsPerSecond: summary.events / (ms / 1000),
    eventsPerCpuSecond: summary.events / ((cpu.user + cpu.system) / 1e6),
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
  }),
);
