/**
 * One self-contained HTML file per run: inline CSS, inline SVG charts, no script and no external URL, so a
 * report can be mailed, archived or opened offline and still shows everything. All text is escaped.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { ThreatlensError } from "./errors.ts";

export function escapeHtml(text: string): string {
  return text
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&#39;");
}

/**
 * Integers with thousands separators, other numbers to 4 significant digits (scientific notation below 0.001
 * and from a million up), ratios as percentages when `percent` is set.
 */
export function formatNumber(value: number, opts: { percent?: boolean } = {}): string {
  if (Number.isNaN(value)) return "n/a";
  if (!Number.isFinite(value)) return value > 0 ? "∞" : "−∞";
  if (opts.percent) return `${significant(value * 100)}%`;
  if (Number.isInteger(value)) return value.toLocaleString("en-US");
  const abs = Math.abs(value);
  if (abs < 1e-3 || abs >= 1e6) return value.toExponential(2);
  return significant(value);
}

function significant(value: number): string {
  if (Math.abs(value) >= 1000) return Math.round(value).toLocaleString("en-US");
  return String(Number.parseFloat(value.toPrecision(4)));
}

export interface MetricsOptions {
  /** Heading shown above the cards. */
  title?: string;
  /** Keys whose values are ratios in [0, 1] to show as percentages; `true` for every numeric value. */
  percent?: string[] | boolean;
}

export interface TableOptions {
  caption?: string;
  /** 0-based index into `rows` of a row to emphasise (e.g. the chosen configuration). */
  highlightRow?: number;
  /** Rows past this are left out, and the table says how many. */
  maxRows?: number;
  /** Columns holding ratios to show as percentages. */
  percentColumns?: string[];
}

interface Section {
  id: string;
  heading: string;
  blocks: string[];
}

export class HtmlReport {
  private readonly sections: Section[] = [];
  /** Blocks added before the first section() call. */
  private readonly lead: string[] = [];
  private chartCount = 0;

  constructor(
    private readonly title: string,
    private readonly subtitle?: string,
  ) {}

  section(heading: string, intro?: string): this {
    this.sections.push({ id: `section-${this.sections.length + 1}`, heading, blocks: [] });
    if (intro !== undefined) this.paragraph(intro);
    return this;
  }

  paragraph(text: string): this {
    return this.add(`<p>${escapeHtml(text)}</p>`);
  }

  note(text: string): this {
    return this.add(`<aside class="note">${escapeHtml(text)}</aside>`);
  }

  metrics(record: Record<string, number | string>, opts: MetricsOptions = {}): this {
    const asPercent = (key: string) =>
      opts.percent === true || (Array.isArray(opts.percent) && opts.percent.includes(key));
    const cards = Object.entries(record).map(([key, value]) => {
      const shown = typeof value === "number" ? formatNumber(value, { percent: asPercent(key) }) : value;
      return `<div class="metric"><div class="metric-value">${escapeHtml(shown)}</div><div class="metric-name">${escapeHtml(key)}</div></div>`;
    });
    const heading = opts.title ? `<h3>${escapeHtml(opts.title)}</h3>` : "";
    return this.add(`${heading}<div class="metrics">${cards.join("")}</div>`);
  }

  table(columns: string[], rows: (string | number)[][], opts: TableOptions = {}): this {
    rows.forEach((row, i) => {
      if (row.length !== columns.length) {
        throw new ThreatlensError(
          `report table: row ${i} has ${row.length} cells, expected ${columns.length}`,
        );
      }
    });
    const percentCols = new Set(columns.flatMap((c, i) => (opts.percentColumns?.includes(c) ? [i] : [])));
    const shown = opts.maxRows !== undefined ? rows.slice(0, opts.maxRows) : rows;
    const head = columns.map((c) => `<th>${escapeHtml(c)}</th>`).join("");
    const body = shown.map((row, r) => {
      const cells = row.map((cell, c) =>
        typeof cell === "number"
          ? `<td class="num">${escapeHtml(formatNumber(cell, { percent: percentCols.has(c) }))}</td>`
          : `<td>${escapeHtml(cell)}</td>`,
      );
      return `<tr${r === opts.highlightRow ? ' class="highlight"' : ""}>${cells.join("")}</tr>`;
    });
    const hidden = rows.length - shown.length;
    if (hidden > 0) {
      const more = `${hidden.toLocaleString("en-US")} more row${hidden === 1 ? "" : "s"} not shown`;
      body.push(`<tr class="more"><td colspan="${columns.length}">… ${more}</td></tr>`);
    }
    const caption = opts.caption ? `<caption>${escapeHtml(opts.caption)}</caption>` : "";
    return this.add(
      `<div class="table-wrap"><table>${caption}<thead><tr>${head}</tr></thead><tbody>${body.join("")}</tbody></table></div>`,
    );
  }

