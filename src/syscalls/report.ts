import { join } from "node:path";
import {
  barSpec,
  type ChartSpec,
  histogramSpec,
  lineSpec,
  prSpec,
  rocSpec,
  writeChart,
} from "../core/charts.ts";
import { HtmlReport } from "../core/report.ts";
import { AUTOENCODER_KEYS, configLabel, type ModelConfig, type SignalName } from "./config.ts";
import { LIVE_FROM } from "./detector.ts";
import { curves, type RankingMetrics, type ScoredTrace, type SyscallEvaluation } from "./evaluate.ts";
import type { SyscallModel } from "./model.ts";
import type { HeldOutEstimate, RunRecord, SearchRow } from "./search.ts";

/**
 * The syscall detector's reports: one self-contained HTML page with every chart inline, and each chart also as PNG
 * and SVG under `charts/`. An evaluation report shows the combined score and each signal on its own (ROC, detection
 * at 1 % and 5 % FPR), the threshold's promised and measured false-positive rates, and detection per attack type; a
 * search report adds every configuration's score, the held-out estimate beside the selection score, and losses when
 * the autoencoder is a signal.
 */
/** Seconds for people: "0.03 s", "12.4 s", "3 min 05 s". */
export function formatSeconds(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return "n/a";
  if (seconds < 10) return `${seconds.toFixed(2)} s`;
  if (seconds < 120) return `${seconds.toFixed(1)} s`;
  const minutes = Math.floor(seconds / 60);
  return `${minutes} min ${String(Math.round(seconds - minutes * 60)).padStart(2, "0")} s`;
}

function pct(v: number): string {
  return `${(v * 100).toFixed(v < 0.1 ? 2 : 1)} %`;
}

interface Charts {
  dir: string;
  svg: Record<string, string>;
}

async function add(charts: Charts, name: string, spec: ChartSpec): Promise<void> {
  charts.svg[name] = (await writeChart(charts.dir, name, spec)).svg;
}

const PERCENT = [
  "detection at 1 % FPR",
  "detection at 5 % FPR",
  "FPR at the threshold",
  "detection at the threshold",
];

/** Each signal's raw scores and the combined score, normal vs attack. */
export interface ScoreColumns {
  combined: { normal: number[]; attack: number[] };
  signals: Partial<Record<SignalName, { normal: number[]; attack: number[] }>>;
}

export function scoreColumns(
  signals: readonly SignalName[],
  normal: readonly ScoredTrace[],
  attack: readonly ScoredTrace[],
): ScoreColumns {
  const out: ScoreColumns = {
    combined: { normal: normal.map((t) => t.score), attack: attack.map((t) => t.score) },
    signals: {},
  };
  for (const s of signals)
    out.signals[s] = {
      normal: normal.map((t) => t.signals[s] as number),
      attack: attack.map((t) => t.signals[s] as number),
    };
  return out;
}

