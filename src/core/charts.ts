/**
 * Charts for reports: small builders return vega-lite specs that share one look (size, fonts, colours);
 * renderChart turns a spec into SVG (vega, no canvas) and PNG (resvg). Data-heavy inputs (score histograms,
 * long curves) are reduced here in TypeScript so specs stay small and rendering stays fast.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Resvg } from "@resvg/resvg-js";
import * as vega from "vega";
import { compile, type TopLevelSpec } from "vega-lite";
import { ThreatlensError } from "./errors.ts";
import { CHART_FONT_FAMILY, chartFont, requireChartFont } from "./fonts.ts";

export type ChartSpec = TopLevelSpec;

export interface RenderedChart {
  svg: string;
  png: Buffer;
}

/** Curves longer than this are thinned before charting (a 1 M-threshold ROC adds nothing visible). */
export const MAX_CURVE_POINTS = 2000;
/** PNGs are drawn at twice the SVG size so they stay sharp on high-DPI screens and in print. */
const PNG_ZOOM = 2;

const WIDTH = 440;
const HEIGHT = 300;
/** Browsers without DejaVu fall back to Verdana, which has nearly the same glyph widths. */
const FONT_STACK = `${CHART_FONT_FAMILY}, Verdana, sans-serif`;
const PALETTE = ["#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#b279a2", "#eeca3b", "#9d755d"];
const MUTED = "#888888";
const ALERT = "#d62728";

const CONFIG = {
  font: FONT_STACK,
  // Per-datum aria-labels would double the SVG size of a report and are noise to a screen reader.
  aria: false,
  background: "white",
  padding: 10,
  view: { stroke: "#dddddd" },
  title: { fontSize: 16, fontWeight: 600, anchor: "start", offset: 12, color: "#222222" },
  axis: {
    labelFontSize: 12,
    titleFontSize: 13,
    titleFontWeight: "normal",
    titleColor: "#333333",
    labelColor: "#444444",
    gridColor: "#ebebeb",
    domainColor: "#999999",
    tickColor: "#999999",
    titlePadding: 8,
  },
  // Flush first/last labels collide with the neighbouring tick label on narrow charts.
  axisX: { labelFlush: false },
  legend: {
    labelFontSize: 12,
    titleFontSize: 12,
    titleFontWeight: "normal",
    labelLimit: 320,
    symbolSize: 90,
  },
  range: { category: PALETTE },
} as const;

function base(
  title: string | undefined,
  width: number | { step: number } = WIDTH,
  height: number | { step: number } = HEIGHT,
) {
  return { ...(title ? { title } : {}), width, height, config: CONFIG };
}

function assertFinite(where: string, values: ArrayLike<number>): void {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) {
      throw new ThreatlensError(`${where}: value #${i} is ${values[i]}, expected a finite number`);
    }
  }
}

function assertSameLength(where: string, a: ArrayLike<number>, b: ArrayLike<number>): void {
  if (a.length !== b.length)
    throw new ThreatlensError(`${where}: lengths differ (${a.length} vs ${b.length})`);
}

/**
 * Thins a curve to at most `maxPoints` by walking along it and keeping a point whenever the path since the
 * last kept point (axes scaled to [0, 1]) reaches 1/(maxPoints − 2) of the total length. Equal-index buckets
 * would cut the steep start of a good detector's ROC curve; this keeps every cut within one such step, so the
 * drawn curve stays within ~0.1 % of the plot size of the original. First and last points are always kept.
 */
