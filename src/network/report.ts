import { basename, join } from "node:path";
import { barSpec, confusionMatrixSpec, histogramSpec, prSpec, rocSpec, writeChart } from "../core/charts.ts";
import { prCurve, rocCurve } from "../core/metrics.ts";
import { HtmlReport } from "../core/report.ts";
import { gbdtSplitCounts } from "../models/gbdt.ts";
import type { FlowDataset } from "./dataset.ts";
import { type CategoryRow, captureBreakdown, type NetworkEvaluation } from "./evaluate.ts";
import type { FlowMetrics } from "./metrics.ts";
import { fitSummary, isGbdt, isKitnet, type KitnetCalibration, type NetworkModel } from "./model.ts";
import { type CandidateResult, describeCandidate } from "./train.ts";

/**
 * The network detector's reports: charts as PNG and SVG beside one self-contained HTML page. Pooled per-flow
 * numbers are always shown next to the per-capture ones (each capture weighted equally), because a few floods hold
 * most of the malicious flows.
 */
const CLASS_NAMES: [string, string] = ["benign", "malicious"];
const PERCENT_KEYS = [
  "recall",
  "precision",
  "F1",
  "accuracy",
  "share flagged",
  "capture recall",
  "capture FPR",
];

function headline(m: FlowMetrics): Record<string, number> {
  return {
    "ROC AUC": m.rocAuc ?? Number.NaN,
    "ROC AUC per capture": m.captureRocAuc ?? Number.NaN,
    "PR AUC": m.prAuc ?? Number.NaN,
    recall: m.recall,
    precision: m.precision,
    F1: m.f1,
    accuracy: m.accuracy,
    "share flagged": m.flaggedShare,
    "capture recall": m.captureRecall ?? Number.NaN,
    "capture FPR": m.captureFpr ?? Number.NaN,
  };
}

type Add = (name: string, spec: Parameters<typeof writeChart>[2]) => Promise<void>;

function chartWriter(dir: string, charts: Record<string, string>): Add {
  return async (name, spec) => {
    charts[name] = (await writeChart(dir, name, spec)).svg;
  };
}

async function curves(
  add: Add,
  y: ArrayLike<number>,
  p: ArrayLike<number>,
  m: FlowMetrics,
  prefix: string,
  label: string,
) {
  if (m.rocAuc === null) return;
  const roc = rocCurve(y, p);
  const pr = prCurve(y, p);
  await add(`${prefix}roc`, rocSpec([{ name: label, fpr: roc.fpr, tpr: roc.tpr, auc: m.rocAuc }]));
  await add(
    `${prefix}precision-recall`,
    prSpec([{ name: label, recall: pr.recall, precision: pr.precision, ap: m.prAuc ?? 0 }]),
  );
}

function weightsChart(features: { feature: string; weight: number }[], kind: "weight" | "splits") {
  return barSpec(
    features.slice(0, 25).map((f) => ({ name: f.feature, value: f.weight })),
    kind === "weight"
      ? { title: "Logistic-regression weights (standardised features)", yTitle: "weight", horizontal: true }
      : { title: "Boosted trees: splits per feature", yTitle: "splits", horizontal: true },
  );
}

