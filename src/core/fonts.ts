/**
 * The one font charts are laid out and rasterised with. Vega has no canvas here, so without real glyph widths it
 * guesses text widths (0.8 em per character) and legends, titles and axis titles end up misplaced; resvg draws no
 * text at all without a font file. Both therefore read the same DejaVu Sans files: from the `dejavu-fonts-ttf`
 * npm package when installed (works on a machine without system fonts), else from the usual system folders.
 */
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { ThreatlensError } from "./errors.ts";

export const CHART_FONT_FAMILY = "DejaVu Sans";
const REGULAR_FILE = "DejaVuSans.ttf";
const BOLD_FILE = "DejaVuSans-Bold.ttf";

/** Debian/Ubuntu (fonts-dejavu-core), Fedora (dejavu-sans-fonts), Arch (ttf-dejavu). */
const SYSTEM_FONT_DIRS = [
  "/usr/share/fonts/truetype/dejavu",
  "/usr/share/fonts/dejavu-sans-fonts",
  "/usr/share/fonts/TTF",
];

export interface ChartFontFiles {
  regular: string;
  bold: string;
}

export interface ChartFont {
  family: string;
  files: ChartFontFiles;
  /** Advance width in px of `text` set at `fontSize` px (no kerning: within a few % of what resvg draws). */
  textWidth(text: string, fontSize: number, bold: boolean): number;
}

/** Folders searched, in order: the npm package first so that every machine with node_modules draws the same. */
export function fontSearchDirs(): string[] {
  const dirs: string[] = [];
  try {
    const pkg = createRequire(import.meta.url).resolve("dejavu-fonts-ttf/package.json");
    dirs.push(join(dirname(pkg), "ttf"));
  } catch {
    // Package not installed: fall through to system folders.
  }
  return [...dirs, ...SYSTEM_FONT_DIRS];
}

/** First folder holding both DejaVu Sans files, or undefined. */
export function locateFontFiles(dirs: string[] = fontSearchDirs()): ChartFontFiles | undefined {
  for (const dir of dirs) {
    const regular = join(dir, REGULAR_FILE);
    const bold = join(dir, BOLD_FILE);
    if (existsSync(regular) && existsSync(bold)) return { regular, bold };
  }
  return undefined;
}

let cached: ChartFont | null | undefined;

/** The chart font, or null when no font files are found (SVG still renders; PNG cannot). */
export function chartFont(): ChartFont | null {
  if (cached !== undefined) return cached;
  const files = locateFontFiles();
  cached = files ? loadChartFont(files) : null;
  return cached;
}

/** Like chartFont() but explains how to get a font instead of returning null. */
export function requireChartFont(): ChartFont {
  const font = chartFont();
  if (font) return font;
  throw new ThreatlensError(
    `no font for chart text: neither the npm package dejavu-fonts-ttf nor ${REGULAR_FILE} in ` +
      `${SYSTEM_FONT_DIRS.join(", ")} was found. Run \`npm install\` in the threatlens folder, ` +
      "or install the system package fonts-dejavu-core.",
  );
}

export function loadChartFont(files: ChartFontFiles): ChartFont {
  const regular = new GlyphAdvances(files.regular);
  const bold = new GlyphAdvances(files.bold);
  return {
    family: CHART_FONT_FAMILY,
    files,
    textWidth: (text, fontSize, isBold) => (isBold ? bold : regular).width(text) * fontSize,
  };
}

/** Advance widths (in em) per code point, read from a TrueType file's cmap, hmtx, hhea and head tables. */
class GlyphAdvances {
  private readonly emWidth = new Map<number, number>();
  private readonly glyphOf: (codePoint: number) => number;
  private readonly advances: Uint16Array;
  private readonly unitsPerEm: number;

  constructor(private readonly path: string) {
    const buf = readFileSync(path);
    const tables = this.tableOffsets(buf);
    this.unitsPerEm = buf.readUInt16BE(tables.get("head")! + 18);
    const numberOfHMetrics = buf.readUInt16BE(tables.get("hhea")! + 34);
    const hmtx = tables.get("hmtx")!;
    this.advances = new Uint16Array(numberOfHMetrics);
    for (let i = 0; i < numberOfHMetrics; i++) this.advances[i] = buf.readUInt16BE(hmtx + 4 * i);
    this.glyphOf = this.cmapLookup(buf, tables.get("cmap")!);
  }