export function downsampleCurve(
  x: ArrayLike<number>,
  y: ArrayLike<number>,
  maxPoints = MAX_CURVE_POINTS,
): { x: number[]; y: number[] } {
  assertSameLength("downsampleCurve", x, y);
  const n = x.length;
  if (n <= maxPoints || maxPoints < 3) return { x: Array.from(x), y: Array.from(y) };
  const span = (v: ArrayLike<number>) => {
    let lo = v[0];
    let hi = v[0];
    for (let i = 1; i < n; i++) {
      if (v[i] < lo) lo = v[i];
      if (v[i] > hi) hi = v[i];
    }
    return hi > lo ? hi - lo : 1;
  };
  const sx = span(x);
  const sy = span(y);
  const seg = (i: number) => Math.hypot((x[i] - x[i - 1]) / sx, (y[i] - y[i - 1]) / sy);
  let total = 0;
  for (let i = 1; i < n; i++) total += seg(i);
  const step = total / (maxPoints - 2);
  const outX = [x[0]];
  const outY = [y[0]];
  let walked = 0;
  for (let i = 1; i < n - 1; i++) {
    walked += seg(i);
    if (walked >= step) {
      outX.push(x[i]);
      outY.push(y[i]);
      walked = 0;
    }
  }
  outX.push(x[n - 1]);
  outY.push(y[n - 1]);
  return { x: outX, y: outY };
}

interface CurveRow {
  series: string;
  x: number;
  y: number;
  /** Drawing order: ROC/PR curves go back on themselves in x, so vega must not sort by x. */
  i: number;
}

function curveRows(series: string, x: ArrayLike<number>, y: ArrayLike<number>, where: string): CurveRow[] {
  assertSameLength(where, x, y);
  assertFinite(where, x);
  assertFinite(where, y);
  const thin = downsampleCurve(x, y);
  return thin.x.map((xv, i) => ({ series, x: xv, y: thin.y[i], i }));
}

function seriesColor(domain: string[], title: string | null = null) {
  return {
    field: "series",
    type: "nominal" as const,
    title,
    scale: { domain, range: PALETTE },
  };
}

export interface ConfusionCounts {
  tp: number;
  fp: number;
  tn: number;
  fn: number;
}

/** 2×2 heatmap; cells are shaded by the share of their actual class so a rare class stays visible. */
export function confusionMatrixSpec(
  c: ConfusionCounts,
  labels: [negativeName: string, positiveName: string],
  title?: string,
): ChartSpec {
  assertFinite("confusionMatrixSpec", [c.tp, c.fp, c.tn, c.fn]);
  const [neg, pos] = labels;
  const cell = (actual: string, predicted: string, count: number, rowTotal: number) => {
    const rate = rowTotal > 0 ? count / rowTotal : 0;
    return {
      actual,
      predicted,
      count,
      rate,
      text: [count.toLocaleString("en-US"), `${(rate * 100).toFixed(1)}%`],
    };
  };
  const values = [
    cell(neg, neg, c.tn, c.tn + c.fp),
    cell(neg, pos, c.fp, c.tn + c.fp),
    cell(pos, neg, c.fn, c.fn + c.tp),
    cell(pos, pos, c.tp, c.fn + c.tp),
  ];
  const axisScale = { domain: [neg, pos] };
  return {
    ...base(title, 260, 220),
    data: { values },
    encoding: {
      x: {
        field: "predicted",
        type: "nominal",
        title: "Predicted",
        scale: axisScale,
        axis: { labelAngle: 0, orient: "top", domain: false, ticks: false, labelPadding: 6 },
      },
      y: {
        field: "actual",
        type: "nominal",
        title: "Actual",
        scale: axisScale,
        axis: { domain: false, ticks: false, labelPadding: 6 },
      },
    },
    layer: [
      {
        mark: { type: "rect", stroke: "white", strokeWidth: 2 },
        encoding: {
          color: {
            field: "rate",
            type: "quantitative",
            scale: { scheme: "blues", domain: [0, 1] },
            legend: null,
          },
        },
      },
      {
        mark: { type: "text", fontSize: 14, lineHeight: 18, baseline: "middle" },
        encoding: {
          text: { field: "text" },
          color: { condition: { test: "datum.rate > 0.55", value: "white" }, value: "#222222" },
        },
      },
    ],
  };
}

export interface RocCurve {
  name: string;
  fpr: ArrayLike<number>;
  tpr: ArrayLike<number>;
  auc: number;
}

