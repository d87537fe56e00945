import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import { InputError } from "../../core/errors.ts";
import { FLOWMETER_CSV_COLUMNS, flowMeterFeatures } from "../flowmeter/compat.ts";
import { FLOWMETER_FEATURES, flowFeatureNames, PER_FLOW_FEATURES } from "../flows/features.ts";
import { FLOW_CSV_COLUMNS, FLOW_CSV_COLUMNS_NO_CONTEXT, FLOW_META_COLUMNS } from "./write.ts";

/**
 * "flowmeter": FlowMeter's CSV (its 6 string columns and 33 numbers; features are its 39 model features, *PerTime
 * included). "threatlens": this package's flow CSV (features in flowFeatureNames order).
 */
export type FlowCsvKind = "flowmeter" | "threatlens";

export interface FlowCsvRecord {
  /** 1-based line of the row in the file. */
  line: number;
  /** The identifying string columns (FlowMeter's first 6, or FLOW_META_COLUMNS). */
  meta: string[];
  features: Float64Array;
}

export interface FlowCsv {
  file: string;
  kind: FlowCsvKind;
  metaColumns: readonly string[];
  featureNames: readonly string[];
  /** Empty when rows were handed to `onRow` instead. */
  rows: FlowCsvRecord[];
}

const FLOWMETER_META = FLOWMETER_CSV_COLUMNS.slice(0, 6);

/**
 * Reads a flow CSV written by FlowMeter (like its webgoat_flow_stats.csv) or by writeFlowsCsv. The header must be
 * exactly one of the two schemas; every row must have its width and numeric cells (Go's "+Inf", "-Inf", "NaN"
 * spellings included). Errors name the file, line and column. With `onRow`, rows are streamed, not kept.
 */
export async function readFlowCsv(file: string, onRow?: (row: FlowCsvRecord) => void): Promise<FlowCsv> {
  let kind: FlowCsvKind | null = null;
  let columns: readonly string[] = [];
  const rows: FlowCsvRecord[] = [];
  let line = 0;
  try {
    const lines = createInterface({
      input: createReadStream(file, { encoding: "utf8" }),
      crlfDelay: Number.POSITIVE_INFINITY,
    });
    for await (const text of lines) {
      line++;
      if (text === "") continue;
      const cells = splitCsvLine(text, file, line);
      if (kind === null) {
        if (line === 1 && cells[0]?.charCodeAt(0) === 0xfeff) cells[0] = cells[0].slice(1);
        kind = headerKind(cells, file, line);
        columns =
          kind === "flowmeter"
            ? FLOWMETER_CSV_COLUMNS
            : cells.length === FLOW_CSV_COLUMNS.length
              ? FLOW_CSV_COLUMNS
              : FLOW_CSV_COLUMNS_NO_CONTEXT;
        continue;
      }
      if (cells.length !== columns.length) {
        throw new InputError(`row has ${cells.length} fields, the header has ${columns.length}`, {
          file,
          line,
        });
      }
      const record =
        kind === "flowmeter" ? flowMeterRecord(cells, file, line) : ownRecord(cells, columns, file, line);
      if (onRow) onRow(record);
      else rows.push(record);
    }
  } catch (err) {
    if (err instanceof InputError) throw err;
    throw new InputError(`cannot read flow CSV: ${(err as Error).message}`, { file });
  }
  if (kind === null) throw new InputError("empty file: no CSV header", { file, line: 1 });
  const k: FlowCsvKind = kind;
  return {
    file,
    kind: k,
    metaColumns: k === "flowmeter" ? FLOWMETER_META : FLOW_META_COLUMNS,
    featureNames:
      k === "flowmeter"
        ? FLOWMETER_FEATURES
        : columns.length === FLOW_CSV_COLUMNS.length
          ? flowFeatureNames
          : PER_FLOW_FEATURES,
    rows,
  };
}

