import { stat } from "node:fs/promises";
import { basename } from "node:path";
import { InputError } from "../core/errors.ts";
import { readEventLog } from "./events.ts";
import { FeatureExtractor, type FeatureExtractorOptions, type ProcessFeatures } from "./features.ts";

export interface ExtractOptions extends FeatureExtractorOptions {
  skipInvalid?: boolean;
  /** Progress in bytes over all files. */
  onProgress?: (bytesDone: number, bytesTotal: number) => void;
}

export interface ExtractSummary {
  logs: number;
  events: number;
  processes: number;
  skippedRows: number;
  skippedExamples: string[];
}

/** The name under which a log's processes are identified (and labelled): its file name. */
export function logName(path: string): string {
  return basename(path);
}

/** Streams event logs through one FeatureExtractor: one feature row per (log, PID). */
export async function extractFeatures(
  logPaths: readonly string[],
  options: ExtractOptions = {},
): Promise<{ rows: ProcessFeatures[]; summary: ExtractSummary }> {
  const seen = new Map<string, string>();
  for (const path of logPaths) {
    const name = logName(path);
    const other = seen.get(name);
    if (other !== undefined && other !== path) {
      throw new InputError(
        `two logs share the file name ${name} (${other}); processes are identified by log file name, so rename one`,
        { file: path },
      );
    }
    seen.set(name, path);
  }
  const sizes = await Promise.all(logPaths.map(async (p) => (await stat(p)).size));
  const totalBytes = sizes.reduce((a, b) => a + b, 0);
  const extractor = new FeatureExtractor(options);
  const summary: ExtractSummary = { logs: 0, events: 0, processes: 0, skippedRows: 0, skippedExamples: [] };
  let bytesBefore = 0;
  for (let i = 0; i < logPaths.length; i++) {
    extractor.beginLog(logName(logPaths[i]));
    const result = await readEventLog(logPaths[i], (e) => extractor.add(e), {
      skipInvalid: options.skipInvalid,
      onBytes: options.onProgress ? (b) => options.onProgress!(bytesBefore + b, totalBytes) : undefined,
    });
    bytesBefore += sizes[i];
    summary.logs++;
    summary.events += result.rows;
    summary.skippedRows += result.skipped;
    for (const example of result.skippedExamples) {
      if (summary.skippedExamples.length < 10) summary.skippedExamples.push(example);
    }
  }
  const rows = extractor.rows();
  summary.processes = rows.length;
  return { rows, summary };
}