export function rocSpec(curves: RocCurve[], title = "ROC curve"): ChartSpec {
  const labels = curves.map((c) => `${c.name} (AUC ${c.auc.toFixed(3)})`);
  const rows = curves.flatMap((c, k) => curveRows(labels[k], c.fpr, c.tpr, `rocSpec "${c.name}"`));
  return unitCurveSpec(
    title,
    rows,
    labels,
    "False positive rate",
    "True positive rate",
    "bottom-right",
    true,
  );
}

export interface PrCurve {
  name: string;
  recall: ArrayLike<number>;
  precision: ArrayLike<number>;
  ap: number;
}

export function prSpec(curves: PrCurve[], title = "Precision–recall curve"): ChartSpec {
  const labels = curves.map((c) => `${c.name} (AP ${c.ap.toFixed(3)})`);
  const rows = curves.flatMap((c, k) => curveRows(labels[k], c.recall, c.precision, `prSpec "${c.name}"`));
  return unitCurveSpec(title, rows, labels, "Recall", "Precision", "bottom", false);
}

function unitCurveSpec(
  title: string,
  rows: CurveRow[],
  labels: string[],
  xTitle: string,
  yTitle: string,
  legendOrient: "bottom-right" | "bottom",
  diagonal: boolean,
): ChartSpec {
  const unit = { domain: [0, 1], nice: false };
  const curveLayer = {
    data: { values: rows },
    mark: { type: "line" as const, strokeWidth: 2, interpolate: "linear" as const },
    encoding: {
      x: { field: "x", type: "quantitative" as const, title: xTitle, scale: unit },
      y: { field: "y", type: "quantitative" as const, title: yTitle, scale: unit },
      order: { field: "i", type: "quantitative" as const },
      color: {
        ...seriesColor(labels),
        legend: {
          orient: legendOrient,
          direction: "vertical",
          fillColor: "rgba(255,255,255,0.85)",
          padding: 6,
          symbolType: "stroke",
        },
      },
    },
  };
  const chance = {
    data: {
      values: [
        { x: 0, y: 0 },
        { x: 1, y: 1 },
      ],
    },
    mark: { type: "line" as const, color: MUTED, strokeDash: [4, 4], strokeWidth: 1 },
    encoding: {
      x: { field: "x", type: "quantitative" as const },
      y: { field: "y", type: "quantitative" as const },
    },
  };
  return { ...base(title, 340, 340), layer: diagonal ? [chance, curveLayer] : [curveLayer] };
}

export interface BarItem {
  name: string;
  value: number;
  error?: number;
}

export interface BarOptions {
  title?: string;
  xTitle?: string;
  yTitle?: string;
  horizontal?: boolean;
}

/** Bars in the given order; `error` draws a ±error whisker (e.g. std over repeats). */
export function barSpec(items: BarItem[], opts: BarOptions = {}): ChartSpec {
  assertFinite(
    "barSpec values",
    items.map((d) => d.value),
  );
  assertFinite(
    "barSpec errors",
    items.map((d) => d.error ?? 0),
  );
  const negative = items.find((d) => (d.error ?? 0) < 0);
  if (negative)
    throw new ThreatlensError(`barSpec "${negative.name}": error must be >= 0, got ${negative.error}`);
  const values = items.map((d) => ({
    name: d.name,
    value: d.value,
    lo: d.value - (d.error ?? 0),
    hi: d.value + (d.error ?? 0),
  }));
  const horizontal = opts.horizontal ?? false;
  const names = items.map((d) => d.name);
  const longNames = names.some((n) => n.length > 8);
  const category = {
    field: "name",
    type: "nominal" as const,
    title: opts.xTitle ?? null,
    sort: names,
    // Horizontal bars show their labels whole (labelLimit 0): names that differ only at the end must stay apart.
    axis: horizontal ? { labelLimit: 0 } : { labelAngle: longNames ? -35 : 0, labelLimit: 160 },
  };
  const measure = (field: string) => ({ field, type: "quantitative" as const, title: opts.yTitle ?? null });
  const enc = (catChannel: "x" | "y", valChannel: "x" | "y") => ({
    bars: { [catChannel]: category, [valChannel]: measure("value") },
    whiskers: { [catChannel]: category, [valChannel]: measure("lo"), [`${valChannel}2`]: { field: "hi" } },
  });
  const { bars, whiskers } = horizontal ? enc("y", "x") : enc("x", "y");
  const layer: object[] = [{ mark: { type: "bar", color: PALETTE[0] }, encoding: bars }];
  if (items.some((d) => d.error !== undefined)) {
    layer.push({ mark: { type: "rule", color: "#333333", strokeWidth: 1.5 }, encoding: whiskers });
  }
  const size = horizontal ? base(opts.title, WIDTH, { step: 22 }) : base(opts.title, { step: 40 }, HEIGHT);
  return { ...size, data: { values }, layer } as ChartSpec;
}