/** ROC of each signal and of the combination, the contribution table, histogram and per-type detection. */
async function addDetection(
  report: HtmlReport,
  charts: Charts,
  e: SyscallEvaluation,
  scores: ScoreColumns,
): Promise<void> {
  report.metrics(
    {
      "ROC AUC": e.rocAuc,
      "PR AUC": e.prAuc,
      "detection at 1 % FPR": e.detectionRateAtFpr["0.01"],
      "detection at 5 % FPR": e.detectionRateAtFpr["0.05"],
      "FPR at the threshold": e.fprAtThreshold,
      "detection at the threshold": e.detectionRateAtThreshold,
    },
    { percent: PERCENT },
  );
  const signals = Object.keys(e.signals) as SignalName[];
  const rocs = [
    { name: "combined", ...scores.combined, auc: e.rocAuc },
    ...signals.map((s) => ({ name: s, ...scores.signals[s]!, auc: e.signals[s]!.rocAuc })),
  ].map(({ name, normal, attack, auc }) => {
    const { roc } = curves(normal, attack);
    return { name, fpr: roc.fpr, tpr: roc.tpr, auc };
  });
  await add(charts, "roc", rocSpec(rocs, "ROC: the combined score and each signal on its own"));
  report.chart(
    charts.svg.roc,
    "ROC of the combined score (Fisher's Σ −log p of the signal families' tail probabilities) and of each signal's raw score.",
  );
  const row = (name: string, m: RankingMetrics) => [
    name,
    m.rocAuc,
    m.prAuc,
    m.detectionRateAtFpr["0.01"],
    m.detectionRateAtFpr["0.05"],
  ];
  report.table(
    ["score", "ROC AUC", "PR AUC", "det. @1 % FPR", "det. @5 % FPR"],
    [row("combined", e), ...signals.map((s) => row(s, e.signals[s]!))],
    { highlightRow: 0, percentColumns: ["det. @1 % FPR", "det. @5 % FPR"] },
  );
  const { pr } = curves(scores.combined.normal, scores.combined.attack);
  await add(
    charts,
    "precision-recall",
    prSpec([{ name: "combined", recall: pr.recall, precision: pr.precision, ap: e.prAuc }]),
  );
  report.chart(
    charts.svg["precision-recall"],
    "Precision–recall of the combined score; PR AUC is the average precision.",
  );
  await add(
    charts,
    "score-histogram",
    histogramSpec(
      [
        { name: `normal (${scores.combined.normal.length})`, values: scores.combined.normal },
        { name: `attack (${scores.combined.attack.length})`, values: scores.combined.attack },
      ],
      {
        title: "Combined scores: normal vs attack",
        xTitle: "anomaly score (Σ −log p)",
        threshold: e.threshold,
      },
    ),
  );
  report.chart(
    charts.svg["score-histogram"],
    "Each group's share of traces per score bin; the rule is the threshold calibrated on held-out normal training sessions.",
  );
  const types = Object.entries(e.perAttackType);
  await add(
    charts,
    "detection-per-attack-type",
    barSpec(
      types.map(([type, d]) => ({ name: `${type} (${d.traces})`, value: d.detectionRate })),
      { title: "Detection rate per attack type at the stored threshold", yTitle: "detection rate" },
    ),
  );
  report.chart(
    charts.svg["detection-per-attack-type"],
    "Share of each attack type's traces at or above the threshold.",
  );
  report.table(
    ["attack type", "traces", "detected", "detection rate"],
    types.map(([type, d]) => [type, d.traces, d.detected, d.detectionRate]),
    { percentColumns: ["detection rate"] },
  );
  const x = e.expectedFpr;
  report.note(
    `Threshold ${e.threshold.toFixed(3)}: training promised a false-positive rate of ${pct(x.rate)} (95 % interval ${pct(x.lower)}–${pct(x.upper)}, measured on ${x.traces} held-out normal training traces, whole sessions at a time); on these normal traces it is ${pct(e.fprAtThreshold)}. Normal traces unlike any training session (new programs, new activity) raise it.`,
  );
  const u = e.unknownSyscalls;
  const fpr = (v: number | null) => (v === null ? "n/a" : pct(v));
  report.note(
    `Traces with a syscall outside the model's vocabulary: ${pct(u.normalShare)} of normal, ${pct(u.attackShare)} of attack traces; false-positive rate at the threshold ${fpr(u.fprWithUnknown)} for normal traces with unknown syscalls, ${fpr(u.fprWithoutUnknown)} for those without.`,
  );
}

