import { type Command, Option } from "commander";
import { csvLine } from "../core/csv.ts";
import { UsageError } from "../core/errors.ts";
import { createProgress } from "../core/progress.ts";
import { formatSummaryLine } from "../core/stream/run.ts";
import {
  evaluateCommand,
  loadInputs,
  predictCommand,
  trainCommand,
  writeText,
} from "../ransomware/pipeline.ts";
import { simulateLogs } from "../ransomware/simulate.ts";
import { featuresToCsv, featuresToJson } from "../ransomware/table.ts";
import { describeCandidate } from "../ransomware/train.ts";
import { type WatchInput, watchRansomware } from "../ransomware/watch.ts";
import {
  integer,
  nonNegativeInteger,
  nonNegativeNumber,
  positiveInteger,
  positiveNumber,
  selection,
} from "./options.ts";
import { formatTable, percent, printJson } from "./output.ts";

const INPUT_HELP = "event logs (CSV), directories of them, or feature tables";

function inputOptions(cmd: Command): Command {
  return cmd
    .option("--window-ms <ms>", "time window for per-window maxima and means", positiveNumber)
    .option("--skip-invalid", "skip malformed log rows (counted and reported) instead of stopping")
    .option("-q, --quiet", "no progress output on stderr");
}

function labelOptions(cmd: Command): Command {
  return cmd
    .option("--labels <file>", "labels CSV with columns log,pid,label (unlisted processes are benign)")
    .option("--authors-labels <file>", "the original authors' label file (PID column, encoded PIDs)");
}

