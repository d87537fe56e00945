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
import { type ModelConfig, networkKey } from "./config.ts";
import { curves, type SyscallEvaluation } from "./evaluate.ts";
import type { SyscallModel } from "./model.ts";
import { POST_TRAINING_KEYS } from "./scoring.ts";
import type { RunRecord, SearchRow } from "./search.ts";

/**
 * The syscall detector's reports: one self-contained HTML page with every chart inline, and each chart also as PNG
 * and SVG under `charts/`. A search report shows every configuration's loss curves and validation score, then the
 * best configuration as an evaluation report does: ROC, PR, score histograms and detection per attack type.
 */
const SHORT: Partial<Record<keyof ModelConfig, string>> = {
  windowLength: "w",
  stride: "stride",
  embeddingDim: "emb",
  hiddenLayers: "hidden",
  latentDim: "z",
  learningRate: "lr",
  batchSize: "batch",
  epochs: "epochs",
  aggregation: "agg",
  objective: "obj",
  noise: "noise",
  normalisation: "norm",
};

/** A compact label from the keys a search varies. */
export function configLabel(config: ModelConfig, keys: readonly (keyof ModelConfig)[]): string {
  if (keys.length === 0) return "default";
  return keys
    .map((k) => {
      const v = config[k];
      return `${SHORT[k] ?? k}=${Array.isArray(v) ? v.join("-") || "none" : String(v)}`;
    })
    .join(" ");
}

interface Charts {
  dir: string;
  svg: Record<string, string>;
}

async function add(charts: Charts, name: string, spec: ChartSpec): Promise<void> {
  charts.svg[name] = (await writeChart(charts.dir, name, spec)).svg;
}

function headline(e: SyscallEvaluation): Record<string, number> {
  return {
    "ROC AUC": e.rocAuc,
    "PR AUC": e.prAuc,
    "detection at 1 % FPR": e.detectionRateAtFpr["0.01"],
    "detection at 5 % FPR": e.detectionRateAtFpr["0.05"],
    "FPR at the threshold": e.fprAtThreshold,
    "detection at the threshold": e.detectionRateAtThreshold,
  };
}
const PERCENT = [
  "detection at 1 % FPR",
  "detection at 5 % FPR",
  "FPR at the threshold",
  "detection at the threshold",
];

