import { type Command, InvalidArgumentError, Option } from "commander";
import { csvLine } from "../core/csv.ts";
import { UsageError } from "../core/errors.ts";
import { createProgress } from "../core/progress.ts";
import { FLOW_SELECTION_METRICS, type FlowSelectionMetric } from "../network/metrics.ts";
import { integer, nonNegativeNumber, positiveInteger, positiveNumber } from "./options.ts";
import { formatTable, percent, printJson } from "./output.ts";

/**
 * Commands load their modules when they run: `flows` only the capture and flow code, the others the model, report
 * and worker-pool code too, so that no command pays for what it does not use at start-up.
 */
const pipeline = () => import("../network/pipeline.ts");

const INPUT_HELP = "captures (pcap/pcapng), flow CSVs (threatlens or FlowMeter) or directories of them";

function timeoutOptions(cmd: Command): Command {
  return cmd
    .option(
      "--idle-timeout <s>",
      "end a flow after this many seconds without a packet (default 60)",
      positiveNumber,
    )
    .option("--active-timeout <s>", "cut a flow older than this many seconds (default 120)", positiveNumber);
}

function timeouts(opts: { idleTimeout?: number; activeTimeout?: number }) {
  const t: { idleTimeout?: number; activeTimeout?: number } = {};
  if (opts.idleTimeout !== undefined) t.idleTimeout = opts.idleTimeout;
  if (opts.activeTimeout !== undefined) t.activeTimeout = opts.activeTimeout;
  return t;
}

function labelOptions(cmd: Command): Command {
  return cmd
    .option(
      "--manifest <file>",
      "tab-separated labels per file: columns file, label (benign|malicious|ambiguous), optional category and source; paths relative to the manifest; repeat to combine manifests",
      (file: string, previous: string[] | undefined) => [...(previous ?? []), file],
    )
    .option("--label <label>", "one label for every input: benign or malicious");
}

function modelOptions(cmd: Command): Command {
  return cmd
    .option("--model <file>", "model file from `network train`")
    .option(
      "--flowmeter-params <dir>",
      "FlowMeter parameters (mean.txt, std.txt, weights.txt, intercept.txt) as the model",
    )
    .option(
      "--flowmeter-flows",
      "cut captures into flows as FlowMeter does (default for FlowMeter's own parameters)",
    )
    .option(
      "--port-names <file>",
      "gopacket port-name table for FlowMeter flows (default: ../shared/data/flowmeter/port_names.json)",
    )
    .option(
      "--include-cut",
      "also score connection attempts cut short by the end of a capture (unanswered, in its last second); by default they are counted and left out",
    )
    .option("-q, --quiet", "no progress output on stderr");
}

function selection(value: string): FlowSelectionMetric[] {
  const keys = value.split(/[,>]/).map((k) => k.trim());
  for (const key of keys) {
    if (!(FLOW_SELECTION_METRICS as readonly string[]).includes(key)) {
      throw new InvalidArgumentError(
        `unknown metric "${key}"; choose from ${FLOW_SELECTION_METRICS.join(", ")}`,
      );
    }
  }
  return keys as FlowSelectionMetric[];
}

function maxFlows(value: string): number | null {
  if (value === "all") return null;
  return positiveInteger(value);
}

