// Loaded with `node --import` by bench/network.ts: writes the process's peak RSS (bytes) and CPU seconds to the file
// named by THREATLENS_BENCH_RSS when it exits, so that a command can be measured exactly as a user runs it.
import { writeFileSync } from "node:fs";

const out = process.env.THREATLENS_BENCH_RSS;
if (out) {
  process.on("exit", () => {
    const u = process.resourceUsage();
    writeFileSync(
      out,
      JSON.stringify({ maxRss: u.maxRSS * 1024, cpu: (u.userCPUTime + u.systemCPUTime) / 1e6 }),
    );
  });
}