  /**
   * Inlines an SVG from renderChart. Vega numbers its clip paths and gradients from 1 in every chart, so ids
   * (and the references to them) get a per-chart prefix or a second chart would borrow the first one's clips.
   */
  chart(svg: string, caption?: string): this {
    const start = svg.indexOf("<svg");
    if (start < 0) throw new ThreatlensError("report chart: input is not an SVG document");
    // Only tags are rewritten or checked: vega escapes "<" in text, so labels never look like markup here.
    const tags = /<[^>]+>/g;
    if (svg.match(tags)?.some((tag) => /^<(script|foreignObject)|\son\w+\s*=/i.test(tag))) {
      throw new ThreatlensError("report chart: SVG contains script, event handlers or foreignObject");
    }
    const prefix = `chart${++this.chartCount}-`;
    const inline = svg.slice(start).replace(tags, (tag) =>
      tag
        .replace(/\sid="([^"]+)"/g, ` id="${prefix}$1"`)
        .replace(/url\(#([^)]+)\)/g, `url(#${prefix}$1)`)
        .replace(/(\s(?:xlink:)?href)="#([^"]+)"/g, `$1="#${prefix}$2"`),
    );
    const figcaption = caption ? `<figcaption>${escapeHtml(caption)}</figcaption>` : "";
    return this.add(`<figure class="chart">${inline}${figcaption}</figure>`);
  }

  toHtml(): string {
    const toc =
      this.sections.length > 1
        ? `<nav><ol>${this.sections.map((s) => `<li><a href="#${s.id}">${escapeHtml(s.heading)}</a></li>`).join("")}</ol></nav>`
        : "";
    const sections = this.sections.map(
      (s) => `<section id="${s.id}"><h2>${escapeHtml(s.heading)}</h2>\n${s.blocks.join("\n")}\n</section>`,
    );
    const subtitle = this.subtitle ? `<p class="subtitle">${escapeHtml(this.subtitle)}</p>` : "";
    return [
      "<!DOCTYPE html>",
      '<html lang="en">',
      "<head>",
      '<meta charset="utf-8">',
      '<meta name="viewport" content="width=device-width, initial-scale=1">',
      `<title>${escapeHtml(this.title)}</title>`,
      `<style>${STYLE}</style>`,
      "</head>",
      "<body>",
      "<main>",
      `<header><h1>${escapeHtml(this.title)}</h1>${subtitle}</header>`,
      toc,
      ...this.lead,
      ...sections,
      "</main>",
      "</body>",
      "</html>",
      "",
    ].join("\n");
  }

  async write(path: string): Promise<void> {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, this.toHtml());
  }

  private add(html: string): this {
    const current = this.sections.at(-1);
    (current ? current.blocks : this.lead).push(html);
    return this;
  }
}

const STYLE = `
:root { color-scheme: light; --ink: #1f2328; --muted: #59636e; --line: #d8dee4; --soft: #f6f8fa; --accent: #0969da; }
* { box-sizing: border-box; }
body { margin: 0; background: #fff; color: var(--ink);
  font: 15px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1100px; margin: 0 auto; padding: 32px 24px 64px; }
header { border-bottom: 1px solid var(--line); margin-bottom: 24px; padding-bottom: 12px; }
h1 { font-size: 1.9rem; margin: 0 0 4px; line-height: 1.2; }
h2 { font-size: 1.35rem; margin: 40px 0 12px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
h3 { font-size: 1.05rem; margin: 24px 0 8px; }
.subtitle { color: var(--muted); margin: 0; }
nav ol { margin: 0 0 8px; padding-left: 1.4em; }
nav a { color: var(--accent); text-decoration: none; }
nav a:hover { text-decoration: underline; }
p { margin: 8px 0 12px; max-width: 75ch; }
.note { border-left: 4px solid #d4a72c; background: #fff8e5; padding: 10px 14px; margin: 14px 0; border-radius: 0 6px 6px 0; max-width: 75ch; }
.metrics { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: 12px; margin: 12px 0 20px; }
.metric { border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; background: var(--soft); }
.metric-value { font-size: 1.45rem; font-weight: 600; font-variant-numeric: tabular-nums; overflow-wrap: anywhere; }
.metric-name { color: var(--muted); font-size: 0.85rem; margin-top: 2px; overflow-wrap: anywhere; }
.table-wrap { overflow-x: auto; margin: 12px 0 20px; }
table { border-collapse: collapse; font-size: 0.9rem; min-width: 40%; }
caption { caption-side: top; text-align: left; color: var(--muted); padding-bottom: 6px; }
th, td { padding: 6px 12px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
th { background: var(--soft); font-weight: 600; border-bottom: 2px solid var(--line); }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tbody tr:nth-child(even) { background: #fbfcfd; }
tr.highlight, tr.highlight:nth-child(even) { background: #ddf4ff; font-weight: 600; }
tr.more td { color: var(--muted); font-style: italic; text-align: center; }
/* Charts flow side by side when they fit; the table display keeps a caption as wide as its chart. */
figure.chart { display: inline-table; vertical-align: top; margin: 16px 32px 24px 0; max-width: 100%; }
figure.chart svg { max-width: 100%; height: auto; display: block; }
figcaption { display: table-caption; caption-side: bottom; color: var(--muted); font-size: 0.88rem; padding-top: 6px; }
@media print {
  main { max-width: none; padding: 0; }
  nav { display: none; }
  h2 { break-after: avoid; }
  figure.chart, .metrics, table, .note { break-inside: avoid; }
  .metric { background: none; }
}
`;
