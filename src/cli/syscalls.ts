import { type Command, InvalidArgumentError, Option } from "commander";
import { DIRECTORY_METADATA_FILE } from "../core/artifact.ts";
import { UsageError } from "../core/errors.ts";
import { createProgress } from "../core/progress.ts";
import { formatSummaryLine } from "../core/stream/run.ts";
import { SIGNALS, type SignalName } from "../syscalls/config.ts";
import { ARCHES } from "../syscalls/tables.ts";
import { TRACE_FORMATS } from "../syscalls/traces/index.ts";
import type { SyscallWatchInput } from "../syscalls/watch.ts";
import { collectorScope } from "./collect.ts";
import { integer, nonNegativeNumber, positiveInteger, positiveNumber } from "./options.ts";
import { formatTable, percent, printJson } from "./output.ts";

/**
 * The pipeline (and TensorFlow.js behind it) is loaded only when a syscalls command runs, so that the other
 * detectors' commands do not pay its start-up time.
 */
const pipeline = () => import("../syscalls/pipeline.ts");

const TRACE_HELP =
  "trace files or directories: ADFA-LD (syscall numbers), syscall names, strace -f output or the collector's syscall CSV";

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
      "skip malformed tokens, lines and files (counted and reported) instead of stopping at the first",
    )
    .option("-q, --quiet", "no progress output on stderr (warnings still show)");
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

/** A comma-separated list of signals; anything else is a usage error (exit 2). */
function signalList(value: string): SignalName[] {
  const items = value.split(",").map((s) => s.trim());
  const bad = items.filter((s) => !(SIGNALS as readonly string[]).includes(s));
  if (bad.length > 0 || items.length === 0)
    throw new InvalidArgumentError(
      `expected a comma-separated list of ${SIGNALS.join(", ")}; got ${JSON.stringify(bad[0] ?? value)}`,
    );
  if (new Set(items).size !== items.length) throw new InvalidArgumentError("a signal is listed twice");
  return items as SignalName[];
}

/** Explains a verdict's evidence in one line. */
function evidenceText(t: {
  evidence: {
    newInRepertoire: string[];
    unlikeliest: { position: number; syscall: string; context: string[] } | null;
    unknownSyscalls: string[];
  };
}): string {
  const e = t.evidence;
  const parts: string[] = [];
  if (e.newInRepertoire.length > 0) parts.push(`new: ${e.newInRepertoire.slice(0, 6).join(" ")}`);
  if (e.unlikeliest)
    parts.push(
      `@${e.unlikeliest.position}: ${[...e.unlikeliest.context.slice(-3), `[${e.unlikeliest.syscall}]`].join(" ")}`,
    );
  if (e.unknownSyscalls.length > 0) parts.push(`unknown: ${e.unknownSyscalls.slice(0, 3).join(" ")}`);
  return parts.join("; ");
}

