import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { chartToSvg, confusionMatrixSpec, rocSpec } from "../../src/core/charts.ts";
import { ThreatlensError } from "../../src/core/errors.ts";
import { escapeHtml, formatNumber, HtmlReport } from "../../src/core/report.ts";
import { chartWithDefs } from "./fixtures/chart-with-defs.ts";

const EVIL = `<script>alert("x")</script>&'`;

describe("formatNumber", () => {
  it("formats counts, ratios, tiny and huge values", () => {
    assert.equal(formatNumber(12345), "12,345");
    assert.equal(formatNumber(0), "0");
    assert.equal(formatNumber(0.98765), "0.9877");
    assert.equal(formatNumber(0.5), "0.5");
    assert.equal(formatNumber(-4.56789), "-4.568");
    assert.equal(formatNumber(1234.56), "1,235");
    assert.equal(formatNumber(0.0012346), "0.001235");
    assert.equal(formatNumber(0.000015), "1.50e-5");
    assert.equal(formatNumber(2.5e7 + 0.5), "2.50e+7");
    assert.equal(formatNumber(0.98765, { percent: true }), "98.77%");
    assert.equal(formatNumber(1, { percent: true }), "100%");
    assert.equal(formatNumber(0.0004, { percent: true }), "0.04%");
    assert.equal(formatNumber(Number.NaN), "n/a");
    assert.equal(formatNumber(Number.NEGATIVE_INFINITY), "−∞");
  });

  it("escapeHtml covers the five special characters", () => {
    assert.equal(escapeHtml(EVIL), "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;");
  });
});

describe("HtmlReport", () => {
  it("escapes every piece of text", () => {
    const report = new HtmlReport(EVIL, EVIL)
      .section(EVIL, EVIL)
      .paragraph(EVIL)
      .note(EVIL)
      .section("second")
      .metrics({ [EVIL]: EVIL, auc: 0.9 }, { title: EVIL })
      .table([EVIL, "n"], [[EVIL, 1]], { caption: EVIL });
    const html = report.toHtml();
    assert.ok(!html.includes("<script"), "no script element");
    assert.ok(!html.includes(`alert("x")`));
    // title, h1, subtitle, toc link, h2, intro, paragraph, note, metrics title/key/value, th, td, caption
    assert.equal(html.split("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;").length - 1, 14);
  });

  it("is self-contained: no external URL, no script, no stylesheet link", async () => {
    const report = new HtmlReport("Run", "synthetic")
      .section("Charts")
      .chart(await chartToSvg(rocSpec([{ name: "m", fpr: [0, 0.1, 1], tpr: [0, 0.8, 1], auc: 0.85 }])), "ROC")
      .chart(await chartToSvg(confusionMatrixSpec({ tp: 8, fp: 1, tn: 90, fn: 2 }, ["benign", "attack"])));
    const html = report.toHtml();
    assert.doesNotMatch(html, /<(script|link|img|iframe|object|embed)\b/i);
    assert.doesNotMatch(html, /\b(src|href)\s*=\s*["']?\s*(https?:)?\/\//i);
    assert.doesNotMatch(html, /@import|url\(\s*["']?(https?:)?\/\//i);
    const urls = new Set(html.match(/https?:\/\/[^\s"'<>)]+/g) ?? []);
    for (const url of urls) {
      assert.ok(
        ["http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"].includes(url),
        `unexpected URL ${url}`,
      );
    }
    assert.ok(html.includes("<figcaption>ROC</figcaption>"));
  });

  it("gives every chart its own ids and keeps references pointing inside the same chart", async () => {
    const svg = await chartToSvg(chartWithDefs);
    assert.match(svg, /id="clip1"/);
    const html = new HtmlReport("ids").section("a").chart(svg).chart(svg).toHtml();
    const ids = [...html.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]);
    assert.equal(new Set(ids).size, ids.length, `duplicate ids in ${ids.join(", ")}`);
    const figures = html.split('<figure class="chart">').slice(1);
    assert.equal(figures.length, 2);
    for (const fig of figures) {
      const own = new Set([...fig.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]));
      const refs = [...fig.matchAll(/url\(#([^)]+)\)/g)].map((m) => m[1]);
      assert.ok(refs.length >= 2, "clip and gradient referenced");
      for (const ref of refs) assert.ok(own.has(ref), `${ref} resolves within its figure`);
    }
  });

  it("refuses SVG that could run code", () => {
    const report = new HtmlReport("x");
    assert.throws(() => report.chart("<svg><script>alert(1)</script></svg>"), ThreatlensError);
    assert.throws(() => report.chart('<svg><rect onload="alert(1)"/></svg>'), ThreatlensError);
    assert.throws(() => report.chart("not svg"), /not an SVG/);
    // Escaped text that mentions script is fine.
    assert.doesNotThrow(() => report.chart("<svg><text>&lt;script&gt; onload=1</text></svg>"));
  });

  it("metrics: numbers formatted, ratios as percentages where asked", () => {
    const html = new HtmlReport("m")
      .metrics({ AUC: 0.98765, Recall: 0.91234, Samples: 1234567, Model: "forest" }, { percent: ["Recall"] })
      .metrics({ FPR: 0.0123 }, { percent: true })
      .toHtml();
    for (const shown of ["0.9877", "91.23%", "1,234,567", "forest", "1.23%"]) {
      assert.ok(html.includes(`<div class="metric-value">${shown}</div>`), shown);
    }
  });

  it("table: highlighted row, numeric cells, maxRows with a note on what was left out", () => {
    const rows = Array.from({ length: 8 }, (_, i) => [`config ${i}`, 0.9 + i / 100, 1000 * i]);
    const html = new HtmlReport("t")
      .table(["Configuration", "AUC", "Time (ms)"], rows, {
        highlightRow: 2,
        maxRows: 5,
        percentColumns: ["AUC"],
      })
      .toHtml();
    assert.equal(html.match(/<tr class="highlight"><td>config 2<\/td>/g)?.length, 1);
    assert.ok(html.includes('<td class="num">92%</td>'));
    assert.ok(html.includes('<td class="num">4,000</td>'));
    assert.ok(!html.includes("config 5"));
    assert.ok(html.includes("3 more rows not shown"));
    assert.throws(() => new HtmlReport("t").table(["a", "b"], [["x"]]), /row 0 has 1 cells, expected 2/);
  });

  it("lists sections in a table of contents and keeps content in order", () => {
    const html = new HtmlReport("r")
      .paragraph("lead")
      .section("One")
      .paragraph("p1")
      .section("Two", "intro2")
      .toHtml();
    assert.ok(html.includes('<li><a href="#section-1">One</a></li><li><a href="#section-2">Two</a></li>'));
    const order = ["<p>lead</p>", "<h2>One</h2>", "<p>p1</p>", "<h2>Two</h2>", "<p>intro2</p>"].map((t) =>
      html.indexOf(t),
    );
    assert.deepEqual(
      order,
      [...order].sort((a, b) => a - b),
    );
    assert.ok(order.every((i) => i > 0));
  });

  it("write() creates the folder and writes toHtml()", async () => {
    const dir = await mkdtemp(join(tmpdir(), "threatlens-report-"));
    try {
      const report = new HtmlReport("w").section("s").paragraph("hello");
      const path = join(dir, "a", "b", "report.html");
      await report.write(path);
      assert.equal(await readFile(path, "utf8"), report.toHtml());
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