export async function writeEvaluationReport(
  dir: string,
  e: NetworkEvaluation,
  data: FlowDataset,
  probability: Float64Array,
): Promise<string> {
  const charts: Record<string, string> = {};
  const add = chartWriter(dir, charts);
  const y = data.y ?? new Uint8Array(probability.length);
  await add("confusion-matrix", confusionMatrixSpec(e.confusion, CLASS_NAMES, "Confusion matrix (flows)"));
  await curves(add, y, probability, e, "", "flows");
  if (e.model.importance !== "none") await add("weights", weightsChart(e.features, e.model.importance));
  const shares = CLASS_NAMES.map((name) => ({
    name: `${name} captures`,
    values: e.perCapture.filter((c) => c.label === name).map((c) => c.flaggedShare),
  })).filter((g) => g.values.length > 0);
  await add(
    "per-capture",
    histogramSpec(shares, {
      title: "Share of each capture's flows flagged malicious",
      xTitle: "share flagged",
    }),
  );
  const report = new HtmlReport(
    "threatlens — network flow detector evaluation",
    `${e.flows} flows (${e.malicious} from malicious captures) in ${e.captures} captures; model ${e.model.source} (${e.model.kind}, ${e.model.featureSet} features, ${e.model.flowSource} flows)`,
  );
  report.section(
    "Detection",
    `Flows with P(malicious) ≥ ${e.threshold} are flagged. "Per capture" numbers weight every capture equally; "share flagged" is the share of flows flagged malicious (sent on for deeper analysis).`,
  );
  report.metrics(headline(e), { percent: PERCENT_KEYS });
  report.chart(
    charts["confusion-matrix"],
    "Rows: actual class (the capture's label); columns: predicted class.",
  );
  if (charts.roc) {
    report.chart(charts.roc, "ROC curve of the probability over all flows (pooled).");
    report.chart(charts["precision-recall"], "Precision–recall curve; PR AUC is the average precision.");
  }
  report.chart(
    charts["per-capture"],
    "Per capture: recall for malicious captures, false-positive rate for benign ones.",
  );
  if (e.ambiguousExcluded.length > 0) {
    report.note(
      `${e.ambiguousExcluded.length} ambiguous input(s) excluded: ${e.ambiguousExcluded.map((p) => basename(p)).join(", ")}`,
    );
  }
  report.section(
    "Per category",
    "ROC AUC of the category's flows against all benign flows, each capture weighted equally.",
  );
  report.table(
    ["label", "category", "captures", "flows", "share flagged", "ROC AUC vs benign"],
    e.perCategory.map((c) => [
      c.label,
      c.category,
      c.captures,
      c.flows,
      c.flaggedShare,
      c.rocAuc ?? Number.NaN,
    ]),
    { percentColumns: ["share flagged"] },
  );
  report.section("Per capture");
  report.table(
    ["capture", "label", "category", "flows", "flagged", "share flagged"],
    e.perCapture.map((c) => [basename(c.capture), c.label, c.category, c.flows, c.flagged, c.flaggedShare]),
    { percentColumns: ["share flagged"] },
  );
  if (charts.weights) {
    report.section(
      "Features",
      e.model.importance === "splits"
        ? "Tree splits per feature, most used first."
        : "Weights of the standardised features, largest magnitude first (positive = malicious).",
    );
    report.chart(charts.weights);
  }
  const path = join(dir, "report.html");
  await report.write(path);
  return path;
}

function categoryTable(report: HtmlReport, rows: CategoryRow[]): void {
  report.table(
    ["label", "category", "captures", "flows", "share flagged", "ROC AUC vs benign"],
    rows.map((c) => [c.label, c.category, c.captures, c.flows, c.flaggedShare, c.rocAuc ?? Number.NaN]),
    { percentColumns: ["share flagged"] },
  );
}

