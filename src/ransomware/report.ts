import { join } from "node:path";
import { barSpec, confusionMatrixSpec, histogramSpec, prSpec, rocSpec, writeChart } from "../core/charts.ts";
import { prCurve, rocCurve } from "../core/metrics.ts";
import { HtmlReport } from "../core/report.ts";
import type { RansomwareEvaluation } from "./evaluate.ts";
import type { CvMetrics, RansomwareModel } from "./model.ts";
import { type CandidateResult, describeCandidate } from "./train.ts";

/**
 * The ransomware detector's reports: charts as PNG and SVG next to one self-contained HTML page. Evaluation
 * reports show the model on labelled data; training reports show the grid search and the cross-validated
 * performance of the chosen candidate.
 */
const CLASS_NAMES: [string, string] = ["benign", "ransomware"];

function headline(m: CvMetrics): Record<string, number> {
  return {
    recall: m.recall,
    precision: m.precision,
    F1: m.f1,
    MCC: m.mcc,
    "balanced accuracy": m.balancedAccuracy,
    "ROC AUC": m.rocAuc ?? Number.NaN,
    "PR AUC": m.prAuc ?? Number.NaN,
  };
}
const PERCENT_KEYS = ["recall", "precision", "F1", "balanced accuracy"];

export async function writeEvaluationReport(
  dir: string,
  evaluation: RansomwareEvaluation,
  model: RansomwareModel,
  inputs: string[],
  scores: Float64Array,
  y: Uint8Array,
): Promise<string> {
  const charts: Record<string, string> = {};
  const add = async (name: string, spec: Parameters<typeof writeChart>[2]) => {
    charts[name] = (await writeChart(dir, name, spec)).svg;
  };
  await add("confusion-matrix", confusionMatrixSpec(evaluation.confusion, CLASS_NAMES, "Confusion matrix"));
  if (evaluation.rocAuc !== null) {
    await add(
      "roc",
      rocSpec([{ name: "model", fpr: evaluation.roc.fpr, tpr: evaluation.roc.tpr, auc: evaluation.rocAuc }]),
    );
    await add(
      "precision-recall",
      prSpec([
        {
          name: "model",
          recall: evaluation.pr.recall,
          precision: evaluation.pr.precision,
          ap: evaluation.prAuc ?? 0,
        },
      ]),
    );
  }
  const groups = CLASS_NAMES.map((name, label) => ({
    name,
    values: Array.from(scores).filter((_, i) => y[i] === label),
  }));
  await add(
    "score-distribution",
    histogramSpec(
      groups.filter((g) => g.values.length > 0),
      {
        title: "Decision values by actual class",
        xTitle: "SVM decision value",
        threshold: evaluation.threshold,
      },
    ),
  );
  const topImportance = evaluation.importance.slice(0, 20);
  if (topImportance.length > 0) {
    await add(
      "feature-importance",
      barSpec(
        topImportance.map((i) => ({ name: i.feature, value: i.mean, error: i.std })),
        {
          title: "Permutation importance (drop in PR AUC)",
          xTitle: "feature",
          yTitle: "drop in PR AUC",
          horizontal: true,
        },
      ),
    );
  }
  const report = new HtmlReport(
    "threatlens — ransomware detector evaluation",
    `${evaluation.processes} processes (${evaluation.ransomware} labelled ransomware) from ${inputs.join(", ")}`,
  );
  report.section(
    "Detection",
    `Verdicts at the model's threshold ${evaluation.threshold} on the SVM decision value.`,
  );
  report.metrics(headline(evaluation), { percent: PERCENT_KEYS });
  report.chart(charts["confusion-matrix"], "Rows: actual class; columns: predicted class.");
  if (charts.roc) {
    report.chart(charts.roc, "ROC curve of the decision value (threshold-free).");
    report.chart(charts["precision-recall"], "Precision–recall curve; PR AUC is the average precision.");
  }
  report.chart(
    charts["score-distribution"],
    "Each class's share of processes per decision-value bin; the rule marks the threshold. Wide gaps mean robust verdicts.",
  );
  if (evaluation.missingFeatures.length > 0 || evaluation.extraFeatures.length > 0) {
    report.note(
      `Feature alignment: ${evaluation.missingFeatures.length} model feature(s) missing from the input were set to 0 (${evaluation.missingFeatures.join(", ") || "none"}); ${evaluation.extraFeatures.length} input feature(s) unknown to the model were ignored.`,
    );
  }
  report.section("Per log", "Where the errors are: false positives and missed ransomware per log file.");
  report.table(
    ["log", "processes", "ransomware", "detected", "missed", "false alarms"],
    evaluation.perLog.map((g) => [g.log, g.processes, g.ransomware, g.tp, g.fn, g.fp]),
  );
  report.section("Feature importance", evaluation.importanceMetric);
  if (charts["feature-importance"]) report.chart(charts["feature-importance"]);
  else if (evaluation.rocAuc === null) report.paragraph("Not computed: the data has a single class.");
  else {
    report.paragraph(
      "No single feature's permutation lowers the PR AUC (or importance was disabled): the model separates these classes with a margin that survives losing any one feature.",
    );
  }
  addModelSection(report, model);
  const path = join(dir, "report.html");
  await report.write(path);
  return path;
}

