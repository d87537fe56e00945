import { readFile } from "node:fs/promises";
import { parseCsv, requireColumns } from "../core/csv.ts";
import { InputError } from "../core/errors.ts";
import { AUTHORS_LOG_STRIDE, authorsLogName } from "./table.ts";

/**
 * Labels of processes, keyed by `processKey(log, pid)`. Processes absent from a label file are benign: label files
 * list the ransomware processes (and may list benign ones explicitly).
 */
export type Labels = Map<string, 0 | 1>;

export function processKey(log: string, pid: number): string {
  return `${log}\0${pid}`;
}

const POSITIVE = new Set(["ransomware", "malicious", "malware", "1", "true", "yes", "positive"]);
const NEGATIVE = new Set(["benign", "normal", "0", "false", "no", "negative"]);

/** Reads `log,pid,label[,…]` (as ../shared/data/ransomware/labels.csv). */
export async function readLabels(file: string): Promise<Labels> {
  const table = parseCsv(await readFile(file, "utf8"), file);
  const [logCol, pidCol, labelCol] = requireColumns(table.header, ["log", "pid", "label"], file);
  const labels: Labels = new Map();
  table.rows.forEach((cells, r) => {
    const line = table.lines[r];
    const pid = Number(cells[pidCol]);
    if (cells[pidCol].trim() === "" || !Number.isInteger(pid) || pid < 0) {
      throw new InputError(`pid must be a non-negative integer, got ${JSON.stringify(cells[pidCol])}`, {
        file,
        line,
      });
    }
    const text = cells[labelCol].trim().toLowerCase();
    const label = POSITIVE.has(text) ? 1 : NEGATIVE.has(text) ? 0 : -1;
    if (label < 0) {
      throw new InputError(
        `label must be ransomware/malicious/1 or benign/normal/0, got ${JSON.stringify(cells[labelCol])}`,
        { file, line },
      );
    }
    labels.set(processKey(cells[logCol], pid), label as 0 | 1);
  });
  return labels;
}

/** Reads the authors' label file: a `PID` column listing their encoded PIDs of ransomware processes. */
export async function readAuthorsLabels(file: string): Promise<Labels> {
  const table = parseCsv(await readFile(file, "utf8"), file);
  const [pidCol] = requireColumns(table.header, ["PID"], file);
  const labels: Labels = new Map();
  table.rows.forEach((cells, r) => {
    const encoded = Number(cells[pidCol]);
    if (cells[pidCol].trim() === "" || !Number.isInteger(encoded) || encoded < 0) {
      throw new InputError(`PID must be a non-negative integer, got ${JSON.stringify(cells[pidCol])}`, {
        file,
        line: table.lines[r],
      });
    }
    labels.set(
      processKey(authorsLogName(Math.floor(encoded / AUTHORS_LOG_STRIDE)), encoded % AUTHORS_LOG_STRIDE),
      1,
    );
  });
  return labels;
}