function headerKind(cells: string[], file: string, line: number): FlowCsvKind {
  if (sameColumns(cells, FLOWMETER_CSV_COLUMNS)) return "flowmeter";
  if (sameColumns(cells, FLOW_CSV_COLUMNS) || sameColumns(cells, FLOW_CSV_COLUMNS_NO_CONTEXT))
    return "threatlens";
  const expected =
    cells[0] === "fiveTuple"
      ? FLOWMETER_CSV_COLUMNS
      : cells.length <= FLOW_CSV_COLUMNS_NO_CONTEXT.length
        ? FLOW_CSV_COLUMNS_NO_CONTEXT
        : FLOW_CSV_COLUMNS;
  const at = expected.findIndex((name, i) => cells[i] !== name);
  const where =
    at < 0
      ? `${cells.length - expected.length} extra column(s) after "${expected[expected.length - 1]}"`
      : `column ${at + 1} is ${JSON.stringify(cells[at] ?? "(missing)")}, expected "${expected[at]}"`;
  throw new InputError(
    `not a FlowMeter or threatlens flow CSV header: ${where} (${cells[0] === "fiveTuple" ? "FlowMeter" : "threatlens"} schema has ${expected.length} columns)`,
    { file, line },
  );
}

function sameColumns(cells: string[], expected: readonly string[]): boolean {
  return cells.length === expected.length && expected.every((name, i) => cells[i] === name);
}

function flowMeterRecord(cells: string[], file: string, line: number): FlowCsvRecord {
  const values = new Float64Array(33);
  for (let i = 0; i < 33; i++)
    values[i] = parseNumber(cells[6 + i], FLOWMETER_CSV_COLUMNS[6 + i], file, line);
  return { line, meta: cells.slice(0, 6), features: flowMeterFeatures(values) };
}

function ownRecord(cells: string[], columns: readonly string[], file: string, line: number): FlowCsvRecord {
  const m = FLOW_META_COLUMNS.length;
  const features = new Float64Array(columns.length - m);
  for (let i = 0; i < features.length; i++)
    features[i] = parseNumber(cells[m + i], columns[m + i], file, line);
  return { line, meta: cells.slice(0, m), features };
}

function parseNumber(cell: string, column: string, file: string, line: number): number {
  if (cell === "+Inf" || cell === "Inf") return Number.POSITIVE_INFINITY;
  if (cell === "-Inf") return Number.NEGATIVE_INFINITY;
  if (cell === "NaN") return Number.NaN;
  const v = cell.trim() === "" ? Number.NaN : Number(cell);
  if (Number.isNaN(v))
    throw new InputError(`column ${column}: ${JSON.stringify(cell)} is not a number`, { file, line });
  return v;
}

/** Splits one CSV line (RFC 4180 quoting; a quoted field may not span lines in flow CSVs). */
export function splitCsvLine(text: string, file: string, line: number): string[] {
  const cells: string[] = [];
  let i = 0;
  const n = text.length;
  for (;;) {
    if (text.charCodeAt(i) === 34) {
      let value = "";
      let j = i + 1;
      for (;;) {
        const q = text.indexOf('"', j);
        if (q < 0)
          throw new InputError(`unterminated quoted field in column ${cells.length + 1}`, { file, line });
        value += text.slice(j, q);
        if (text.charCodeAt(q + 1) === 34) {
          value += '"';
          j = q + 2;
          continue;
        }
        i = q + 1;
        break;
      }
      cells.push(value);
      if (i >= n) return cells;
      if (text.charCodeAt(i) !== 44) {
        throw new InputError(`unexpected text after the closing quote in column ${cells.length}`, {
          file,
          line,
        });
      }
      i++;
    } else {
      const comma = text.indexOf(",", i);
      if (comma < 0) {
        cells.push(text.slice(i));
        return cells;
      }
      cells.push(text.slice(i, comma));
      i = comma + 1;
    }
  }
}
