import type { Command } from "commander";
import { createProgress } from "../core/progress.ts";
import { runRansomwareDemo } from "../ransomware/demo.ts";
import { positiveInteger } from "./options.ts";
import { percent } from "./output.ts";

export function registerDemo(program: Command): void {
  program
    .command("demo")
    .description("run the ransomware pipeline end to end on generated sample logs (no download needed)")
    .option("-o, --output <dir>", "output directory", "out/demo")
    .option("--workers <n>", "worker threads (default: one per core)", positiveInteger)
    .option("-q, --quiet", "no progress output")
    .action(async (opts) => {
      const progress = createProgress({ quiet: opts.quiet });
      const r = await runRansomwareDemo(opts.output, progress, opts.workers);
      const e = r.evaluation;
      console.log(`\nheld-out synthetic logs: ${e.processes} processes, ${e.ransomware} ransomware`);
      console.log(
        `recall ${percent(e.recall)}, precision ${percent(e.precision)}, MCC ${e.mcc.toFixed(3)}, ROC AUC ${e.rocAuc?.toFixed(4) ?? "n/a"}`,
      );
      console.log(`model:  ${r.modelPath}`);
      console.log(`report: ${r.reportPath} (training: ${r.trainReportPath})`);
    });
}
