import { readFile } from "node:fs/promises";
import { csvField, csvLine, parseCsv, requireColumns } from "../core/csv.ts";
import { InputError } from "../core/errors.ts";
import { FEATURE_NAMES, HARM_FEATURES, type ProcessFeatures } from "./features.ts";

/**
 * Feature tables: ours (`log,pid,` then the fixed schema) and the original authors' (`PID` = pid + 10000 × log
 * index, then whatever feature columns their run produced). Both are read into the fixed schema by column name;
 * columns the schema lacks are ignored and schema columns the table lacks are zero, and both are reported.
 */
export interface FeatureTable {
  rows: ProcessFeatures[];
  /** Schema columns absent from the table (filled with 0). */
  missingColumns: string[];
  /** Table columns that are not in the schema (ignored). */
  ignoredColumns: string[];
  format: "threatlens" | "authors";
}

export function featuresToCsv(rows: readonly ProcessFeatures[]): string {
  // first_ts tells apart processes that had the same PID one after the other in a log.
  const lines = [csvLine(["log", "pid", "first_ts", ...FEATURE_NAMES])];
  for (const r of rows) {
    const cells = [csvField(r.log), String(r.pid), r.firstTs];
    for (let i = 0; i < r.values.length; i++) cells.push(formatNumber(r.values[i]));
    lines.push(cells.join(","));
  }
  return `${lines.join("\n")}\n`;
}

function formatNumber(v: number): string {
  return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(10)));
}

export function featuresToJson(rows: readonly ProcessFeatures[]): object[] {
  return rows.map((r) => ({
    log: r.log,
    pid: r.pid,
    firstTs: r.firstTs,
    lastTs: r.lastTs,
    features: Object.fromEntries(FEATURE_NAMES.map((n, i) => [n, r.values[i]])),
  }));
}

/** What kind of CSV a file is, from its header line. */
export function sniffCsvKind(headerLine: string): "events" | "features" | "authors" | "unknown" {
  const cols = headerLine
    .replace(/^\uFEFF/, "")
    .split(",")
    .map((c) => c.trim().toLowerCase());
  if (cols[0] === "ts" && cols[1] === "pid" && cols[2] === "type") return "events";
  // Ours: log,pid then schema columns (a labels file also starts with log,pid, but has no feature column).
  if (cols[0] === "log" && cols[1] === "pid" && cols.some((c) => SCHEMA_LOWER.has(c))) return "features";
  // The authors' feature table: a PID column and feature columns (their label file has the PID column alone).
  if (
    cols.includes("pid") &&
    !cols.includes("log") &&
    !cols.includes("ts") &&
    cols.some((c) => SCHEMA_LOWER.has(c))
  ) {
    return "authors";
  }
  return "unknown";
}

const SCHEMA_LOWER = new Set(FEATURE_NAMES.map((n) => n.toLowerCase()));

export const AUTHORS_LOG_STRIDE = 10000;

/** The log name given to rows of the authors' table: their PID encodes the log's index. */
export function authorsLogName(index: number): string {
  return `authors-log-${index}`;
}

export async function readFeatureTable(file: string): Promise<FeatureTable> {
  const table = parseCsv(await readFile(file, "utf8"), file);
  const kind = sniffCsvKind(table.header.join(","));
  if (kind !== "features" && kind !== "authors") {
    throw new InputError(
      `not a feature table: expected a header starting with "log,pid" or an authors' "PID" column`,
      {
        file,
        line: 1,
      },
    );
  }
  const idColumns = kind === "features" ? ["log", "pid"] : ["pid"];
  const idIndexes = requireColumns(table.header, idColumns, file);
  const firstTsColumn = table.header.indexOf("first_ts");
  if (firstTsColumn >= 0) idIndexes.push(firstTsColumn);
  const schemaIndex = new Map(FEATURE_NAMES.map((n, i) => [n, i]));
  const columnTargets = table.header.map((h, i) => (idIndexes.includes(i) ? -1 : (schemaIndex.get(h) ?? -2)));
  const ignoredColumns = table.header.filter((_, i) => columnTargets[i] === -2);
  const present = new Set(table.header);
  const missingColumns = FEATURE_NAMES.filter((n) => !present.has(n));
  const ungated = HARM_FEATURES.some((n) => !present.has(n));
  const rows: ProcessFeatures[] = [];
  const seen = new Set<string>();
  for (let r = 0; r < table.rows.length; r++) {
    const cells = table.rows[r];
    const line = table.lines[r];
    let log: string;
    let pid: number;
    if (kind === "features") {
      log = cells[idIndexes[0]];
      pid = parseId(cells[idIndexes[1]], "pid", file, line);
      if (log === "") throw new InputError(`empty log name`, { file, line });
    } else {
      const encoded = parseId(cells[idIndexes[0]], "PID", file, line);
      log = authorsLogName(Math.floor(encoded / AUTHORS_LOG_STRIDE));
      pid = encoded % AUTHORS_LOG_STRIDE;
    }
    const firstTs = firstTsColumn >= 0 ? cells[firstTsColumn] : "";
    if (firstTs !== "" && !/^\d{1,20}$/.test(firstTs)) {
      throw new InputError(`first_ts must be a timestamp in nanoseconds, got ${JSON.stringify(firstTs)}`, {
        file,
        line,
      });
    }
    const key = `${log}\0${pid}\0${firstTs}`;
    if (seen.has(key)) throw new InputError(`duplicate process ${log} pid ${pid}`, { file, line });
    seen.add(key);
    const values = new Float64Array(FEATURE_NAMES.length);
    for (let c = 0; c < cells.length; c++) {
      const target = columnTargets[c];
      if (target < 0) continue;
      const v = Number(cells[c]);
      if (cells[c].trim() === "" || !Number.isFinite(v)) {
        throw new InputError(
          `column ${table.header[c]} must be a finite number, got ${JSON.stringify(cells[c])}`,
          {
            file,
            line,
          },
        );
      }
      values[target] = v;
    }
    rows.push({ log, pid, firstTs, lastTs: "", values, ...(ungated ? { ungated } : {}) });
  }
  return { rows, missingColumns, ignoredColumns, format: kind === "features" ? "threatlens" : "authors" };
}

function parseId(text: string, name: string, file: string, line: number): number {
  const v = Number(text);
  if (text.trim() === "" || !Number.isInteger(v) || v < 0) {
    throw new InputError(`${name} must be a non-negative integer, got ${JSON.stringify(text)}`, {
      file,
      line,
    });
  }
  return v;
}