export function registerNetwork(program: Command): void {
  const group = program
    .command("network")
    .description(
      "network flow detector: captures → bidirectional flows + context → boosted trees, logistic regression or an anomaly model fitted on benign traffic (KitNET)",
    );

  timeoutOptions(
    group
      .command("flows")
      .description("cut captures into bidirectional flows and write them as CSV")
      .argument("<captures...>", "pcap or pcapng files")
      .requiredOption("-o, --output <file>", "flow CSV to write (- for stdout)")
      .option(
        "--context",
        "also write each flow's context across flows (96 columns: per source and destination host, host pair and service; what `train` needs from a CSV)",
      )
      .option(
        "--flowmeter-compat",
        "reproduce deepfence FlowMeter's CSV exactly (its flows, formulas and quirks)",
      )
      .option(
        "--port-names <file>",
        "gopacket port-name table for --flowmeter-compat (default: ../shared/data/flowmeter/port_names.json)",
      )
      .option("-q, --quiet", "no progress output on stderr"),
  ).action(async (captures: string[], opts) => {
    const progress = createProgress({ quiet: opts.quiet });
    const { flowsCommand } = await import("../network/flows-command.ts");
    const s = await flowsCommand(
      captures,
      {
        output: opts.output,
        context: opts.context,
        flowmeterCompat: opts.flowmeterCompat,
        portNames: opts.portNames,
        timeouts: timeouts(opts),
      },
      progress,
    );
    progress.info(
      `${s.captures} capture(s), ${s.packets} packets → ${s.rows} ${s.compat ? "FlowMeter rows" : "flows"} in ${s.seconds.toFixed(2)} s (${Math.round(s.packets / Math.max(s.seconds, 1e-9)).toLocaleString("en-US")} packets/s); ${s.warnings.length} warning(s)${s.outPath === "-" ? "" : `; wrote ${s.outPath}`}`,
    );
  });

  labelOptions(
    timeoutOptions(
      group
        .command("train")
        .description(
          "grid-search a model with cross-validation and save the best (--config config/network-kitnet.json: an anomaly model fitted on the benign inputs only)",
        )
        .argument("<inputs...>", INPUT_HELP)
        .requiredOption("-o, --output <model>", "model file to write (JSON)")
        .option(
          "--config <file>",
          "grid search config (JSON; default config/network-grid.json; config/network-kitnet.json for the anomaly model)",
        )
        .option(
          "--reference-grid",
          "FlowMeter's grid: 6 class weights × l1/l2 × 5 C × intercept, 10-fold stratified",
        )
        .addOption(
          new Option(
            "--cv <strategy>",
            "cross-validation folds (grouped: by capture; source: one fold per the manifest's source column; stratified: by flow)",
          ).choices(["grouped", "source", "stratified"]),
        )
        .option("--folds <k>", "number of folds", positiveInteger)
        .option(
          "--selection <metrics>",
          `ranking of candidates, e.g. captureRocAuc,rocAuc (${FLOW_SELECTION_METRICS.join(", ")})`,
          selection,
        )
        .option("--seed <n>", "seed for folds and the per-capture sample", integer)
        .option(
          "--max-flows-per-capture <n>",
          "keep at most n flows per capture (seeded sample), or 'all'",
          maxFlows,
        )
        .addOption(
          new Option(
            "--features <set>",
            "all: FlowMeter's 39 + extra features; flowmeter: the 39 only (exportable)",
          ).choices(["all", "flowmeter", "auto"]),
        )
        .option("--threshold <p>", "flag flows with P(malicious) ≥ p (default 0.5)", positiveNumber)
        .option("--workers <n>", "worker threads (default: one per core)", positiveInteger)
        .option("--report <dir>", "write the training report (HTML, PNG, SVG) here")
        .option("--json", "print the result as one JSON object")
        .option("-q, --quiet", "no progress output on stderr"),
    ),
  ).action(async (inputs: string[], opts) => {
    const progress = createProgress({ quiet: opts.quiet });
    const { trainCommand, captureBreakdown, describeCandidate, fitSummary, formatCaptureWarning } =
      await pipeline();
    const result = await trainCommand(
      inputs,
      {
        output: opts.output,
        manifest: opts.manifest,
        label: opts.label,
        config: opts.config,
        referenceGrid: opts.referenceGrid,
        overrides: {
          cv: opts.cv,
          folds: opts.folds,
          selection: opts.selection,
          seed: opts.seed,
          maxFlowsPerCapture: opts.maxFlowsPerCapture,
        },
        features: opts.features,
        threshold: opts.threshold,
        workers: opts.workers,
        report: opts.report,
        timeouts: timeouts(opts),
      },
      progress,
    );
    const { model } = result;
    const xv = model.crossValidation;
    const breakdown = captureBreakdown(
      result.data,
      result.data.y!,
      result.results[result.best].probability,
      model.threshold,
    );
    if (opts.json) {
      printJson({
        model: opts.output,
        hyperparameters: model.hyperparameters,
        fit: fitSummary(model),
        crossValidation: {
          ...xv,
          meaning: {
            metrics:
              "kitnet" in model
                ? "each fold scored by the anomaly model fitted on the benign flows of the other folds (nothing was chosen on it)"
                : "the chosen candidate's out-of-fold score: it chose the candidate, so it is optimistic",
            heldOut: "each fold scored by the candidate chosen on the other folds (null with one candidate)",
            bySource:
              "the chosen candidate with one fold per capture source (null without a source column, and for the anomaly model: see npm run bench:network-anomaly)",
            perSource:
              "bySource source by source: each source's flows, scored by the fold model that never saw it",
          },
        },
        calibration:
          "calibration" in model
            ? model.calibration
            : "gbdt" in model
              ? (model.anomaly?.calibration ?? null)
              : null,
        training: model.training,
        perCategory: breakdown.perCategory,
        perCapture: breakdown.perCapture,
        skipped: result.data.skipped,
        warnings: result.data.warnings.map(formatCaptureWarning),
        report: result.reportPath ?? null,
      });
      return;
    }
    console.log(`model written to ${opts.output}`);
    console.log(
      `chosen: ${describeCandidate(model.hyperparameters)}${xv.candidates > 1 ? ` (of ${xv.candidates} candidates)` : ""}; ${fitSummary(model)}`,
    );
    const line = (what: string, m: typeof xv.metrics) =>
      `${what}: ROC AUC ${fmt(m.rocAuc)} pooled, ${fmt(m.captureRocAuc)} per capture; PR AUC ${fmt(m.prAuc)}; recall ${percent(m.recall)}, precision ${percent(m.precision)}; capture recall ${percent(m.captureRecall)}, capture FPR ${percent(m.captureFpr)}`;
    const how =
      "kitnet" in model
        ? "each fold scored by a model fitted on the benign flows of the others"
        : `the score that chose this candidate${xv.candidates > 1 ? ", optimistic" : ""}`;
    console.log(line(`cross-validated (${xv.strategy}, ${xv.folds} folds; ${how})`, xv.metrics));
    if (xv.heldOut)
      console.log(line("held out (each fold scored by the candidate chosen on the others)", xv.heldOut));
    if (xv.bySource) console.log(line("by source (one fold per capture source)", xv.bySource));
    for (const s of xv.perSource ?? [])
      console.log(line(`  held out: ${s.source} (${s.captures} captures)`, s.metrics));
    const cv = xv.metrics;
    console.log(
      `confusion: tp ${cv.confusion.tp}, fp ${cv.confusion.fp}, tn ${cv.confusion.tn}, fn ${cv.confusion.fn}`,
    );
    if (result.reportPath) console.log(`report: ${result.reportPath}`);
  });

  labelOptions(
    modelOptions(
      group
        .command("evaluate")
        .description("measure a model on labelled captures or flow CSVs; charts and HTML report")
        .argument("<inputs...>", INPUT_HELP)
        .option("--report <dir>", "write the evaluation report (HTML, PNG, SVG) here")
        .option("--json", "print the metrics as one JSON object"),
    ),
  ).action(async (inputs: string[], opts) => {
    const progress = createProgress({ quiet: opts.quiet });
    const { evaluateCommand } = await pipeline();
    const { evaluation: e, reportPath } = await evaluateCommand(inputs, opts, progress);
    if (opts.json) {
      const { roc: _roc, pr: _pr, ...rest } = e;
      printJson({ ...rest, report: reportPath ?? null });
      return;
    }
    console.log(
      `${e.flows} flows (${e.malicious} from malicious captures) in ${e.captures} captures; threshold ${e.threshold}`,
    );
    console.log(
      formatTable(
        ["", "ROC AUC", "PR AUC", "recall", "precision", "F1", "accuracy", "flagged"],
        [
          [
            "pooled",
            e.rocAuc ?? Number.NaN,
            e.prAuc ?? Number.NaN,
            percent(e.recall),
            percent(e.precision),
            percent(e.f1),
            percent(e.accuracy),
            percent(e.flaggedShare),
          ],
        ],
      ),
    );
    console.log(
      `per capture: ROC AUC ${fmt(e.captureRocAuc)}, mean recall ${percent(e.captureRecall)} (malicious captures), mean FPR ${percent(e.captureFpr)} (benign captures)`,
    );
    console.log(
      `confusion: tp ${e.confusion.tp}, fp ${e.confusion.fp}, tn ${e.confusion.tn}, fn ${e.confusion.fn}`,
    );
    console.log(
      formatTable(
        ["label", "category", "captures", "flows", "flagged", "ROC AUC vs benign"],
        e.perCategory.map((c) => [
          c.label,
          c.category,
          c.captures,
          c.flows,
          percent(c.flaggedShare),
          c.rocAuc ?? Number.NaN,
        ]),
      ),
    );
    if (e.model.importance !== "none") {
      console.log(
        `${e.model.importance === "weight" ? "largest weights" : "most used in splits"}: ${e.features
          .slice(0, 6)
          .map((f) => `${f.feature} ${f.weight.toFixed(3)}`)
          .join(", ")}`,
      );
    }
    if (e.ambiguousExcluded.length > 0)
      console.log(`${e.ambiguousExcluded.length} ambiguous input(s) excluded`);
    if (e.cutExcluded > 0)
      console.log(
        `${e.cutExcluded} connection attempt(s) cut short by the end of their capture not scored (--include-cut scores them)`,
      );
    if (reportPath) console.log(`report: ${reportPath}`);
  });

  modelOptions(
    group
      .command("classify")
      .description("label every flow of new captures or flow CSVs, with a per-capture summary")
      .argument("<inputs...>", INPUT_HELP)
      .option("--csv", "CSV output: one row per flow")
      .option("--json", "JSON output: flows and per-capture summary")
      .option("-o, --output <file>", "write the output here instead of stdout")
      .option("--all", "text output: list every flow, not only the flagged ones"),
  ).action(async (inputs: string[], opts) => {
    const progress = createProgress({ quiet: opts.quiet });
    const { classifyCommand, writeText, formatCaptureWarning } = await pipeline();
    const { predictions, summary, scorer, data } = await classifyCommand(inputs, opts, progress);
    const columns = [
      "capture",
      "srcIp",
      "srcPort",
      "dstIp",
      "dstPort",
      "protocol",
      "startTime",
      "label",
      "probability",
    ] as const;
    const flagged = predictions.filter((p) => p.label === "malicious").length;
    let text: string;
    if (opts.json) {
      text = `${JSON.stringify(
        {
          threshold: scorer.threshold,
          flows: predictions.length,
          malicious: flagged,
          cutExcluded: data.cutExcluded,
          nonFiniteDropped: data.nonFinite,
          skipped: data.skipped,
          warnings: data.warnings.map(formatCaptureWarning),
          captures: summary,
          predictions,
        },
        null,
        2,
      )}\n`;
    } else if (opts.csv) {
      text = `${[csvLine([...columns]), ...predictions.map((p) => csvLine(columns.map((c) => p[c])))].join("\n")}\n`;
    } else {
      const shown = opts.all ? predictions : predictions.filter((p) => p.label === "malicious");
      text = `${formatTable(
        [...columns],
        shown.map((p) => columns.map((c) => p[c])),
      )}\n\n${formatTable(
        ["capture", "flows", "malicious", "share", "max probability"],
        summary.map((s) => [s.capture, s.flows, s.malicious, percent(s.share), s.maxProbability]),
      )}\n${flagged} of ${predictions.length} flows predicted malicious (P ≥ ${scorer.threshold})${data.cutExcluded > 0 ? `; ${data.cutExcluded} connection attempt(s) cut short by the end of their capture not scored (--include-cut scores them)` : ""}\n`;
    }
    if (opts.output) {
      await writeText(opts.output, text);
      progress.info(`wrote ${predictions.length} predictions to ${opts.output}; ${flagged} malicious`);
    } else process.stdout.write(text);
  });

  timeoutOptions(
    group
      .command("watch")
      .description(
        "detect attacks as packets arrive: flows scored while active and when they end, one incident per source host (JSON alert lines on stdout)",
      )
      .argument("[captures...]", "pcap/pcapng files to replay; - for a capture on stdin (tcpdump -w - -U …)")
      .option("-i, --interface <name>", "capture live on this interface with tcpdump (root or CAP_NET_RAW)")
      .option("--filter <bpf>", "with --interface: tcpdump capture filter, e.g. 'not port 22'")
      .option("--model <file>", "model file (default: the network model shipped with threatlens)")
      .option("--state <dir>", "checkpoint here and resume from here (capture files)")
      .option("--alerts <file>", "also append alerts (JSON lines) to this file")
      .option(
        "--flow-scores <file>",
        "write every flow scoring as a JSON line (same fields as `classify --json`)",
      )
      .addOption(
        new Option("--format <format>", "alerts on stdout as").choices(["json", "text"]).default("json"),
      )
      .option("--json", "alerts on stdout as JSON lines (the default; same as --format json)")
      .option(
        "--include-cut",
        "also score connection attempts cut short by the end of a capture (as `classify --include-cut`)",
      )
      .option(
        "--min-flagged <n>",
        "a host raises an incident at its n-th flagged flow within a minute (default 3)",
        positiveInteger,
      )
      .option(
        "--pace <x>",
        "replay capture files at x times their own speed (default: as fast as possible)",
        positiveNumber,
      )
      .option(
        "--stats <seconds>",
        "stats line on stderr every so many seconds (0: none)",
        nonNegativeNumber,
        5,
      )
      .option("--stats-json", "stats lines as JSON objects")
      .option("--hostname <name>", "host name in alerts (default: this machine's)")
      .option("-q, --quiet", "no stats lines (warnings are still printed)"),
  ).action(async (captures: string[], opts) => {
    const progress = createProgress({ quiet: false });
    if (opts.interface !== undefined && captures.length > 0)
      throw new UsageError("give one input: capture files, - for stdin, or --interface");
    if (opts.filter !== undefined && opts.interface === undefined)
      throw new UsageError("--filter chooses what --interface captures");
    const { watchNetwork } = await import("../network/live/watch.ts");
    const { formatSummaryLine } = await import("../core/stream/run.ts");
    const { createWriteStream } = await import("node:fs");
    const scores = opts.flowScores ? createWriteStream(opts.flowScores) : null;
    const result = await watchNetwork({
      model: opts.model,
      input:
        opts.interface !== undefined
          ? { kind: "interface", name: opts.interface, filter: opts.filter }
          : captures.length === 1 && captures[0] === "-"
            ? { kind: "stdin" }
            : { kind: "captures", paths: captures },
      state: opts.state,
      alertsFile: opts.alerts,
      format: opts.json ? "json" : opts.format,
      timeouts: timeouts(opts),
      includeCut: opts.includeCut,
      minFlaggedFlows: opts.minFlagged,
      pace: opts.pace,
      statsMs: opts.quiet ? 0 : opts.stats * 1000,
      statsFormat: opts.statsJson ? "json" : "text",
      hostname: opts.hostname,
      onWarning: (m) => progress.warn(m),
      onFlowScored: scores ? (s) => scores.write(`${JSON.stringify(s)}\n`) : undefined,
      handleSignals: true,
    });
    if (scores)
      await new Promise<void>((resolve, reject) =>
        scores.end((e?: Error | null) => (e ? reject(e) : resolve())),
      );
    const d = result.detector;
    process.stderr.write(`${formatSummaryLine(result.summary)}\n`);
    process.stderr.write(
      `threatlens network: ${d.packets.toLocaleString("en-US")} packets, ${d.flowsEnded.toLocaleString("en-US")} flows ended, ${d.flowScorings.early + d.flowScorings.close + d.flowScorings.final} flow scorings (${d.flaggedScorings} flagged), ${d.cutNotScored} cut connection attempt(s) not scored${result.capture ? `; tcpdump: ${result.capture.captured} captured, ${result.capture.dropped} dropped by the kernel (counted in dropped)` : ""}\n`,
    );
  });

  group
    .command("export-flowmeter")
    .description("write a model as FlowMeter parameters: mean.txt, std.txt, weights.txt, intercept.txt")
    .requiredOption("--model <file>", "model file from `network train --features flowmeter`")
    .requiredOption("-o, --output <dir>", "directory to write")
    .action(async (opts) => {
      const { exportCommand } = await pipeline();
      const files = await exportCommand(opts.model, opts.output);
      console.log(`wrote ${files.join(", ")}`);
    });
}

function fmt(v: number | null): string {
  return v === null ? "n/a" : v.toFixed(4);
}
