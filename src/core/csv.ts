import { InputError } from "./errors.ts";

/** A parsed CSV table: the header and the data rows, each with the 1-based line on which it starts. */
export interface CsvTable {
  header: string[];
  rows: string[][];
  lines: number[];
}

/**
 * Parses RFC 4180 CSV text (quoted fields, doubled quotes, newlines inside quotes, CRLF). Used for small tables
 * (labels, feature tables); hot event logs use dedicated line parsers. Every row must have the header's width.
 */
export function parseCsv(text: string, file: string): CsvTable {
  const records: string[][] = [];
  const starts: number[] = [];
  let field = "";
  let record: string[] = [];
  let line = 1;
  let recordLine = 1;
  let inQuotes = false;
  let quotedField = false;
  // Where the open quoted field started: an unclosed quote runs to the end of the file, so that is where to look.
  let quoteLine = 1;
  let i = 0;
  const n = text.length;
  if (text.charCodeAt(0) === 0xfeff) i = 1;
  const endRecord = () => {
    record.push(field);
    // A blank line is skipped, but `""` is a present empty value (a one-column row).
    const blank = record.length === 1 && field === "" && !quotedField;
    field = "";
    quotedField = false;
    if (!blank) {
      records.push(record);
      starts.push(recordLine);
    }
    record = [];
  };
  for (; i < n; i++) {
    const c = text[i];
    if (inQuotes) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else inQuotes = false;
      } else {
        if (c === "\n") line++;
        field += c;
      }
      continue;
    }
    if (c === ",") {
      record.push(field);
      field = "";
      quotedField = false;
    } else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      endRecord();
      line++;
      recordLine = line;
    } else if (c === '"') {
      if (field.length > 0 || quotedField) {
        throw new InputError(`unexpected quote inside an unquoted field`, { file, line });
      }
      inQuotes = true;
      quotedField = true;
      quoteLine = line;
    } else {
      if (quotedField) throw new InputError(`unexpected text after a closing quote`, { file, line });
      field += c;
    }
  }
  if (inQuotes)
    throw new InputError(`a quoted field is not closed before the end of the file`, {
      file,
      line: quoteLine,
    });
  if (field.length > 0 || record.length > 0 || quotedField) endRecord();
  if (records.length === 0)
    throw new InputError(`the file is empty; expected a CSV header`, { file, line: 1 });
  const header = records[0].map((h) => h.trim());
  for (let r = 1; r < records.length; r++) {
    if (records[r].length !== header.length) {
      throw new InputError(`expected ${header.length} fields as in the header, found ${records[r].length}`, {
        file,
        line: starts[r],
      });
    }
  }
  return { header, rows: records.slice(1), lines: starts.slice(1) };
}

/** Quotes a field only when it needs it. */
export function csvField(value: string | number | bigint | boolean): string {
  const s = String(value);
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

export function csvLine(values: readonly (string | number | bigint | boolean)[]): string {
  // A lone empty value would read back as a blank line, which parseCsv skips.
  if (values.length === 1 && String(values[0]) === "") return '""';
  return values.map(csvField).join(",");
}

/** Index of each required column in a header, or an InputError naming the missing ones and what was found. */
export function requireColumns(header: string[], required: readonly string[], file: string): number[] {
  const lower = header.map((h) => h.toLowerCase());
  const missing: string[] = [];
  const indexes = required.map((name) => {
    const at = lower.indexOf(name.toLowerCase());
    if (at < 0) missing.push(name);
    return at;
  });
  if (missing.length > 0) {
    throw new InputError(`missing column(s) ${missing.join(", ")}; header has: ${header.join(", ")}`, {
      file,
      line: 1,
    });
  }
  return indexes;
}
