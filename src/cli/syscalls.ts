import { type Command, InvalidArgumentError, Option } from "commander";
import { DIRECTORY_METADATA_FILE } from "../core/artifact.ts";
import { createProgress } from "../core/progress.ts";
import { ARCHES } from "../syscalls/tables.ts";
import { TRACE_FORMATS } from "../syscalls/traces/index.ts";
import { integer, positiveInteger, positiveNumber } from "./options.ts";
import { formatTable, percent, printJson } from "./output.ts";

/**
 * The pipeline (and TensorFlow.js behind it) is loaded only when a syscalls command runs, so that the other
 * detectors' commands do not pay its start-up time.
 */
const pipeline = () => import("../syscalls/pipeline.ts");

const TRACE_HELP =
  "trace files or directories: ADFA-LD (syscall numbers), syscall names, or strace -f output";

function readOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option("--format <format>", "trace format (default: detected per file)").choices([
        ...TRACE_FORMATS,
      ]),
    )
    .addOption(
      new Option("--arch <arch>", "syscall table for numeric traces").choices([...ARCHES]).default("i386"),
    )
    .option(
      "--skip-invalid",
      "skip malformed tokens and strace lines (counted and reported) instead of stopping",
    )
    .option("-q, --quiet", "no progress output on stderr");
}

function readOptionsOf(opts: Record<string, unknown>) {
  return {
    format: opts.format as (typeof TRACE_FORMATS)[number] | undefined,
    arch: opts.arch as (typeof ARCHES)[number],
    skipInvalid: opts.skipInvalid === true,
  };
}

function fraction(value: string): number {
  const n = positiveNumber(value);
  if (n >= 1) throw new InvalidArgumentError("expected a number between 0 and 1");
  return n;
}