export async function writeTrainingReport(
  dir: string,
  model: RansomwareModel,
  results: CandidateResult[],
  best: number,
  y: Uint8Array,
): Promise<string> {
  const chosen = results[best];
  const m = chosen.metrics;
  const charts: Record<string, string> = {};
  const add = async (name: string, spec: Parameters<typeof writeChart>[2]) => {
    charts[name] = (await writeChart(dir, name, spec)).svg;
  };
  await add(
    "cv-confusion-matrix",
    confusionMatrixSpec(m.confusion, CLASS_NAMES, "Cross-validated confusion matrix"),
  );
  const roc = rocCurve(y, chosen.decision);
  const pr = prCurve(y, chosen.decision);
  await add(
    "cv-roc",
    rocSpec(
      [{ name: "out-of-fold", fpr: roc.fpr, tpr: roc.tpr, auc: m.rocAuc ?? Number.NaN }],
      "Cross-validated ROC",
    ),
  );
  await add(
    "cv-precision-recall",
    prSpec(
      [{ name: "out-of-fold", recall: pr.recall, precision: pr.precision, ap: m.prAuc ?? Number.NaN }],
      "Cross-validated precision–recall",
    ),
  );
  const report = new HtmlReport(
    "threatlens — ransomware detector training",
    `${model.training.processes} processes (${model.training.ransomware} ransomware) in ${model.training.logs} logs`,
  );
  report.section(
    "Cross-validation of the chosen model",
    `${describeCandidate(chosen.candidate)} — ${model.crossValidation.strategy} cross-validation, ${model.crossValidation.folds} folds; every process is scored by a model that did not see its fold.`,
  );
  report.metrics(headline(m), { percent: PERCENT_KEYS });
  report.chart(charts["cv-confusion-matrix"]);
  report.chart(charts["cv-roc"]);
  report.chart(charts["cv-precision-recall"]);
  report.section("Grid search", `Candidates ranked by ${model.crossValidation.selection.join(", then ")}.`);
  const order = results.map((_, i) => i).sort((a, b) => rank(results, a, b, model.crossValidation.selection));
  report.table(
    [
      "kernel",
      "C",
      "gamma",
      "class weight",
      "transform",
      "recall",
      "precision",
      "MCC",
      "ROC AUC",
      "PR AUC",
      "fit s",
    ],
    order.map((i) => {
      const r = results[i];
      const c = r.candidate;
      return [
        c.kernel,
        c.C,
        c.kernel === "linear" ? "—" : String(c.gamma),
        String(c.classWeight ?? "none"),
        c.transform,
        r.metrics.recall,
        r.metrics.precision,
        r.metrics.mcc,
        r.metrics.rocAuc ?? Number.NaN,
        r.metrics.prAuc ?? Number.NaN,
        r.fitMs / 1000,
      ];
    }),
    { highlightRow: order.indexOf(best), maxRows: 60, percentColumns: ["recall", "precision"] },
  );
  addModelSection(report, model);
  const path = join(dir, "report.html");
  await report.write(path);
  return path;
}

function rank(results: CandidateResult[], a: number, b: number, keys: string[]): number {
  for (const key of keys) {
    const av =
      (results[a].metrics as unknown as Record<string, number | null>)[key] ?? Number.NEGATIVE_INFINITY;
    const bv =
      (results[b].metrics as unknown as Record<string, number | null>)[key] ?? Number.NEGATIVE_INFINITY;
    if (av !== bv) return bv - av;
  }
  return a - b;
}

function addModelSection(report: HtmlReport, model: RansomwareModel): void {
  report.section("Model");
  report.table(
    ["setting", "value"],
    [
      ["hyperparameters", describeCandidate(model.hyperparameters)],
      ["threshold (decision value)", model.threshold],
      ["support vectors", model.pipeline.svm.supportVectors.length],
      ["features (used / schema)", `${model.pipeline.activeColumns.length} / ${model.featureNames.length}`],
      ["time window", `${model.windowMs} ms`],
      [
        "trained on",
        `${model.training.processes} processes, ${model.training.ransomware} ransomware, ${model.training.logs} logs`,
      ],
      [
        "cross-validation",
        `${model.crossValidation.strategy}, ${model.crossValidation.folds} folds, seed ${model.crossValidation.seed}`,
      ],
    ],
  );
}
