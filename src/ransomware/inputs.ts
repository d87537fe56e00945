import { open, stat } from "node:fs/promises";
import { InputError } from "../core/errors.ts";
import { expandInputs } from "../core/inputs.ts";
import { eventLayoutOf } from "./events.ts";
import { type ExtractOptions, type ExtractSummary, extractFeatures } from "./extract.ts";
import type { ProcessFeatures } from "./features.ts";
import { readFeatureTable, sniffCsvKind } from "./table.ts";

/**
 * Turns command-line inputs — event logs, directories of them, or feature tables (ours or the authors') — into
 * feature rows in the fixed schema, with a report of what was read and aligned.
 */
export interface LoadedInputs {
  rows: ProcessFeatures[];
  extract: ExtractSummary | null;
  tables: {
    file: string;
    format: string;
    rows: number;
    missingColumns: string[];
    ignoredColumns: string[];
  }[];
  /** The event logs among the inputs. */
  logs: string[];
  /** CSV files found in input directories that are neither logs nor feature tables (e.g. a labels file). */
  skippedFiles: string[];
}

/** Sorts inputs (files and directories) into event logs and feature tables, by their header line. */
export async function classifyInputs(
  inputs: readonly string[],
  /** Skip (and list) files in input directories whose header is broken, instead of stopping at them. */
  skipInvalid = false,
): Promise<{ logs: string[]; tableFiles: string[]; skippedFiles: string[] }> {
  const logs: string[] = [];
  const tableFiles: string[] = [];
  const skippedFiles: string[] = [];
  for (const input of inputs) {
    const named = (await stat(input).catch(() => null))?.isFile() ?? true;
    for (const file of await expandInputs([input], (name) => name.toLowerCase().endsWith(".csv"))) {
      const header = await firstLine(file);
      const kind = sniffCsvKind(header);
      if (kind === "events" && eventLayoutOf(header) === null && !named && skipInvalid)
        skippedFiles.push(file);
      else if (kind === "events") logs.push(file);
      else if (kind === "features" || kind === "authors") tableFiles.push(file);
      else if (!named) skippedFiles.push(file);
      else {
        throw new InputError(
          `not an event log (header TS,PID,TYPE,…) nor a feature table (header log,pid,… or the authors' PID,…)`,
          { file, line: 1 },
        );
      }
    }
  }
  return { logs, tableFiles, skippedFiles };
}

export async function loadProcessFeatures(
  inputs: readonly string[],
  options: ExtractOptions = {},
): Promise<LoadedInputs> {
  const { logs, tableFiles, skippedFiles } = await classifyInputs(inputs, options.skipInvalid);
  const rows: ProcessFeatures[] = [];
  let extract: ExtractSummary | null = null;
  if (logs.length > 0) {
    const result = await extractFeatures(logs, options);
    rows.push(...result.rows);
    extract = result.summary;
  }
  const tables: LoadedInputs["tables"] = [];
  for (const file of tableFiles) {
    const table = await readFeatureTable(file);
    rows.push(...table.rows);
    tables.push({
      file,
      format: table.format,
      rows: table.rows.length,
      missingColumns: table.missingColumns,
      ignoredColumns: table.ignoredColumns,
    });
  }
  // A PID can have several processes in one log (one ended, idle or exited, before the PID came back), but a process
  // — log, PID and start — must not come from two inputs.
  const seen = new Set<string>();
  for (const r of rows) {
    if (r.snapshot || r.children) continue;
    const key = `${r.log}\0${r.pid}\0${r.firstTs}`;
    if (seen.has(key)) throw new InputError(`process ${r.log} pid ${r.pid} appears in more than one input`);
    seen.add(key);
  }
  return { rows, extract, tables, skippedFiles, logs };
}

async function firstLine(file: string): Promise<string> {
  const handle = await open(file, "r");
  try {
    const buffer = Buffer.alloc(4096);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    const text = buffer.subarray(0, bytesRead).toString("utf8");
    const end = text.search(/\r?\n/);
    return end < 0 ? text : text.slice(0, end);
  } finally {
    await handle.close();
  }
}