export interface LineSeries {
  name: string;
  x: ArrayLike<number>;
  y: ArrayLike<number>;
}

export interface LineOptions {
  title?: string;
  xTitle?: string;
  yTitle?: string;
  logY?: boolean;
}

export function lineSpec(series: LineSeries[], opts: LineOptions = {}): ChartSpec {
  const names = series.map((s) => s.name);
  const rows = series.flatMap((s) => curveRows(s.name, s.x, s.y, `lineSpec "${s.name}"`));
  if (opts.logY) {
    const bad = rows.find((r) => r.y <= 0);
    if (bad) throw new ThreatlensError(`lineSpec "${bad.series}": logY needs y > 0, found ${bad.y}`);
  }
  return {
    ...base(opts.title),
    data: { values: rows },
    // Points as well as lines: a series of one point (one epoch) has no line to draw.
    mark: { type: "line", strokeWidth: 2, point: series.some((s) => s.x.length < 2) },
    encoding: {
      x: { field: "x", type: "quantitative", title: opts.xTitle ?? null },
      y: {
        field: "y",
        type: "quantitative",
        title: opts.yTitle ?? null,
        scale: opts.logY ? { type: "log", nice: false } : { zero: false },
      },
      order: { field: "i", type: "quantitative" },
      color: { ...seriesColor(names), legend: { symbolType: "stroke" } },
    },
  };
}

export interface HistogramGroup {
  name: string;
  values: ArrayLike<number>;
}

export interface HistogramOptions {
  title?: string;
  xTitle?: string;
  bins?: number;
  logX?: boolean;
  /** Draws a vertical rule (a detector's decision threshold). */
  threshold?: number;
}

/**
 * Overlaid histograms with shared bin edges, each group normalised to its own size: with 1 attack per 1,000
 * normal samples, raw counts would hide the attack distribution.
 */