export function registerSyscalls(program: Command): void {
  const group = program
    .command("syscalls")
    .description(
      "system-call anomaly detector: autoencoder on syscall windows, trained on normal traces only",
    );

  readOptions(
    group
      .command("train")
      .description(
        "train on normal traces; hold some out for early stopping and the threshold; write a model directory",
      )
      .argument("<normal...>", TRACE_HELP)
      .requiredOption(
        "-o, --output <dir>",
        `model directory to write (${DIRECTORY_METADATA_FILE} + weights.bin)`,
      )
      .option("--config <file>", "model config (JSON; keys override the defaults, see docs/syscalls.md)")
      .option(
        "--target-fpr <rate>",
        "false-positive rate on held-out normal traces for the threshold (default 0.05)",
        fraction,
      )
      .option("--window <n>", "window length in syscalls", positiveInteger)
      .option("--stride <n>", "step between training windows", positiveInteger)
      .option("--epochs <n>", "maximum epochs", positiveInteger)
      .option("--aggregation <how>", "trace score from window scores: mean, median, max or top-F")
      .option("--seed <n>", "seed for the split, initialisation and shuffling", integer)
      .option("--json", "print the training summary as one JSON object"),
  ).action(async (normal: string[], opts) => {
    const progress = createProgress({ quiet: opts.quiet });
    const model = await (await pipeline()).trainCommand(
      normal,
      {
        ...readOptionsOf(opts),
        output: opts.output,
        config: opts.config,
        overrides: {
          targetFpr: opts.targetFpr,
          windowLength: opts.window,
          stride: opts.stride,
          epochs: opts.epochs,
          aggregation: opts.aggregation,
          seed: opts.seed,
        },
      },
      progress,
    );
    const t = model.training;
    if (opts.json) {
      printJson({ model: opts.output, config: model.config, threshold: model.threshold, training: t });
      return;
    }
    console.log(`model written to ${opts.output}`);
    console.log(
      `trained on ${t.fitTraces} traces (${t.fitWindows} windows), ${t.epochs} epochs, kept epoch ${t.bestEpoch} (held-out loss ${t.heldOutLoss?.toFixed(4) ?? "n/a"}), ${t.trainSeconds.toFixed(1)} s`,
    );
    console.log(
      `threshold ${model.threshold.toPrecision(6)}: ${percent(t.heldOutFpr)} of ${t.heldOutTraces} held-out normal traces above it (target ${percent(model.config.targetFpr)})`,
    );
  });

  readOptions(
    group
      .command("search")
      .description("grid search on a worker pool; results table, best model in RESULTS_DIR/best, HTML report")
      .requiredOption("--train <dirs...>", "normal traces to train on")
      .requiredOption("--validation <dirs...>", "normal traces to validate on")
      .requiredOption("--attack <dirs...>", "attack traces to validate on")
      .requiredOption("-o, --output <dir>", "results directory (rerun on it to resume)")
      .option("--config <file>", "search config (JSON; default config/syscalls-search.json)")
      .option("--workers <n>", "worker threads (default: one per core)", positiveInteger)
      .option("--json", "print the results as one JSON object"),
  ).action(async (opts) => {
    const progress = createProgress({ quiet: opts.quiet });
    const r = await (await pipeline()).searchCommand(
      {
        ...readOptionsOf(opts),
        train: opts.train,
        validation: opts.validation,
        attack: opts.attack,
        output: opts.output,
        config: opts.config,
        workers: opts.workers,
      },
      progress,
    );
    if (opts.json) {
      printJson({
        best: r.best,
        evaluation: r.evaluation,
        skipped: r.skipped,
        rows: r.rows,
        report: r.reportPath,
      });
      return;
    }
    const ok = r.rows
      .filter((row) => row.status === "ok")
      .sort((a, b) => (b.rocAuc ?? -1) - (a.rocAuc ?? -1));
    console.log(
      formatTable(
        ["hash", "ROC AUC", "PR AUC", "det@1%", "det@5%", "epochs", "train s"],
        ok.map((row) => [
          row.hash,
          row.rocAuc ?? Number.NaN,
          row.prAuc ?? Number.NaN,
          percent(row.detectionRateAt1Fpr),
          percent(row.detectionRateAt5Fpr),
          row.epochsRun ?? Number.NaN,
          row.trainSeconds ?? Number.NaN,
        ]),
      ),
    );
    const failed = r.rows.length - ok.length;
    if (failed > 0) console.log(`${failed} configuration(s) failed (see results.csv)`);
    console.log(`best ${r.best.hash}: ROC AUC ${r.best.rocAuc?.toFixed(4)} → ${opts.output}/best`);
    console.log(`report: ${r.reportPath}`);
  });

  readOptions(
    group
      .command("evaluate")
      .description(
        "ROC AUC, PR AUC, detection at 1 %/5 % FPR and per attack type on normal and attack traces",
      )
      .requiredOption("--model <dir>", "model directory from `syscalls train` or `search`")
      .requiredOption("--normal <dirs...>", "normal traces")
      .requiredOption("--attack <dirs...>", "attack traces")
      .option("--report <dir>", "write the evaluation report (HTML, PNG, SVG) here")
      .option("--json", "print the metrics as one JSON object"),
  ).action(async (opts) => {
    const progress = createProgress({ quiet: opts.quiet });
    const { evaluation: e, reportPath } = await (await pipeline()).evaluateCommand(
      {
        ...readOptionsOf(opts),
        model: opts.model,
        normal: opts.normal,
        attack: opts.attack,
        report: opts.report,
      },
      progress,
    );
    if (opts.json) {
      printJson({ ...e, report: reportPath ?? null });
      return;
    }
    console.log(`${e.normalTraces} normal vs ${e.attackTraces} attack traces`);
    console.log(
      formatTable(
        ["ROC AUC", "PR AUC", "det@1% FPR", "det@5% FPR", "threshold", "FPR@thr", "det@thr"],
        [
          [
            e.rocAuc,
            e.prAuc,
            percent(e.detectionRateAtFpr["0.01"]),
            percent(e.detectionRateAtFpr["0.05"]),
            e.threshold,
            percent(e.fprAtThreshold),
            percent(e.detectionRateAtThreshold),
          ],
        ],
      ),
    );
    console.log(
      formatTable(
        ["attack type", "traces", "detected", "rate"],
        Object.entries(e.perAttackType).map(([type, d]) => [
          type,
          d.traces,
          d.detected,
          percent(d.detectionRate),
        ]),
      ),
    );
    if (reportPath) console.log(`report: ${reportPath}`);
  });

  readOptions(
    group
      .command("score")
      .description("score traces: anomaly score, verdict and the most anomalous window per trace")
      .requiredOption("--model <dir>", "model directory from `syscalls train` or `search`")
      .argument("<traces...>", TRACE_HELP)
      .option("--json", "JSON output"),
  ).action(async (inputs: string[], opts) => {
    const progress = createProgress({ quiet: opts.quiet });
    const { threshold, traces } = await (await pipeline()).scoreCommand(
      inputs,
      { ...readOptionsOf(opts), model: opts.model },
      progress,
    );
    if (opts.json) {
      printJson({ threshold, traces });
      return;
    }
    console.log(
      formatTable(
        ["trace", "syscalls", "score", "verdict", "unknown", "most anomalous window"],
        traces.map((t) => [
          t.trace,
          t.syscalls,
          t.score ?? Number.NaN,
          t.verdict,
          t.unknownSyscalls,
          t.mostAnomalousWindow
            ? `@${t.mostAnomalousWindow.position}: ${t.mostAnomalousWindow.syscalls.join(" ")}`
            : "",
        ]),
      ),
    );
  });
}
