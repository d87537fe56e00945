import { join } from "node:path";
import type { Progress } from "../core/progress.ts";
import type { RansomwareEvaluation } from "./evaluate.ts";
import { evaluateCommand, trainCommand } from "./pipeline.ts";
import { simulateLogs } from "./simulate.ts";

/**
 * The quick start: simulate training and held-out logs, grid-search a model on the first, evaluate it on the
 * second and write the report. Needs no downloaded data.
 */
export async function runRansomwareDemo(
  outDir: string,
  progress: Progress,
  workers?: number,
): Promise<{
  evaluation: RansomwareEvaluation;
  modelPath: string;
  reportPath: string;
  trainReportPath: string;
}> {
  const trainDir = join(outDir, "train-logs");
  const testDir = join(outDir, "heldout-logs");
  const train = await simulateLogs(trainDir, { seed: 1, logs: 8 });
  const test = await simulateLogs(testDir, { seed: 2, logs: 6 });
  progress.info(
    `simulated ${train.events} training events (${train.ransomwareProcesses} ransomware processes) and ${test.events} held-out events in ${outDir}`,
  );
  const modelPath = join(outDir, "model.json");
  const trained = await trainCommand(
    [join(trainDir, "logs")],
    { output: modelPath, labels: train.labelsFile, report: join(outDir, "training-report"), workers },
    progress,
  );
  const evaluated = await evaluateCommand(
    [join(testDir, "logs")],
    { model: modelPath, labels: test.labelsFile, report: join(outDir, "report") },
    progress,
  );
  return {
    evaluation: evaluated.evaluation,
    modelPath,
    reportPath: evaluated.reportPath!,
    trainReportPath: trained.reportPath!,
  };
}