  width(text: string): number {
    let total = 0;
    for (const ch of text) {
      const cp = ch.codePointAt(0)!;
      let w = this.emWidth.get(cp);
      if (w === undefined) {
        // Glyphs past numberOfHMetrics share the last advance (TrueType hmtx rule); 0 is .notdef.
        const glyph = Math.min(this.glyphOf(cp), this.advances.length - 1);
        w = this.advances[glyph] / this.unitsPerEm;
        this.emWidth.set(cp, w);
      }
      total += w;
    }
    return total;
  }

  private tableOffsets(buf: Buffer): Map<string, number> {
    const bad = (why: string) => new ThreatlensError(`${this.path}: not a usable TrueType font (${why})`);
    if (buf.length < 12) throw bad("file too short");
    const numTables = buf.readUInt16BE(4);
    const tables = new Map<string, number>();
    for (let i = 0; i < numTables; i++) {
      const rec = 12 + 16 * i;
      if (rec + 16 > buf.length) throw bad("truncated table directory");
      tables.set(buf.toString("latin1", rec, rec + 4), buf.readUInt32BE(rec + 8));
    }
    for (const tag of ["head", "hhea", "hmtx", "cmap"]) if (!tables.has(tag)) throw bad(`no ${tag} table`);
    return tables;
  }

  /** Prefers a full-Unicode format 12 subtable, else a BMP format 4 one (all DejaVu files have one of them). */
  private cmapLookup(buf: Buffer, cmap: number): (codePoint: number) => number {
    const count = buf.readUInt16BE(cmap + 2);
    let format4: number | undefined;
    for (let i = 0; i < count; i++) {
      const rec = cmap + 4 + 8 * i;
      const platform = buf.readUInt16BE(rec);
      const encoding = buf.readUInt16BE(rec + 2);
      const sub = cmap + buf.readUInt32BE(rec + 4);
      const format = buf.readUInt16BE(sub);
      const unicode = platform === 0 || (platform === 3 && (encoding === 1 || encoding === 10));
      if (!unicode) continue;
      if (format === 12) return format12Lookup(buf, sub);
      if (format === 4) format4 ??= sub;
    }
    if (format4 === undefined) throw new ThreatlensError(`${this.path}: no Unicode cmap subtable`);
    return format4Lookup(buf, format4);
  }
}

function format12Lookup(buf: Buffer, sub: number): (cp: number) => number {
  const groups = buf.readUInt32BE(sub + 12);
  return (cp) => {
    let lo = 0;
    let hi = groups - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const g = sub + 16 + 12 * mid;
      const start = buf.readUInt32BE(g);
      const end = buf.readUInt32BE(g + 4);
      if (cp < start) hi = mid - 1;
      else if (cp > end) lo = mid + 1;
      else return buf.readUInt32BE(g + 8) + (cp - start);
    }
    return 0;
  };
}

function format4Lookup(buf: Buffer, sub: number): (cp: number) => number {
  const segCount = buf.readUInt16BE(sub + 6) / 2;
  const endCodes = sub + 14;
  const startCodes = endCodes + 2 * segCount + 2;
  const idDeltas = startCodes + 2 * segCount;
  const idRangeOffsets = idDeltas + 2 * segCount;
  return (cp) => {
    if (cp > 0xffff) return 0;
    for (let s = 0; s < segCount; s++) {
      if (cp > buf.readUInt16BE(endCodes + 2 * s)) continue;
      const start = buf.readUInt16BE(startCodes + 2 * s);
      if (cp < start) return 0;
      const delta = buf.readUInt16BE(idDeltas + 2 * s);
      const rangeOffset = buf.readUInt16BE(idRangeOffsets + 2 * s);
      if (rangeOffset === 0) return (cp + delta) & 0xffff;
      const at = idRangeOffsets + 2 * s + rangeOffset + 2 * (cp - start);
      const glyph = buf.readUInt16BE(at);
      return glyph === 0 ? 0 : (glyph + delta) & 0xffff;
    }
    return 0;
  };
}