function addModel(report: HtmlReport, model: SyscallModel): void {
  const c = model.config;
  const t = model.training;
  const cal = model.calibration;
  report.section("Model");
  const rows: (string | number)[][] = [
    ["signals", c.signals.join(", ")],
    ["vocabulary", `${model.vocabulary.names.length} syscalls (min count ${c.minCount}) + <pad>, <unk>`],
    [
      "profiles",
      `global (${model.global.traces} traces)${model.programs.size > 0 ? `; per program: ${[...model.programs.values()].map((p) => `${p.program} (${p.traces})`).join(", ")}` : ""}`,
    ],
  ];
  if (c.signals.includes("ngram")) rows.push(["n-gram model", `order ${c.ngramOrder}, Witten–Bell back-off`]);
  if (c.signals.includes("novelty"))
    rows.push([
      "window novelty",
      `windows of ${c.noveltyWindow} seen fewer than ${c.noveltyMinCount} time(s)`,
    ]);
  if (c.signals.includes("repertoire"))
    rows.push(["repertoire", "cosine distance to the nearest training trace's syscall set"]);
  if (model.network !== null) {
    const n = model.network.config;
    rows.push([
      "autoencoder",
      `Embedding(${n.vocabSize}, ${c.embeddingDim}) → ${[...c.hiddenLayers, c.latentDim, ...[...c.hiddenLayers].reverse()].join(" → ")} → ${c.windowLength}×${n.vocabSize} logits, ${c.objective}, noise ${c.noise}; ${t.history.length} epochs, kept ${t.bestEpoch}`,
    ]);
  }
  rows.push(
    ["calibration", cal.method.description],
    [
      "threshold",
      `${cal.threshold.toFixed(3)}: expected FPR ${pct(cal.expectedFpr.rate)} (95 % interval ${pct(cal.expectedFpr.lower)}–${pct(cal.expectedFpr.upper)}), target ${pct(c.targetFpr)}`,
    ],
    [
      "live threshold",
      `${cal.liveThreshold.toFixed(3)} on the running score (checked from syscall ${LIVE_FROM} on and at exit): expected ${pct(cal.liveExpectedFpr.rate)} of normal processes (95 % interval ${pct(cal.liveExpectedFpr.lower)}–${pct(cal.liveExpectedFpr.upper)})`,
    ],
    ["training", `${t.traces} traces, ${t.syscalls} syscalls, ${formatSeconds(t.trainSeconds)}`],
  );
  report.table(["setting", "value"], rows);
  for (const w of t.warnings) report.note(`Warning: ${w}`);
}

async function addLosses(
  report: HtmlReport,
  charts: Charts,
  series: { name: string; history: RunRecord["history"] }[],
): Promise<void> {
  for (const key of ["validLoss", "trainLoss"] as const) {
    const lines = series.flatMap(({ name, history }) => {
      const points = history.filter((h) => h[key] !== null && Number.isFinite(h[key]));
      return points.length === 0
        ? []
        : [{ name, x: points.map((h) => h.epoch), y: points.map((h) => h[key] as number) }];
    });
    if (lines.length === 0) continue;
    const name = key === "validLoss" ? "loss-held-out" : "loss-training";
    await add(
      charts,
      name,
      lineSpec(lines, {
        title:
          key === "validLoss" ? "Autoencoder held-out loss per epoch" : "Autoencoder training loss per epoch",
        xTitle: "epoch",
        yTitle: "cross-entropy per position",
      }),
    );
    report.chart(charts.svg[name]);
  }
}

export async function writeEvaluationReport(
  dir: string,
  model: SyscallModel,
  evaluation: SyscallEvaluation,
  normal: readonly ScoredTrace[],
  attack: readonly ScoredTrace[],
  inputs: { normal: string[]; attack: string[] },
): Promise<string> {
  const charts: Charts = { dir: join(dir, "charts"), svg: {} };
  const report = new HtmlReport(
    "threatlens — syscall detector evaluation",
    `${evaluation.normalTraces} normal traces (${inputs.normal.join(", ")}) vs ${evaluation.attackTraces} attack traces (${inputs.attack.join(", ")})`,
  );
  report.section("Detection");
  await addDetection(report, charts, evaluation, scoreColumns(model.config.signals, normal, attack));
  addModel(report, model);
  if (model.training.history.length > 0)
    await addLosses(report, charts, [{ name: "final fit", history: model.training.history }]);
  const path = join(dir, "report.html");
  await report.write(path);
  return path;
}