export function registerRansomware(program: Command): void {
  const group = program
    .command("ransomware")
    .description("ransomware detector on eBPF file-activity event logs (open/create/delete/encrypt)");

  inputOptions(
    group
      .command("features")
      .description("compute per-process features from event logs")
      .argument("<inputs...>", INPUT_HELP)
      .option("-o, --output <file>", "write the feature table here (default: stdout)")
      .option("--json", "JSON instead of CSV"),
  ).action(async (inputs: string[], opts) => {
    const progress = createProgress({ quiet: opts.quiet });
    const loaded = await loadInputs(
      inputs,
      { windowMs: opts.windowMs, skipInvalid: opts.skipInvalid },
      progress,
    );
    const text = opts.json
      ? `${JSON.stringify({ summary: loaded.extract, tables: loaded.tables, processes: featuresToJson(loaded.rows) })}\n`
      : featuresToCsv(loaded.rows);
    if (opts.output) {
      await writeText(opts.output, text);
      progress.info(`wrote ${loaded.rows.length} processes to ${opts.output}`);
    } else process.stdout.write(text);
  });

  labelOptions(
    inputOptions(
      group
        .command("train")
        .description("grid-search an SVM with cross-validation and save the best model")
        .argument("<inputs...>", INPUT_HELP)
        .requiredOption("-o, --output <model>", "model file to write (JSON)")
        .option("--config <file>", "grid search config (JSON; default config/ransomware-grid.json)")
        .option("--reference-grid", "use the original pipeline's grid (10 C x 10 class weights, 5-fold)")
        .addOption(
          new Option("--cv <strategy>", "cross-validation folds").choices([
            "grouped",
            "stratified",
            "leave-one-log-out",
          ]),
        )
        .option("--folds <k>", "number of folds", positiveInteger)
        .option("--selection <metrics>", "ranking of candidates, e.g. recall,mcc", selection)
        .option("--seed <n>", "seed for fold assignment", integer)
        .option("--workers <n>", "worker threads (default: one per core)", positiveInteger)
        .option("--report <dir>", "write the training report (HTML, PNG, SVG) here")
        .option(
          "--no-snapshots",
          "train on whole processes only (by default also on snapshots part-way through their lives, as watch sees them)",
        )
        .option("--json", "print the result as one JSON object"),
    ),
  ).action(async (inputs: string[], opts) => {
    const progress = createProgress({ quiet: opts.quiet });
    const result = await trainCommand(
      inputs,
      {
        output: opts.output,
        labels: opts.labels,
        authorsLabels: opts.authorsLabels,
        config: opts.config,
        referenceGrid: opts.referenceGrid,
        overrides: { cv: opts.cv, folds: opts.folds, selection: opts.selection, seed: opts.seed },
        workers: opts.workers,
        report: opts.report,
        windowMs: opts.windowMs,
        skipInvalid: opts.skipInvalid,
        snapshots: opts.snapshots,
      },
      progress,
    );
    const { model } = result;
    const cv = model.crossValidation.metrics;
    if (opts.json) {
      printJson({
        model: opts.output,
        hyperparameters: model.hyperparameters,
        crossValidation: model.crossValidation,
        training: model.training,
        unmatchedLabels: result.unmatchedLabels,
        report: result.reportPath ?? null,
      });
      return;
    }
    console.log(`model written to ${opts.output}`);
    console.log(
      `chosen: ${describeCandidate(model.hyperparameters)} (of ${model.crossValidation.candidates} candidates)`,
    );
    console.log(
      `cross-validated (${model.crossValidation.strategy}, ${model.crossValidation.folds} folds): recall ${percent(cv.recall)}, precision ${percent(cv.precision)}, MCC ${cv.mcc.toFixed(3)}, ROC AUC ${cv.rocAuc?.toFixed(4) ?? "n/a"}, PR AUC ${cv.prAuc?.toFixed(4) ?? "n/a"}`,
    );
    console.log(
      `confusion: tp ${cv.confusion.tp}, fp ${cv.confusion.fp}, tn ${cv.confusion.tn}, fn ${cv.confusion.fn}`,
    );
    if (result.reportPath) console.log(`report: ${result.reportPath}`);
  });

  labelOptions(
    inputOptions(
      group
        .command("evaluate")
        .description("measure a model on labelled logs or feature tables; charts and HTML report")
        .requiredOption("--model <file>", "model file from `ransomware train`")
        .argument("<inputs...>", INPUT_HELP)
        .option("--report <dir>", "write the evaluation report (HTML, PNG, SVG) here")
        .option(
          "--importance-repeats <n>",
          "permutations per feature for importance (0 = skip)",
          nonNegativeInteger,
          5,
        )
        .option("--seed <n>", "seed for the permutations", integer, 0)
        .option("--json", "print the metrics as one JSON object"),
    ),
  ).action(async (inputs: string[], opts) => {
    const progress = createProgress({ quiet: opts.quiet });
    const {
      evaluation: e,
      unmatchedLabels,
      reportPath,
    } = await evaluateCommand(
      inputs,
      {
        model: opts.model,
        labels: opts.labels,
        authorsLabels: opts.authorsLabels,
        report: opts.report,
        importanceRepeats: opts.importanceRepeats,
        seed: opts.seed,
        windowMs: opts.windowMs,
        skipInvalid: opts.skipInvalid,
      },
      progress,
    );
    if (opts.json) {
      const { roc: _roc, pr: _pr, ...rest } = e;
      printJson({ ...rest, unmatchedLabels, report: reportPath ?? null });
      return;
    }
    console.log(`${e.processes} processes, ${e.ransomware} labelled ransomware (threshold ${e.threshold})`);
    console.log(
      formatTable(
        ["recall", "precision", "F1", "MCC", "balanced acc.", "ROC AUC", "PR AUC"],
        [
          [
            percent(e.recall),
            percent(e.precision),
            percent(e.f1),
            e.mcc,
            percent(e.balancedAccuracy),
            e.rocAuc ?? Number.NaN,
            e.prAuc ?? Number.NaN,
          ],
        ],
      ),
    );
    console.log(
      `confusion: tp ${e.confusion.tp}, fp ${e.confusion.fp}, tn ${e.confusion.tn}, fn ${e.confusion.fn}`,
    );
    if (e.importance.length > 0) {
      console.log(
        `most important features: ${e.importance
          .slice(0, 5)
          .map((i) => i.feature)
          .join(", ")}`,
      );
    }
    if (unmatchedLabels.length > 0) console.log(`${unmatchedLabels.length} label(s) matched no process`);
    if (reportPath) console.log(`report: ${reportPath}`);
  });

  inputOptions(
    group
      .command("predict")
      .description("score processes in new logs: label and decision value per process")
      .requiredOption("--model <file>", "model file from `ransomware train`")
      .argument("<inputs...>", INPUT_HELP)
      .addOption(new Option("--csv", "CSV output").conflicts("json"))
      .option("--json", "JSON output")
      .option("-o, --output <file>", "write the output here instead of stdout")
      .option("--only-ransomware", "list only processes predicted as ransomware"),
  ).action(async (inputs: string[], opts) => {
    const progress = createProgress({ quiet: opts.quiet });
    const { predictions, model, summary } = await predictCommand(
      inputs,
      { model: opts.model, windowMs: opts.windowMs, skipInvalid: opts.skipInvalid },
      progress,
    );
    const shown = opts.onlyRansomware ? predictions.filter((p) => p.label === "ransomware") : predictions;
    const flagged = predictions.filter((p) => p.label === "ransomware").length;
    let text: string;
    if (opts.json) {
      text = `${JSON.stringify({ threshold: model.threshold, processes: predictions.length, ransomware: flagged, read: summary, predictions: shown }, null, 2)}\n`;
    } else if (opts.csv) {
      text = `${[csvLine(["log", "pid", "first_ts", "label", "score", "final_score", "events"]), ...shown.map((p) => csvLine([p.log, p.pid, p.firstTs, p.label, p.score, p.finalScore, p.events]))].join("\n")}\n`;
    } else {
      text = `${formatTable(
        ["log", "pid", "label", "score", "final", "events"],
        shown.map((p) => [p.log, p.pid, p.label, p.score, p.finalScore, p.events]),
      )}\n${flagged} of ${predictions.length} processes predicted ransomware (score: the highest over the process's life, as \`ransomware watch\` scores it)\n`;
    }
    if (opts.output) {
      await writeText(opts.output, text);
      progress.info(`wrote ${shown.length} predictions to ${opts.output}; ${flagged} ransomware`);
    } else process.stdout.write(text);
  });

  group
    .command("watch")
    .description(
      "detect ransomware as events arrive: every process re-scored as it goes, one JSON alert per line on stdout",
    )
    .argument(
      "[logs...]",
      "event logs to read to their end (the collector's output or ebpfangel logs); - for stdin",
    )
    .option("--model <file>", "model file (default: the model shipped with threatlens)")
    .option("--collect", "collect events live with the eBPF collector (root; see threatlens collect)")
    .option("--pid <pid>", "with --collect: only this process and its descendants", positiveInteger)
    .option("--cgroup <path>", "with --collect: only the processes of this cgroup")
    .option("--comm <name>", "with --collect: only processes with this command name")
    .addOption(
      new Option("--backend <backend>", "with --collect: bpftrace (eBPF) or strace (needs --pid)").choices([
        "bpftrace",
        "strace",
      ]),
    )
    .option("--follow <log>", "follow a log as it grows, across rotation and truncation (like tail -F)")
    .option("--state <dir>", "checkpoint here and resume from here: a restart skips and repeats nothing")
    .option("--alerts <file>", "also append alerts (JSON lines) to this file")
    .addOption(
      new Option("--format <format>", "alerts on stdout as").choices(["json", "text"]).default("json"),
    )
    .addOption(
      new Option(
        "--respond <action>",
        "stop or kill an alerted process and its children (off by default)",
      ).choices(["stop", "kill"]),
    )
    .option("--stats <seconds>", "stats line on stderr every so many seconds (0: none)", nonNegativeNumber, 5)
    .option("--stats-json", "stats lines as JSON objects")
    .addOption(
      new Option("--overload <policy>", "when input arrives faster than it is scored (stdin, collector)")
        .choices(["block", "drop"])
        .default("block"),
    )
    .option("--idle-timeout <seconds>", "a process without events this long is over", positiveNumber)
    .option("--strict", "stop at the first malformed row instead of skipping and counting it")
    .option("--hostname <name>", "host name in alerts (default: this machine's; incident ids derive from it)")
    .option("-q, --quiet", "no stats lines (warnings are still printed)")
    .action(async (logs: string[], opts) => {
      const progress = createProgress({ quiet: false });
      const stdin = logs.length === 1 && logs[0] === "-";
      const sources = [opts.follow, opts.collect, logs.length > 0].filter(Boolean).length;
      if (sources > 1) throw new UsageError("give one input: logs to read, --follow LOG, --collect or -");
      const scoped = [opts.pid, opts.cgroup, opts.comm].filter((v) => v !== undefined).length;
      if (scoped > 0 && !opts.collect)
        throw new UsageError("--pid, --cgroup and --comm choose what --collect traces");
      if (scoped > 1) throw new UsageError("give one of --pid, --cgroup, --comm");
      const input: WatchInput = opts.collect
        ? {
            kind: "collect",
            options: {
              backend: opts.backend,
              scope:
                opts.pid !== undefined
                  ? { kind: "pid", pid: opts.pid }
                  : opts.cgroup !== undefined
                    ? { kind: "cgroup", path: opts.cgroup }
                    : opts.comm !== undefined
                      ? { kind: "comm", name: opts.comm }
                      : { kind: "host" },
            },
          }
        : opts.follow
          ? { kind: "follow", path: opts.follow }
          : stdin
            ? { kind: "stdin" }
            : { kind: "logs", paths: logs };
      const { summary, collector } = await watchRansomware({
        model: opts.model,
        input,
        state: opts.state,
        alertsFile: opts.alerts,
        format: opts.format,
        respond: opts.respond,
        statsMs: opts.quiet ? 0 : opts.stats * 1000,
        statsFormat: opts.statsJson ? "json" : "text",
        overload: opts.overload,
        idleTimeoutS: opts.idleTimeout,
        strict: opts.strict,
        hostname: opts.hostname,
        onWarning: (m) => progress.warn(m),
        handleSignals: true,
      });
      process.stderr.write(`${formatSummaryLine(summary)}\n`);
      if (collector) {
        process.stderr.write(
          `threatlens collector: ${collector.events.toLocaleString("en-US")} events in ${(collector.durationMs / 1000).toFixed(1)} s, ${collector.lost} lost between the kernel and the collector${collector.lost > 0 ? " (counted in dropped)" : ""}\n`,
        );
      }
    });

  group
    .command("simulate")
    .description("write synthetic event logs and labels (sample data; not real telemetry)")
    .requiredOption("-o, --output <dir>", "directory for logs/ and labels.csv")
    .option("--seed <n>", "random seed", integer, 1)
    .option("--logs <n>", "number of log files", positiveInteger, 8)
    .option("--scale <x>", "activity per process multiplier", positiveNumber, 1)
    .action(async (opts) => {
      const data = await simulateLogs(opts.output, { seed: opts.seed, logs: opts.logs, scale: opts.scale });
      console.log(
        `wrote ${data.logFiles.length} logs (${data.events} events, ${data.processes} processes, ${data.ransomwareProcesses} ransomware) and ${data.labelsFile}`,
      );
    });
}