export async function writeTrainingReport(
  dir: string,
  model: NetworkModel,
  results: CandidateResult[],
  best: number,
  data: FlowDataset,
): Promise<string> {
  const chosen = results[best];
  const m = chosen.metrics;
  const charts: Record<string, string> = {};
  const add = chartWriter(dir, charts);
  const y = data.y ?? new Uint8Array(chosen.probability.length);
  await add(
    "cv-confusion-matrix",
    confusionMatrixSpec(m.confusion, CLASS_NAMES, "Cross-validated confusion matrix"),
  );
  await curves(add, y, chosen.probability, m, "cv-", "out-of-fold");
  if (!isKitnet(model)) {
    const importance = isGbdt(model) ? gbdtSplitCounts(model.gbdt) : model.pipeline.logistic.weights;
    await add(
      "weights",
      weightsChart(
        model.featureNames
          .map((feature, i) => ({ feature, weight: importance[i] }))
          .sort((a, b) => Math.abs(b.weight) - Math.abs(a.weight)),
        isGbdt(model) ? "splits" : "weight",
      ),
    );
  }
  const report = new HtmlReport(
    "threatlens — network flow detector training",
    `${model.training.flows} flows (${model.training.malicious} malicious) from ${model.training.captures} captures; at most ${model.training.maxFlowsPerCapture ?? "all"} flows per capture`,
  );
  report.section(
    "Cross-validation of the chosen model",
    `${describeCandidate(chosen.candidate)} — ${model.crossValidation.strategy} cross-validation, ${model.crossValidation.folds} folds; every flow is scored by a model that did not see its fold.`,
  );
  report.metrics(headline(m), { percent: PERCENT_KEYS });
  report.chart(charts["cv-confusion-matrix"]);
  if (charts["cv-roc"]) {
    report.chart(charts["cv-roc"]);
    report.chart(charts["cv-precision-recall"]);
  }
  const xv = model.crossValidation;
  if (xv.bySource) {
    report.section(
      "Held out by source",
      "The chosen candidate cross-validated with one fold per capture source (the manifest's source column): each source is scored by a model trained on the others only, the closest these inputs come to traffic from a network the model never saw.",
    );
    const row = (what: string, captures: number, m: FlowMetrics) => [
      what,
      captures,
      m.rocAuc ?? Number.NaN,
      m.captureRocAuc ?? Number.NaN,
      m.captureRecall ?? Number.NaN,
      m.captureFpr ?? Number.NaN,
    ];
    report.table(
      ["held out", "captures", "ROC AUC", "ROC AUC per capture", "capture recall", "capture FPR"],
      [
        row("every source (pooled)", model.training.captures, xv.bySource),
        ...(xv.perSource ?? []).map((s) => row(s.source, s.captures, s.metrics)),
      ],
      { percentColumns: ["capture recall", "capture FPR"] },
    );
  }
  const { perCategory } = captureBreakdown(data, y, chosen.probability, model.threshold);
  report.section(
    "Cross-validated, per category",
    "Out-of-fold scores: ROC AUC of the category's flows against all benign flows, each capture weighted equally.",
  );
  categoryTable(report, perCategory);
  if (isKitnet(model)) {
    report.section(
      "Calibration",
      `No grid search: the anomaly model is fitted on benign flows only. ${model.calibration.method}; the threshold is the KitNET score that ${100 * model.calibration.targetFpr} % of those out-of-fold benign flows reach.`,
    );
  } else {
    report.section("Grid search", `Candidates ranked by ${model.crossValidation.selection.join(", then ")}.`);
    const order = results.map((_, i) => i);
    report.table(
      [
        "candidate",
        "ROC AUC",
        "ROC AUC per capture",
        "PR AUC",
        "recall",
        "precision",
        "max iterations",
        "fit s",
      ],
      order.map((i) => {
        const r = results[i];
        return [
          describeCandidate(r.candidate),
          r.metrics.rocAuc ?? Number.NaN,
          r.metrics.captureRocAuc ?? Number.NaN,
          r.metrics.prAuc ?? Number.NaN,
          r.metrics.recall,
          r.metrics.precision,
          r.maxIterations,
          r.fitMs / 1000,
        ];
      }),
      { highlightRow: best, maxRows: 150, percentColumns: ["recall", "precision"] },
    );
  }
  report.section("Model");
  if (charts.weights) report.chart(charts.weights);
  report.table(
    ["setting", "value"],
    [
      ["hyperparameters", describeCandidate(model.hyperparameters)],
      isKitnet(model)
        ? ["threshold", calibrationText(model.calibration)]
        : ["threshold (probability)", model.threshold],
      ...(isGbdt(model) && model.anomaly !== undefined
        ? [
            [
              "anomaly part",
              `${describeCandidate(model.anomaly.hyperparameters)}; ${calibrationText(model.anomaly.calibration)}. A flow's score is the mean of the trees' probability and this part's score.`,
            ],
          ]
        : []),
      ["features", `${model.featureNames.length} (${model.featureSet})`],
      ["fit", fitSummary(model)],
      ["flow timeouts", `idle ${model.timeouts.idleTimeout} s, active ${model.timeouts.activeTimeout} s`],
    ],
  );
  const path = join(dir, "report.html");
  await report.write(path);
  return path;
}

function calibrationText(c: KitnetCalibration): string {
  return `KitNET score ${c.rmseThreshold.toPrecision(4)} (flow score 0.5): flags ${(100 * c.expected.rate).toFixed(2)} % of ${c.expected.flows} held-out benign flows (95 % interval ${(100 * c.expected.lower).toFixed(2)}–${(100 * c.expected.upper).toFixed(2)} %), ${(100 * c.captureFpr).toFixed(2)} % averaged over ${c.captures} benign captures; target ${100 * c.targetFpr} %`;
}