/** ROC, PR, histogram and per-attack-type charts for one model's scores, added to `report`. */
async function addDetection(
  report: HtmlReport,
  charts: Charts,
  e: SyscallEvaluation,
  normal: Float64Array,
  attack: Float64Array,
  name: string,
): Promise<void> {
  const { roc, pr } = curves(normal, attack);
  await add(charts, "roc", rocSpec([{ name, fpr: roc.fpr, tpr: roc.tpr, auc: e.rocAuc }]));
  await add(
    charts,
    "precision-recall",
    prSpec([{ name, recall: pr.recall, precision: pr.precision, ap: e.prAuc }]),
  );
  await add(
    charts,
    "score-histogram",
    histogramSpec(
      [
        { name: `normal (${normal.length})`, values: normal },
        { name: `attack (${attack.length})`, values: attack },
      ],
      { title: "Trace scores: normal vs attack", xTitle: "trace anomaly score", threshold: e.threshold },
    ),
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
  report.metrics(headline(e), { percent: PERCENT });
  report.chart(charts.svg.roc, "ROC of trace scores, validation normal vs attack traces.");
  report.chart(charts.svg["precision-recall"], "Precision–recall; PR AUC is the average precision.");
  report.chart(
    charts.svg["score-histogram"],
    "Each group's share of traces per score bin; the rule is the threshold chosen on held-out normal training traces.",
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
  const u = e.unknownSyscalls;
  if (u === undefined) return;
  const fpr = (v: number | null) => (v === null ? "n/a" : pct(v));
  report.note(
    `Traces with a syscall outside the model's vocabulary: ${pct(u.normalShare)} of normal, ${pct(u.attackShare)} of attack traces. Unknown syscalls encode as one <unk> token, which raises the score of the windows that hold it: false-positive rate at the threshold ${fpr(u.fprWithUnknown)} for normal traces with unknown syscalls, ${fpr(u.fprWithoutUnknown)} for those without.`,
  );
}

function pct(v: number): string {
  return `${(v * 100).toFixed(1)} %`;
}

function addModel(report: HtmlReport, model: SyscallModel): void {
  const c = model.config;
  const t = model.training;
  report.section("Model");
  report.table(
    ["setting", "value"],
    [
      ["window", `${c.windowLength} syscalls (training stride ${c.stride}, scoring stride 1)`],
      [
        "network",
        `Embedding(${model.network.config.vocabSize}, ${c.embeddingDim}) → ${[...c.hiddenLayers, c.latentDim, ...[...c.hiddenLayers].reverse()].join(" → ")} → ${c.windowLength}×${model.network.config.vocabSize} logits`,
      ],
      ["objective", `${c.objective}, cross-entropy, input noise ${c.noise}`],
      ["trace score", `${c.aggregation} of window scores, normalisation ${c.normalisation}`],
      ["vocabulary", `${model.vocabulary.names.length} syscalls (min count ${c.minCount}) + <pad>, <unk>`],
      [
        "threshold",
        `${model.threshold} (target FPR ${c.targetFpr}; held-out FPR ${t.heldOutFpr.toFixed(4)})`,
      ],
      [
        "training",
        `${t.fitTraces} traces, ${t.fitWindows} windows; held out ${t.heldOutTraces} traces, ${t.heldOutWindows} windows`,
      ],
      ["epochs", `${t.epochs} run, weights of epoch ${t.bestEpoch} kept (lowest held-out loss)`],
      ["optimiser", `Adam, learning rate ${c.learningRate}, batch ${c.batchSize}, seed ${c.seed}`],
    ],
  );
}

export async function writeEvaluationReport(
  dir: string,
  model: SyscallModel,
  evaluation: SyscallEvaluation,
  normal: Float64Array,
  attack: Float64Array,
  inputs: { normal: string[]; attack: string[] },
): Promise<string> {
  const charts: Charts = { dir: join(dir, "charts"), svg: {} };
  const report = new HtmlReport(
    "threatlens — syscall detector evaluation",
    `${evaluation.normalTraces} normal traces (${inputs.normal.join(", ")}) vs ${evaluation.attackTraces} attack traces (${inputs.attack.join(", ")})`,
  );
  report.section("Detection");
  await addDetection(report, charts, evaluation, normal, attack, "model");
  addModel(report, model);
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
  // One curve per trained network: configurations differing only in post-training settings share it.
  const networks = [...new Map(ok.map((r) => [networkKey(r.config), r])).values()];
  const trainingKeys = varied.filter(
    (k) => !(POST_TRAINING_KEYS as readonly string[]).includes(k) && k !== "targetFpr",
  );
  const series = (key: "validLoss" | "trainLoss") =>
    networks.flatMap((r) => {
      const history =
        runs.get(r.hash)?.history.filter((h) => h[key] !== null && Number.isFinite(h[key])) ?? [];
      return history.length === 0
        ? []
        : [
            {
              name: configLabel(r.config, trainingKeys),
              x: history.map((h) => h.epoch),
              y: history.map((h) => h[key] as number),
            },
          ];
    });
  const held = series("validLoss");
  if (held.length > 0) {
    await add(
      charts,
      "loss-held-out",
      lineSpec(held, {
        title: "Held-out loss per epoch",
        xTitle: "epoch",
        yTitle: "cross-entropy per position",
      }),
    );
    report.chart(
      charts.svg["loss-held-out"],
      "Loss on the held-out normal training traces; the kept weights are those of each curve's minimum.",
    );
  }
  const trained = series("trainLoss");
  if (trained.length > 0) {
    await add(
      charts,
      "loss-training",
      lineSpec(trained, {
        title: "Training loss per epoch",
        xTitle: "epoch",
        yTitle: "cross-entropy per position",
      }),
    );
    report.chart(charts.svg["loss-training"]);
  }
  report.table(
    [
      "configuration",
      "ROC AUC",
      "PR AUC",
      "det. @1 % FPR",
      "det. @5 % FPR",
      "FPR @ thr.",
      "det. @ thr.",
      "epochs",
      "train s",
      "status",
    ],
    ranked
      .concat(rows.filter((r) => r.status !== "ok"))
      .map((r) => [
        label(r),
        r.rocAuc ?? Number.NaN,
        r.prAuc ?? Number.NaN,
        r.detectionRateAt1Fpr ?? Number.NaN,
        r.detectionRateAt5Fpr ?? Number.NaN,
        r.fprAtThreshold ?? Number.NaN,
        r.detectionRateAtThreshold ?? Number.NaN,
        r.epochsRun ?? Number.NaN,
        r.trainSeconds ?? Number.NaN,
        r.status === "ok" ? "ok" : `failed: ${r.error ?? ""}`,
      ]),
    {
      highlightRow: 0,
      percentColumns: ["det. @1 % FPR", "det. @5 % FPR", "FPR @ thr.", "det. @ thr."],
    },
  );

  report.section("Best configuration", configLabel(best.row.config, varied));
  const run = runs.get(best.row.hash);
  if (run) {
    await addDetection(
      report,
      charts,
      best.evaluation,
      Float64Array.from(run.normalScores),
      Float64Array.from(run.attackScores),
      "best",
    );
  }
  addModel(report, best.model);
  const path = join(dir, "report.html");
  await report.write(path);
  return path;
}