export function histogramSpec(groups: HistogramGroup[], opts: HistogramOptions = {}): ChartSpec {
  const bins = opts.bins ?? 40;
  if (!Number.isInteger(bins) || bins < 1)
    throw new ThreatlensError(`histogramSpec: bins must be a positive integer, got ${bins}`);
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const g of groups) {
    assertFinite(`histogramSpec "${g.name}"`, g.values);
    for (let i = 0; i < g.values.length; i++) {
      const v = g.values[i];
      if (opts.logX && v <= 0) {
        throw new ThreatlensError(`histogramSpec "${g.name}": logX needs values > 0, value #${i} is ${v}`);
      }
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  }
  if (opts.threshold !== undefined) {
    assertFinite("histogramSpec threshold", [opts.threshold]);
    if (opts.logX && opts.threshold <= 0) {
      throw new ThreatlensError(`histogramSpec: logX needs threshold > 0, got ${opts.threshold}`);
    }
    lo = Math.min(lo, opts.threshold);
    hi = Math.max(hi, opts.threshold);
  }
  if (!Number.isFinite(lo)) [lo, hi] = opts.logX ? [0.1, 10] : [0, 1];
  if (lo === hi) [lo, hi] = opts.logX ? [lo / 2, hi * 2] : [lo - 0.5, hi + 0.5];
  const toAxis = opts.logX ? Math.log : (v: number) => v;
  const fromAxis = opts.logX ? Math.exp : (v: number) => v;
  const a = toAxis(lo);
  const width = (toAxis(hi) - a) / bins;
  const edges = Array.from({ length: bins + 1 }, (_, k) => (k === bins ? hi : fromAxis(a + k * width)));
  const rows: { series: string; x0: number; x1: number; share: number }[] = [];
  for (const g of groups) {
    const counts = new Array<number>(bins).fill(0);
    for (let i = 0; i < g.values.length; i++) {
      const k = Math.floor((toAxis(g.values[i]) - a) / width);
      counts[Math.min(Math.max(k, 0), bins - 1)]++;
    }
    counts.forEach((count, k) => {
      if (count > 0)
        rows.push({ series: g.name, x0: edges[k], x1: edges[k + 1], share: count / g.values.length });
    });
  }
  const xScale = opts.logX
    ? { type: "log" as const, domain: [lo, hi], nice: false }
    : { domain: [lo, hi], nice: false };
  const layer: object[] = [
    {
      data: { values: rows },
      mark: { type: "bar", opacity: 0.55, binSpacing: 0 },
      encoding: {
        x: { field: "x0", type: "quantitative", title: opts.xTitle ?? null, scale: xScale },
        x2: { field: "x1" },
        y: {
          field: "share",
          type: "quantitative",
          title: "Share of group",
          axis: { format: "~%" },
          stack: null,
        },
        y2: { datum: 0 },
        color: seriesColor(groups.map((g) => g.name)),
      },
    },
  ];
  if (opts.threshold !== undefined) {
    const t = [{ x: opts.threshold, label: `threshold ${formatTick(opts.threshold)}` }];
    layer.push(
      {
        data: { values: t },
        mark: { type: "rule", color: ALERT, strokeDash: [5, 3], strokeWidth: 1.5 },
        encoding: { x: { field: "x", type: "quantitative" } },
      },
      {
        data: { values: t },
        mark: { type: "text", color: ALERT, align: "left", baseline: "top", dx: 4, y: 2, fontSize: 12 },
        encoding: { x: { field: "x", type: "quantitative" }, text: { field: "label" } },
      },
    );
  }
  return { ...base(opts.title), layer } as ChartSpec;
}

export interface ScatterPoint {
  x: number;
  y: number;
  label?: string;
  group?: string;
}

export interface ScatterOptions {
  title?: string;
  xTitle?: string;
  yTitle?: string;
  logX?: boolean;
  logY?: boolean;
}

export function scatterSpec(points: ScatterPoint[], opts: ScatterOptions = {}): ChartSpec {
  assertFinite(
    "scatterSpec x",
    points.map((p) => p.x),
  );
  assertFinite(
    "scatterSpec y",
    points.map((p) => p.y),
  );
  const values = points.map((p) => ({ x: p.x, y: p.y, label: p.label ?? "", series: p.group ?? "" }));
  const groups = [...new Set(values.map((v) => v.series))];
  const x = {
    field: "x",
    type: "quantitative" as const,
    title: opts.xTitle ?? null,
    scale: opts.logX ? { type: "log" as const, padding: 16 } : { zero: false, padding: 16 },
  };
  const y = {
    field: "y",
    type: "quantitative" as const,
    title: opts.yTitle ?? null,
    scale: opts.logY ? { type: "log" as const, padding: 16 } : { zero: false, padding: 16 },
  };
  const grouped = groups.length > 1 || groups[0] !== "";
  return {
    ...base(opts.title),
    data: { values },
    encoding: { x, y },
    layer: [
      {
        mark: {
          type: "point",
          filled: true,
          size: 70,
          opacity: 0.9,
          ...(grouped ? {} : { color: PALETTE[0] }),
        },
        encoding: grouped ? { color: seriesColor(groups) } : {},
      },
      {
        mark: { type: "text", align: "left", dx: 7, dy: -6, fontSize: 11, color: "#333333" },
        encoding: { text: { field: "label" } },
      },
    ],
  } as ChartSpec;
}

