import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import {
  barSpec,
  type ChartSpec,
  chartToSvg,
  confusionMatrixSpec,
  downsampleCurve,
  histogramSpec,
  lineSpec,
  MAX_CURVE_POINTS,
  prSpec,
  renderChart,
  rocSpec,
  scatterSpec,
  svgToPng,
  writeChart,
} from "../../src/core/charts.ts";
import { ThreatlensError } from "../../src/core/errors.ts";
import { CHART_FONT_FAMILY, chartFont, locateFontFiles, requireChartFont } from "../../src/core/fonts.ts";
import { randomNormal, seededRandom } from "../../src/core/random.ts";
import { chartWithDefs } from "./fixtures/chart-with-defs.ts";

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function pngSize(png: Buffer): { width: number; height: number } {
  assert.ok(png.subarray(0, 8).equals(PNG_SIGNATURE), "PNG signature");
  assert.equal(png.toString("latin1", 12, 16), "IHDR");
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

function svgSize(svg: string): { width: number; height: number } {
  const m = /^<svg[^>]*\swidth="(\d+(?:\.\d+)?)"\s+height="(\d+(?:\.\d+)?)"/.exec(svg);
  assert.ok(m, "SVG root has width and height");
  return { width: Number(m[1]), height: Number(m[2]) };
}

/** A smooth ROC-like curve (tpr = fpr^(1/k)) with n points. */
function syntheticRoc(n: number, k: number): { fpr: number[]; tpr: number[] } {
  const fpr = Array.from({ length: n }, (_, i) => i / (n - 1));
  return { fpr, tpr: fpr.map((x) => x ** (1 / k)) };
}

async function assertRenders(spec: ChartSpec, expectedText: string[]): Promise<string> {
  const { svg, png } = await renderChart(spec);
  assert.ok(svg.startsWith("<svg"), "SVG document");
  for (const text of expectedText)
    assert.ok(svg.includes(`>${text}<`), `SVG shows text ${JSON.stringify(text)}`);
  const s = svgSize(svg);
  const p = pngSize(png);
  assert.ok(p.width > 0 && p.height > 0);
  assert.equal(p.width, Math.ceil(s.width * 2), "PNG drawn at 2x");
  assert.equal(p.height, Math.ceil(s.height * 2));
  return svg;
}

describe("fonts", () => {
  it("finds DejaVu Sans regular and bold", () => {
    const font = requireChartFont();
    assert.equal(font.family, CHART_FONT_FAMILY);
    assert.match(font.files.regular, /DejaVuSans\.ttf$/);
    assert.match(font.files.bold, /DejaVuSans-Bold\.ttf$/);
  });

  it("searches the given folders in order and skips ones without both files", () => {
    const dir = requireChartFont().files.regular.replace(/\/DejaVuSans\.ttf$/, "");
    assert.equal(locateFontFiles([]), undefined);
    assert.equal(locateFontFiles(["/nonexistent/fonts"]), undefined);
    assert.deepEqual(locateFontFiles(["/nonexistent/fonts", dir]), {
      regular: join(dir, "DejaVuSans.ttf"),
      bold: join(dir, "DejaVuSans-Bold.ttf"),
    });
  });

  it("measures text from glyph advances (wide glyphs wider, bold wider, linear in size)", () => {
    const font = chartFont()!;
    const w = (t: string, size = 10, bold = false) => font.textWidth(t, size, bold);
    assert.ok(w("WWWW") > 2 * w("iiii"));
    assert.ok(w("Detection rate", 10, true) > w("Detection rate"));
    assert.ok(Math.abs(w("abc", 20) - 2 * w("abc", 10)) < 1e-9);
    assert.equal(w(""), 0);
    // DejaVu Sans digits are 0.636 em wide (1303/2048 units).
    assert.ok(Math.abs(w("0123456789", 10) - 63.62) < 0.01);
    // A character outside every cmap range falls back to .notdef instead of throwing.
    assert.ok(w("\u{10FFFD}") > 0);
  });
});

describe("downsampleCurve", () => {
  it("leaves short curves alone", () => {
    const { fpr, tpr } = syntheticRoc(MAX_CURVE_POINTS, 3);
    const out = downsampleCurve(fpr, tpr);
    assert.deepEqual(out.x, fpr);
    assert.deepEqual(out.y, tpr);
  });

  it("thins long curves to the limit, keeps end points and the shape", () => {
    const { fpr, tpr } = syntheticRoc(50_001, 4);
    const out = downsampleCurve(fpr, tpr);
    assert.ok(
      out.x.length <= MAX_CURVE_POINTS && out.x.length > MAX_CURVE_POINTS / 2,
      `${out.x.length} points`,
    );
    assert.equal(out.x[0], 0);
    assert.equal(out.y[0], 0);
    assert.equal(out.x.at(-1), 1);
    assert.equal(out.y.at(-1), 1);
    for (let i = 1; i < out.x.length; i++) assert.ok(out.x[i] > out.x[i - 1], "order kept");
    // Linear interpolation of the thinned curve stays close to the original everywhere.
    let j = 0;
    let worst = 0;
    for (let i = 0; i < fpr.length; i++) {
      while (out.x[j + 1] < fpr[i]) j++;
      const t = (fpr[i] - out.x[j]) / (out.x[j + 1] - out.x[j]);
      const y = out.y[j] + t * (out.y[j + 1] - out.y[j]);
      worst = Math.max(worst, Math.abs(y - tpr[i]));
    }
    assert.ok(worst < 2 / MAX_CURVE_POINTS, `max deviation ${worst}`);
  });

  it("keeps the corner of a step curve", () => {
    // Vertical jump to tpr 0.9 at fpr 0, then flat: the corner (0, 0.9) must survive.
    const n = 10_000;
    const x = Array.from({ length: n }, (_, i) => (i < n / 2 ? 0 : (i - n / 2) / (n / 2 - 1)));
    const y = Array.from({ length: n }, (_, i) =>
      i < n / 2 ? (0.9 * i) / (n / 2 - 1) : 0.9 + (0.1 * (i - n / 2)) / (n / 2 - 1),
    );
    const out = downsampleCurve(x, y, 100);
    assert.ok(out.x.length <= 100);
    assert.ok(out.x.some((xv, i) => xv === 0 && Math.abs(out.y[i] - 0.9) < 0.02));
  });
});

describe("chart builders render to SVG and PNG", () => {
  it("confusion matrix", async () => {
    const spec = confusionMatrixSpec(
      { tp: 2871, fp: 312, tn: 19688, fn: 129 },
      ["benign", "ransomware"],
      "CM",
    );
    await assertRenders(spec, [
      "CM",
      "Predicted",
      "Actual",
      "benign",
      "ransomware",
      "19,688",
      "98.4%",
      "4.3%",
    ]);
  });

  it("ROC with diagonal, AUC in the legend and long curves thinned", async () => {
    const a = syntheticRoc(10_000, 5);
    const b = syntheticRoc(300, 2);
    const spec = rocSpec([
      { name: "forest", fpr: a.fpr, tpr: a.tpr, auc: 0.8333 },
      { name: "linear", fpr: b.fpr, tpr: b.tpr, auc: 0.6667 },
    ]);
    const rows = (spec as { layer: { data: { values: unknown[] } }[] }).layer[1].data.values;
    assert.ok(rows.length <= MAX_CURVE_POINTS + 300 && rows.length > 300, `${rows.length} rows`);
    await assertRenders(spec, [
      "ROC curve",
      "False positive rate",
      "True positive rate",
      "forest (AUC 0.833)",
      "linear (AUC 0.667)",
    ]);
  });

  it("precision-recall with AP in the legend", async () => {
    const recall = [0, 0.25, 0.5, 0.75, 1];
    await assertRenders(
      prSpec([{ name: "svm", recall, precision: [1, 0.9, 0.8, 0.5, 0.2], ap: 0.71 }], "PR test"),
      ["PR test", "Recall", "Precision", "svm (AP 0.710)"],
    );
  });

  it("bars with error whiskers, vertical and horizontal", async () => {
    const items = [
      { name: "entropy_mean", value: 0.2, error: 0.03 },
      { name: "rename_count", value: 0.1, error: 0.01 },
      { name: "unique_ext", value: 0.02 },
    ];
    const vertical = barSpec(items, { title: "Importance", xTitle: "Feature", yTitle: "Drop in AUC" });
    const horizontal = barSpec(items, { title: "Importance", yTitle: "Drop in AUC", horizontal: true });
    for (const spec of [vertical, horizontal]) {
      const svg = await assertRenders(spec, [
        "Importance",
        "Drop in AUC",
        "entropy_mean",
        "rename_count",
        "unique_ext",
      ]);
      assert.match(svg, /role-mark.*role-mark/s, "bar layer and whisker layer");
    }
    assert.throws(() => barSpec([{ name: "a", value: 1, error: -0.1 }], {}), /error must be >= 0/);
    const noErrors = barSpec([{ name: "DoS", value: 0.99 }], {}) as { layer: unknown[] };
    assert.equal(noErrors.layer.length, 1);
  });

  it("horizontal bars show long labels whole: configurations that differ at the end stay apart", async () => {
    const names = [
      "3f2a1c signals=ngram+novelty+repertoire n=8 w=10 aeWin=7",
      "3f2a1d signals=ngram+novelty+repertoire n=8 w=10 aeWin=11",
    ];
    const svg = await assertRenders(
      barSpec(
        names.map((name, i) => ({ name, value: 0.8 + i / 100 })),
        { title: "Validation ROC AUC", horizontal: true },
      ),
      names,
    );
    assert.doesNotMatch(svg, /…/, "no label cut short");
  });

  it("a line series of one point (one epoch) is drawn as a point", async () => {
    const svg = await assertRenders(lineSpec([{ name: "one epoch", x: [1], y: [0.5] }], { title: "Loss" }), [
      "one epoch",
    ]);
    assert.match(svg, /class="mark-symbol role-mark /, "a point mark for the data, not only the legend's");
  });

  it("line series, linear and log y", async () => {
    const series = [
      { name: "lr=0.001", x: [1, 2, 3, 4], y: [0.9, 0.5, 0.3, 0.25] },
      { name: "lr=0.01", x: [1, 2, 3, 4], y: [0.7, 0.2, 0.1, 0.09] },
    ];
    await assertRenders(lineSpec(series, { title: "Loss", xTitle: "Epoch", yTitle: "MSE" }), [
      "Loss",
      "Epoch",
      "MSE",
      "lr=0.001",
      "lr=0.01",
    ]);
    await assertRenders(lineSpec(series, { title: "Loss", xTitle: "Epoch", yTitle: "MSE", logY: true }), [
      "Loss",
      "lr=0.01",
    ]);
    assert.throws(() => lineSpec([{ name: "bad", x: [1, 2], y: [1, 0] }], { logY: true }), ThreatlensError);
    assert.throws(() => lineSpec([{ name: "bad", x: [1, 2], y: [1] }]), /lengths differ/);
  });

  it("histogram: shared bins, each group normalised, threshold rule", async () => {
    const random = seededRandom(7);
    const normal = Array.from({ length: 5000 }, () => Math.exp(randomNormal(random)));
    const attack = Array.from({ length: 50 }, () => Math.exp(randomNormal(random) + 2));
    for (const logX of [false, true]) {
      const spec = histogramSpec(
        [
          { name: "normal", values: normal },
          { name: "attack", values: attack },
        ],
        { title: "Scores", xTitle: "Reconstruction error", bins: 30, logX, threshold: 4 },
      );
      const rows = (spec as { layer: { data: { values: { series: string; share: number }[] } }[] }).layer[0]
        .data.values;
      for (const group of ["normal", "attack"]) {
        const total = rows.filter((r) => r.series === group).reduce((s, r) => s + r.share, 0);
        assert.ok(Math.abs(total - 1) < 1e-9, `${group} shares sum to 1 (${total})`);
      }
      await assertRenders(spec, [
        "Scores",
        "Reconstruction error",
        "Share of group",
        "normal",
        "attack",
        "threshold 4",
      ]);
    }
    assert.throws(
      () => histogramSpec([{ name: "g", values: [0, 1] }], { logX: true }),
      /logX needs values > 0/,
    );
    assert.throws(() => histogramSpec([{ name: "g", values: [1, Number.NaN] }]), /value #1 is NaN/);
    assert.throws(
      () => histogramSpec([{ name: "g", values: [1, 2] }], { logX: true, threshold: 0 }),
      /threshold > 0/,
    );
    // A single distinct value still gives a drawable range.
    await assertRenders(histogramSpec([{ name: "flat", values: [3, 3, 3] }], {}), ["flat"]);
  });

  it("scatter with labels and groups", async () => {
    const points = [
      { x: 12, y: 0.95, label: "RF", group: "trees" },
      { x: 3, y: 0.91, label: "LR", group: "linear" },
      { x: 140, y: 0.97, label: "SVM rbf", group: "kernel" },
    ];
    const opts = { title: "AUC vs time", xTitle: "Training time (s)", yTitle: "AUC", logX: true };
    await assertRenders(scatterSpec(points, opts), [
      "AUC vs time",
      "Training time (s)",
      "AUC",
      "RF",
      "SVM rbf",
      "kernel",
    ]);
    await assertRenders(
      scatterSpec(
        [
          { x: 1, y: 2 },
          { x: 2, y: 3 },
        ],
        { title: "Ungrouped" },
      ),
      ["Ungrouped"],
    );
  });
});

describe("rendering", () => {
  it("is deterministic: same spec, same SVG and PNG bytes, also with other charts in between", async () => {
    const first = await renderChart(chartWithDefs);
    await renderChart(rocSpec([{ name: "x", ...syntheticRoc(50, 2), auc: 0.6 }]));
    const second = await renderChart(chartWithDefs);
    assert.match(first.svg, /id="clip1"/);
    assert.equal(second.svg, first.svg);
    assert.ok(second.png.equals(first.png));
    const concurrent = await Promise.all([
      chartToSvg(chartWithDefs),
      chartToSvg(chartWithDefs),
      chartToSvg(chartWithDefs),
    ]);
    for (const svg of concurrent) assert.equal(svg, first.svg);
  });

  it("draws text into the PNG with the bundled font", async () => {
    const { svg, png } = await renderChart(barSpec([{ name: "alpha", value: 1 }], { title: "Text check" }));
    const withoutText = svgToPng(svg.replace(/<text[^>]*>[^<]*<\/text>/g, ""));
    assert.ok(!png.equals(withoutText), "text changes the pixels");
    assert.ok(svg.includes("DejaVu Sans"), "font family set in the SVG");
  });

  it("escapes markup in category names", async () => {
    const svg = await chartToSvg(barSpec([{ name: "<script>alert(1)</script>", value: 1 }], {}));
    assert.ok(!svg.includes("<script"));
    assert.ok(svg.includes("&lt;script&gt;"));
  });

  it("rejects non-finite data and specs vega-lite would partly ignore", async () => {
    assert.throws(() => barSpec([{ name: "a", value: Number.POSITIVE_INFINITY }], {}), ThreatlensError);
    assert.throws(
      () => rocSpec([{ name: "a", fpr: [0, Number.NaN], tpr: [0, 1], auc: 0.5 }]),
      /value #1 is NaN/,
    );
    const dropped: ChartSpec = {
      data: { values: [{ a: "x", b: 1 }] },
      mark: "bar",
      encoding: {
        x: { field: "a", type: "nominal" },
        y: { field: "b", type: "quantitative" },
        shape: { field: "a", type: "nominal" },
      },
    };
    await assert.rejects(
      chartToSvg(dropped),
      (e: unknown) => e instanceof ThreatlensError && /shape/.test(e.message),
    );
    // The render queue keeps working after a failure.
    assert.ok((await chartToSvg(chartWithDefs)).startsWith("<svg"));
  });

  it("writeChart creates the folder and writes matching SVG and PNG", async () => {
    const dir = await mkdtemp(join(tmpdir(), "threatlens-charts-"));
    try {
      const out = await writeChart(
        join(dir, "nested", "deeper"),
        "cm",
        confusionMatrixSpec({ tp: 1, fp: 2, tn: 3, fn: 4 }, ["neg", "pos"]),
      );
      assert.equal(out.svgPath, join(dir, "nested", "deeper", "cm.svg"));
      assert.equal(await readFile(out.svgPath, "utf8"), out.svg);
      const png = await readFile(out.pngPath);
      assert.ok(pngSize(png).width > 0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