export async function writeSearchReport(
  dir: string,
  rows: SearchRow[],
  runs: Map<string, RunRecord>,
  best: { row: SearchRow; model: SyscallModel; evaluation: SyscallEvaluation },
  varied: (keyof ModelConfig)[],
  heldOut: HeldOutEstimate | null,
): Promise<string> {
  const charts: Charts = { dir: join(dir, "charts"), svg: {} };
  const ok = rows.filter((r) => r.status === "ok");
  const label = (r: SearchRow) => `${r.hash.slice(0, 6)} ${configLabel(r.config, varied)}`;
  const report = new HtmlReport(
    "threatlens — syscall detector grid search",
    `${rows.length} configurations; best by validation ROC AUC: ${configLabel(best.row.config, varied)}`,
  );

  report.section(
    "Configurations",
    "Validation ROC AUC of every configuration (normal validation vs attack traces).",
  );
  report.metrics({
    "best validation ROC AUC (selection score)": best.row.rocAuc ?? Number.NaN,
    "held-out estimate": heldOut?.rocAuc ?? Number.NaN,
  });
  report.note(
    `The selection score is the maximum over ${ok.length} configurations on the very traces it is reported on, so it is optimistic. The held-out estimate: ${heldOut?.method ?? "not available (a half lacked normal or attack traces)"}.${heldOut ? ` Chosen on one half and measured on the other: ${heldOut.halves.map((h) => `${h.chosen.slice(0, 6)} ${h.selectionRocAuc.toFixed(4)} → ${h.heldOutRocAuc.toFixed(4)}`).join("; ")}.` : ""}`,
  );
  const ranked = [...ok].sort((a, b) => (b.rocAuc ?? -1) - (a.rocAuc ?? -1));
  await add(
    charts,
    "configuration-scores",
    barSpec(
      ranked.map((r) => ({ name: label(r), value: r.rocAuc ?? 0 })),
      { title: "Validation ROC AUC per configuration", yTitle: "ROC AUC", horizontal: true },
    ),
  );
  report.chart(charts.svg["configuration-scores"]);
  const signals = [...new Set(ok.flatMap((r) => Object.keys(r.signalRocAuc)))] as SignalName[];
  report.table(
    [
      "configuration",
      "ROC AUC",
      ...signals.map((s) => `AUC ${s}`),
      "PR AUC",
      "det. @1 % FPR",
      "det. @5 % FPR",
      "expected FPR",
      "FPR @ thr.",
      "det. @ thr.",
      "train",
      "status",
    ],
    ranked
      .concat(rows.filter((r) => r.status !== "ok"))
      .map((r) => [
        label(r),
        r.rocAuc ?? Number.NaN,
        ...signals.map((s) => r.signalRocAuc[s] ?? Number.NaN),
        r.prAuc ?? Number.NaN,
        r.detectionRateAt1Fpr ?? Number.NaN,
        r.detectionRateAt5Fpr ?? Number.NaN,
        r.expectedFpr ?? Number.NaN,
        r.fprAtThreshold ?? Number.NaN,
        r.detectionRateAtThreshold ?? Number.NaN,
        formatSeconds(r.trainSeconds),
        r.status === "ok" ? "ok" : `failed: ${r.error ?? ""}`,
      ]),
    {
      highlightRow: 0,
      percentColumns: ["det. @1 % FPR", "det. @5 % FPR", "expected FPR", "FPR @ thr.", "det. @ thr."],
    },
  );
  const trainingKeys = varied.filter((k) => (AUTOENCODER_KEYS as readonly string[]).includes(k));
  const withLosses = ok.filter((r) => (runs.get(r.hash)?.history.length ?? 0) > 0);
  if (withLosses.length > 0)
    await addLosses(
      report,
      charts,
      withLosses.map((r) => ({
        name: configLabel(r.config, trainingKeys),
        history: runs.get(r.hash)!.history,
      })),
    );

  report.section("Best configuration", configLabel(best.row.config, varied));
  const run = runs.get(best.row.hash);
  if (run) {
    await addDetection(report, charts, best.evaluation, {
      combined: { normal: run.normalScores, attack: run.attackScores },
      signals: run.signalScores,
    });
  }
  addModel(report, best.model);
  const path = join(dir, "report.html");
  await report.write(path);
  return path;
}
