/**
 * npm run bench:collector — what the eBPF collector costs and how much it can carry.
 *
 * 1. Overhead: wall time of `tar czf` of /usr/share/doc without the collector, with it tracing the whole host,
 *    and with it tracing only tar's process tree; runs interleaved (baseline, host, tree, baseline, …) so that
 *    load from elsewhere on the machine falls on all three alike. The target is ≤ 10 %. The collector's own CPU
 *    time (bpftrace + this process) is printed beside it.
 * 2. Ceiling: a C program doing N failing opens as fast as it can, traced by process tree; how many events per
 *    second reach the collector's output, and how many are lost, for the default perf ring and a larger one.
 *
 *   node --import tsx bench/collector.ts [--runs 3] [--events 300000] [--dir /usr/share/doc]
 *
 * Needs root, bpftrace and gcc. Timings depend on what else runs on the machine: the load average is printed.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { type CollectorOptions, startCollector } from "../src/collector/index.ts";

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "3" },
    events: { type: "string", default: "300000" },
    dir: { type: "string", default: "/usr/share/doc" },
  },
});
const runs = Number(values.runs);
const work = mkdtempSync(join(tmpdir(), "threatlens-bench-collector-"));

/** CPU seconds (user + system) used so far by a process and its reaped children. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
  return ticks / 100;
}

/** Starts `argv` behind a gate (a shell waiting for a line) so that a collector can attach first. */
function gated(argv: string[]) {
  const child = spawn("/bin/sh", ["-c", 'read _; exec "$@"', "gate", ...argv], {
    stdio: ["pipe", "ignore", "inherit"],
  });
  const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
  return {
    pid: child.pid!,
    /** Lets it run; resolves with its wall time in seconds. */
    async go(): Promise<number> {
      const started = process.hrtime.bigint();
      child.stdin!.end("go\n");
      const code = await exited;
      if (code !== 0) throw new Error(`${argv.join(" ")} exited with ${code}`);
      return Number(process.hrtime.bigint() - started) / 1e9;
    },
  };
}

async function tarRun(
  mode: "baseline" | "host" | "tree",
): Promise<{ seconds: number; collectorCpu: number; events: number; lost: number }> {
  const tar = gated(["tar", "czf", join(work, "doc.tgz"), "-C", values.dir, "."]);
  if (mode === "baseline") return { seconds: await tar.go(), collectorCpu: 0, events: 0, lost: 0 };
  const options: CollectorOptions =
    mode === "host" ? { scope: { kind: "host" } } : { scope: { kind: "pid", pid: tar.pid } };
  const collector = startCollector(options);
  collector.output.resume(); // read and discard, as fast as it comes
  await collector.ready;
  const bpftrace = collector.stats().tracerPid!;
  const cpuBefore = cpuSeconds(process.pid) + cpuSeconds(bpftrace);
  const seconds = await tar.go();
  const cpuAfter = cpuSeconds(process.pid) + cpuSeconds(bpftrace);
  const summary = await collector.stop();
  return { seconds, collectorCpu: cpuAfter - cpuBefore, events: summary.events, lost: summary.lost };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

try {
  console.log(
    `bench:collector — load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")} on ${values.dir}`,
  );
  const results: Record<string, { seconds: number; collectorCpu: number; events: number; lost: number }[]> = {
    baseline: [],
    host: [],
    tree: [],
  };
  for (let r = 0; r < runs; r++) {
    for (const mode of ["baseline", "host", "tree"] as const) {
      const result = await tarRun(mode);
      results[mode].push(result);
      console.error(
        `  run ${r + 1} ${mode.padEnd(8)} ${result.seconds.toFixed(2)} s  events ${result.events}  lost ${result.lost}`,
      );
    }
  }
  const base = median(results.baseline.map((x) => x.seconds));
  console.log(`\ntar czf ${values.dir}: median of ${runs} runs (target: overhead ≤ 10 %)`);
  console.log("  scope      wall s   overhead   collector CPU s   events   lost");
  for (const mode of ["baseline", "host", "tree"] as const) {
    const s = median(results[mode].map((x) => x.seconds));
    const overhead = mode === "baseline" ? "—" : `${(((s - base) / base) * 100).toFixed(1)} %`;
    const cpu = mode === "baseline" ? "—" : median(results[mode].map((x) => x.collectorCpu)).toFixed(2);
    const events = mode === "baseline" ? "—" : String(median(results[mode].map((x) => x.events)));
    const lost = mode === "baseline" ? "—" : String(Math.max(...results[mode].map((x) => x.lost)));
    console.log(
      `  ${mode.padEnd(9)} ${s.toFixed(2).padStart(7)}   ${overhead.padStart(8)}   ${cpu.padStart(15)}   ${events.padStart(6)}   ${lost}`,
    );
  }

  // Ceiling: failing opens as fast as one thread can make them.
  const source = join(work, "spin.c");
  writeFileSync(
    source,
    '#include <fcntl.h>\n#include <stdlib.h>\nint main(int c, char **v) { long n = atol(v[1]); for (long i = 0; i < n; i++) open("/nonexistent/threatlens-bench", O_RDONLY); return 0; }\n',
  );
  const spin = join(work, "spin");
  if (spawnSync("gcc", ["-O2", "-o", spin, source]).status !== 0) throw new Error("gcc failed");
  console.log(`\nceiling: ${values.events} failing opens from one thread, process-tree scope`);
  console.log("  ring pages/CPU   producer s   events/s delivered   received   lost");
  for (const pages of [1024, 8192]) {
    const p = gated([spin, values.events]);
    const collector = startCollector({ scope: { kind: "pid", pid: p.pid }, perfRingPages: pages });
    collector.output.resume();
    await collector.ready;
    const started = process.hrtime.bigint();
    const producer = await p.go();
    // Every event of the producer has been written once its exit row has (rows are in time order), unless the ring
    // overflowed and lost that row too: then once nothing more arrives for a second.
    let seen = -1;
    let lastArrival = process.hrtime.bigint();
    while (collector.stats().byType.exit === 0 && process.hrtime.bigint() - lastArrival < 1_000_000_000n) {
      await new Promise((r) => setTimeout(r, 5));
      const now = collector.stats().events;
      if (now !== seen) lastArrival = process.hrtime.bigint();
      seen = now;
    }
    const span = Number(lastArrival - started) / 1e9;
    const summary = await collector.stop();
    const received = summary.byType.open;
    console.log(
      `  ${String(pages).padStart(14)}   ${producer.toFixed(2).padStart(10)}   ${Math.round(received / span)
        .toLocaleString("en-US")
        .padStart(18)}   ${String(received).padStart(8)}   ${summary.lost}`,
    );
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