function formatTick(v: number): string {
  return Number.isInteger(v) ? String(v) : Number(v.toPrecision(3)).toString();
}

interface TextItem {
  fontSize?: number;
  fontWeight?: string | number;
}

/** Exported at run time (vega re-exports vega-scenegraph) but missing from vega's typings. */
const scenegraph = vega as unknown as {
  textMetrics: { width: (item: TextItem, text: unknown) => number };
  resetSVGDefIds: () => void;
};

let textMetricsInstalled = false;

/**
 * Vega lays text out with the measured widths of the font resvg will draw with; without this hook it
 * guesses 0.8 em per character, which misplaces legends and axis titles. vega-scenegraph provides for a
 * user-defined textMetrics.width (vl-convert does the same). Without a font file, vega's estimate stays.
 */
function installTextMetrics(): void {
  if (textMetricsInstalled) return;
  textMetricsInstalled = true;
  const font = chartFont();
  if (!font) return;
  scenegraph.textMetrics.width = (item, text) => {
    const size = item.fontSize ?? 11;
    const weight = item.fontWeight;
    const bold =
      weight === "bold" ||
      weight === "bolder" ||
      (typeof weight === "number" ? weight : Number(weight)) >= 600;
    const str = Array.isArray(text) ? text.join(" ") : String(text ?? "").trim();
    return font.textWidth(str, size, bold);
  };
}

/** vega-lite warnings here mean a builder (or caller) wrote a spec vega-lite partly ignores: fail loudly. */
const strictLogger = vega.logger(vega.Warn, undefined, (_method, level, args) => {
  throw new ThreatlensError(`chart spec ${level.toLowerCase()}: ${args.join(" ")}`);
});

/** Vega's def-id counter is process-wide, so renders run one at a time to keep their ids (and bytes) stable. */
let renderQueue: Promise<unknown> = Promise.resolve();

export function chartToSvg(spec: ChartSpec): Promise<string> {
  const run = renderQueue.then(() => renderSvg(spec));
  renderQueue = run.catch(() => undefined);
  return run;
}

async function renderSvg(spec: ChartSpec): Promise<string> {
  installTextMetrics();
  const compiled = compile(spec, { logger: strictLogger }).spec;
  // Gradient and clip-path ids are allocated while the dataflow runs and while it is drawn.
  scenegraph.resetSVGDefIds();
  const view = new vega.View(vega.parse(compiled), { renderer: "none", logLevel: vega.Error });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

export function svgToPng(svg: string): Buffer {
  const font = requireChartFont();
  const resvg = new Resvg(svg, {
    fitTo: { mode: "zoom", value: PNG_ZOOM },
    background: "white",
    font: {
      loadSystemFonts: false,
      fontFiles: [font.files.regular, font.files.bold],
      defaultFontFamily: font.family,
      sansSerifFamily: font.family,
    },
  });
  return resvg.render().asPng();
}

export async function renderChart(spec: ChartSpec): Promise<RenderedChart> {
  const svg = await chartToSvg(spec);
  return { svg, png: svgToPng(svg) };
}

export async function writeChart(
  dir: string,
  baseName: string,
  spec: ChartSpec,
): Promise<{ svgPath: string; pngPath: string; svg: string }> {
  const { svg, png } = await renderChart(spec);
  await mkdir(dir, { recursive: true });
  const svgPath = join(dir, `${baseName}.svg`);
  const pngPath = join(dir, `${baseName}.png`);
  await writeFile(svgPath, svg);
  await writeFile(pngPath, png);
  return { svgPath, pngPath, svg };
}