export function registerSyscalls(program: Command): void {
  const group = program
    .command("syscalls")
    .description(
      "system-call anomaly detector: n-gram, window novelty and repertoire signals (and optionally an autoencoder), trained on normal traces only",
    );

  readOptions(
    group
      .command("train")
      .description(
        "train on normal traces, calibrate the threshold on held-out sessions, write a model directory",
      )
      .argument("<normal...>", TRACE_HELP)
      .requiredOption(
        "-o, --output <dir>",
        `model directory to write (${DIRECTORY_METADATA_FILE} + weights.bin)`,
      )
      .option("--config <file>", "model config (JSON; keys override the defaults, see docs/syscalls.md)")
      .option("--signals <list>", `signals to combine, comma-separated: ${SIGNALS.join(", ")}`, signalList)
      .option("--ngram-order <n>", "longest n-gram of the next-syscall model", positiveInteger)
      .option("--novelty-window <n>", "syscalls per window for window novelty", positiveInteger)
      .option(
        "--target-fpr <rate>",
        "false-positive rate the threshold allows on held-out normal sessions (default 0.01)",
        fraction,
      )
      .option(
        "--live-target-fpr <rate>",
        "share of normal processes `syscalls watch` may alert on (default 0.0001)",
        fraction,
      )
      .option("--seed <n>", "seed for the calibration folds (and the autoencoder)", integer)
      .option("--json", "print the training summary as one JSON object"),
  ).action(async (normal: string[], opts) => {
    const progress = createProgress({ quiet: opts.quiet });
    const { model, read } = await (await pipeline()).trainCommand(
      normal,
      {
        ...readOptionsOf(opts),
        output: opts.output,
        config: opts.config,
        overrides: {
          signals: opts.signals,
          ngramOrder: opts.ngramOrder,
          noveltyWindow: opts.noveltyWindow,
          targetFpr: opts.targetFpr,
          liveTargetFpr: opts.liveTargetFpr,
          seed: opts.seed,
        },
      },
      progress,
    );
    const t = model.training;
    const c = model.calibration;
    const x = c.expectedFpr;
    if (opts.json) {
      printJson({
        model: opts.output,
        config: model.config,
        threshold: c.threshold,
        expectedFpr: x,
        liveThreshold: c.liveThreshold,
        liveExpectedFpr: c.liveExpectedFpr,
        calibration: c.method,
        programs: t.programs,
        training: {
          traces: t.traces,
          syscalls: t.syscalls,
          trainSeconds: t.trainSeconds,
          history: t.history,
        },
        skipped: read.skipped,
        unrecognisedNames: read.unrecognisedNames,
        warnings: t.warnings,
      });
      return;
    }
    console.log(`model written to ${opts.output}`);
    console.log(
      `trained on ${t.traces} traces (${t.syscalls} syscalls) in ${t.trainSeconds.toFixed(1)} s; signals ${model.config.signals.join(", ")}; ${Object.keys(t.programs).length} program profile(s)`,
    );
    console.log(
      `threshold ${c.threshold.toFixed(3)}: expected false-positive rate ${percent(x.rate)} (95 % interval ${percent(x.lower)}–${percent(x.upper)}; ${x.flagged} of ${x.traces} held-out normal traces at or above it; target ${percent(model.config.targetFpr)})`,
    );
    console.log(`measured on: ${c.method.description}`);
    const l = c.liveExpectedFpr;
    console.log(
      `live threshold ${c.liveThreshold.toFixed(3)} (syscalls watch, on each process's highest running score): ${l.flagged} of ${l.traces} held-out normal processes at or above it, 95 % interval ${percent(l.lower)}–${percent(l.upper)}`,
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
        selectionRocAuc: r.best.rocAuc,
        heldOut: r.heldOut,
        evaluation: r.evaluation,
        resumedConfigurations: r.skipped,
        rows: r.rows,
        report: r.reportPath,
        skipped: r.read.skipped,
        unrecognisedNames: r.read.unrecognisedNames,
        warnings: r.read.warnings,
      });
      return;
    }
    const ok = r.rows
      .filter((row) => row.status === "ok")
      .sort((a, b) => (b.rocAuc ?? -1) - (a.rocAuc ?? -1));
    console.log(
      formatTable(
        ["hash", "signals", "ROC AUC", "PR AUC", "det@1%", "det@5%", "train s"],
        ok.map((row) => [
          row.hash,
          row.config.signals.join("+"),
          row.rocAuc ?? Number.NaN,
          row.prAuc ?? Number.NaN,
          percent(row.detectionRateAt1Fpr),
          percent(row.detectionRateAt5Fpr),
          (row.trainSeconds ?? Number.NaN).toFixed(1),
        ]),
      ),
    );
    const failed = r.rows.length - ok.length;
    if (failed > 0) console.log(`${failed} configuration(s) failed (see results.csv)`);
    console.log(
      `best ${r.best.hash}: validation ROC AUC ${r.best.rocAuc?.toFixed(4)} (selection score: the best of ${ok.length} on these traces) → ${opts.output}/best`,
    );
    if (r.heldOut)
      console.log(
        `held-out estimate ${r.heldOut.rocAuc.toFixed(4)} (chosen on one half of the validation traces, measured on the other)`,
      );
    console.log(`report: ${r.reportPath}`);
  });

  readOptions(
    group
      .command("evaluate")
      .description("ROC AUC, PR AUC, detection at 1 %/5 % FPR (combined and per signal) and per attack type")
      .requiredOption("--model <dir>", "model directory from `syscalls train` or `search`")
      .requiredOption("--normal <dirs...>", "normal traces")
      .requiredOption("--attack <dirs...>", "attack traces")
      .option("--report <dir>", "write the evaluation report (HTML, PNG, SVG) here")
      .option("--json", "print the metrics as one JSON object"),
  ).action(async (opts) => {
    const progress = createProgress({ quiet: opts.quiet });
    const {
      evaluation: e,
      reportPath,
      read,
    } = await (await pipeline()).evaluateCommand(
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
      printJson({
        ...e,
        report: reportPath ?? null,
        skipped: read.skipped,
        unrecognisedNames: read.unrecognisedNames,
        warnings: read.warnings,
      });
      return;
    }
    console.log(`${e.normalTraces} normal vs ${e.attackTraces} attack traces`);
    const row = (name: string, m: typeof e) => [
      name,
      m.rocAuc,
      m.prAuc,
      percent(m.detectionRateAtFpr["0.01"]),
      percent(m.detectionRateAtFpr["0.05"]),
    ];
    console.log(
      formatTable(
        ["score", "ROC AUC", "PR AUC", "det@1% FPR", "det@5% FPR"],
        [row("combined", e), ...Object.entries(e.signals).map(([s, m]) => row(s, m as typeof e))],
      ),
    );
    console.log(
      `threshold ${e.threshold.toFixed(3)}: FPR here ${percent(e.fprAtThreshold)} (training expected ${percent(e.expectedFpr.rate)}, 95 % interval ${percent(e.expectedFpr.lower)}–${percent(e.expectedFpr.upper)}), detection ${percent(e.detectionRateAtThreshold)}`,
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
      .description("score traces: anomaly score, verdict, the signals and what stood out per trace")
      .requiredOption("--model <dir>", "model directory from `syscalls train` or `search`")
      .argument("<traces...>", TRACE_HELP)
      .option("--json", "JSON output"),
  ).action(async (inputs: string[], opts) => {
    const progress = createProgress({ quiet: opts.quiet });
    const { threshold, traces, read } = await (await pipeline()).scoreCommand(
      inputs,
      { ...readOptionsOf(opts), model: opts.model },
      progress,
    );
    if (opts.json) {
      printJson({
        threshold,
        traces,
        skipped: read.skipped,
        unrecognisedNames: read.unrecognisedNames,
        warnings: read.warnings,
      });
      return;
    }
    console.log(
      formatTable(
        ["trace", "syscalls", "score", "verdict", "profile", "evidence"],
        traces.map((t) => [t.trace, t.syscalls, t.score, t.verdict, t.profile ?? "global", evidenceText(t)]),
      ),
    );
  });

  group
    .command("watch")
    .description(
      "watch a running service (strace -f -p, or eBPF with --collect), a command (-- CMD...), strace logs, collector CSVs or stdin: each process scored as its syscalls arrive, one JSON alert per line on stdout",
    )
    .argument(
      "[inputs...]",
      "strace -f logs or collector CSVs to read to their end; - for stdin; after --, a command to run",
    )
    .requiredOption("--model <dir>", "model directory from `syscalls train`")
    .option(
      "--pid <pid>",
      "attach to this running process and follow its threads and children",
      positiveInteger,
    )
    .option(
      "--collect",
      "trace with the eBPF collector (root) instead of strace: --pid, -- CMD..., --comm or --cgroup, or the whole host",
    )
    .option("--comm <name>", "with --collect: only processes with this command name")
    .option("--cgroup <path>", "with --collect: only the processes of this cgroup")
    .option("--alerts <file>", "also append alerts (JSON lines) to this file")
    .addOption(
      new Option("--format <format>", "alerts on stdout as").choices(["json", "text"]).default("json"),
    )
    .option("--stats <seconds>", "stats line on stderr every so many seconds (0: none)", nonNegativeNumber, 5)
    .option("--stats-json", "stats lines as JSON objects")
    .option("-q, --quiet", "no stats or status lines (warnings are still printed)")
    .action(async (inputs: string[], opts, command: Command) => {
      const progress = createProgress({ quiet: opts.quiet });
      const dash = command.args.length > 0 && process.argv.includes("--");
      if ((opts.comm !== undefined || opts.cgroup !== undefined) && !opts.collect)
        throw new UsageError("--comm and --cgroup choose what --collect traces");
      if (opts.collect && inputs.length > 0 && !dash)
        throw new UsageError("give --collect or logs to read, not both");
      const input: SyscallWatchInput = opts.collect
        ? { kind: "collect", options: { scope: collectorScope(opts, dash ? inputs : [], false) } }
        : opts.pid !== undefined
          ? { kind: "pid", pid: opts.pid }
          : dash
            ? { kind: "command", argv: inputs }
            : inputs.length === 1 && inputs[0] === "-"
              ? { kind: "stdin" }
              : { kind: "logs", paths: inputs };
      if (opts.pid !== undefined && inputs.length > 0)
        throw new UsageError("give --pid PID, -- CMD..., logs or -, not several");
      if (input.kind === "logs" && inputs.length === 0)
        throw new UsageError("nothing to watch: give --pid PID, -- CMD..., strace logs or -");
      const { watchSyscalls } = await import("../syscalls/watch.ts");
      const { summary, model } = await watchSyscalls({
        model: opts.model,
        input,
        alertsFile: opts.alerts,
        format: opts.format,
        statsMs: opts.quiet ? 0 : opts.stats * 1000,
        statsFormat: opts.statsJson ? "json" : "text",
        onWarning: (m) => progress.warn(m),
        onInfo: (m) => progress.info(m),
        handleSignals: true,
      });
      progress.info(
        `live threshold ${model.calibration.liveThreshold.toFixed(3)} (expected ${percent(model.calibration.liveExpectedFpr.rate)} of normal processes alerted)`,
      );
      process.stderr.write(`${formatSummaryLine(summary)}\n`);
    });
}
