import { InputError } from "../core/errors.ts";
import { scanLines } from "../core/lines.ts";

/** Columns of the eBPF file-activity detector's CSV log, in order. */
export const EVENT_COLUMNS = [
  "TS",
  "PID",
  "TYPE",
  "FLAG",
  "PATTERN",
  "OPEN",
  "CREATE",
  "DELETE",
  "ENCRYPT",
  "FILENAME",
];
const HEADER = EVENT_COLUMNS.join(",");

export const EventType = { Open: 0, Create: 1, Delete: 2, Encrypt: 3 } as const;
export const EVENT_TYPE_LETTERS = ["O", "C", "D", "E"] as const;

/**
 * One event, as a reusable mutable record: the reader refills the same object for every row so that parsing
 * millions of rows allocates nothing. The filename is a byte range of `bytes` (valid only during the visit).
 */
export interface FileEvent {
  /** TS split into whole seconds and nanoseconds: both exact, whereas TS itself can exceed 2^53. */
  tsSec: number;
  tsNsec: number;
  pid: number;
  type: number;
  flag: number;
  pattern: number;
  /** Bits 0..3: the OPEN, CREATE, DELETE, ENCRYPT threshold columns (noisy in the source detector). */
  thresholds: number;
  bytes: Uint8Array;
  nameStart: number;
  nameEnd: number;
}

export function eventFilename(e: FileEvent): string {
  return decoder.decode(e.bytes.subarray(e.nameStart, e.nameEnd));
}

const decoder = new TextDecoder();

/** TS as its exact decimal string. */
export function formatTimestamp(sec: number, nsec: number): string {
  return sec === 0 ? String(nsec) : `${sec}${String(nsec).padStart(9, "0")}`;
}

export interface ReadEventsOptions {
  /** Skip malformed rows (counted in the summary) instead of stopping at the first one. */
  skipInvalid?: boolean;
  onBytes?: (bytesRead: number) => void;
}

export interface ReadSummary {
  rows: number;
  skipped: number;
  /** First few skipped rows, for the report: "file:line: reason". */
  skippedExamples: string[];
}

export class RowError extends Error {}

/**
 * Streams one log file and calls `visit` for every valid event. A malformed row throws an InputError with the file,
 * line and reason, unless `skipInvalid` is set, in which case it is counted in the returned summary.
 */
export async function readEventLog(
  file: string,
  visit: (event: FileEvent) => void,
  options: ReadEventsOptions = {},
): Promise<ReadSummary> {
  const summary: ReadSummary = { rows: 0, skipped: 0, skippedExamples: [] };
  const event = newEvent();
  let sawHeader = false;
  await scanLines(
    file,
    (bytes, start, end, line) => {
      if (!sawHeader) {
        const header = decoder.decode(bytes.subarray(start, end)).replace(/^\uFEFF/, "");
        if (header.replaceAll(" ", "").toUpperCase() !== HEADER) {
          throw new InputError(
            `expected the header ${HEADER}, found ${JSON.stringify(header.slice(0, 200))}`,
            {
              file,
              line,
            },
          );
        }
        sawHeader = true;
        return;
      }
      if (start === end) return;
      try {
        parseEventRow(bytes, start, end, event);
      } catch (error) {
        if (!(error instanceof RowError)) throw error;
        if (!options.skipInvalid) {
          throw new InputError(`${error.message} (use --skip-invalid to skip such rows)`, { file, line });
        }
        summary.skipped++;
        if (summary.skippedExamples.length < 5)
          summary.skippedExamples.push(`${file}:${line}: ${error.message}`);
        return;
      }
      summary.rows++;
      visit(event);
    },
    { onBytes: options.onBytes },
  );
  if (!sawHeader) throw new InputError(`the file is empty; expected the header ${HEADER}`, { file, line: 1 });
  return summary;
}

export function newEvent(): FileEvent {
  return {
    tsSec: 0,
    tsNsec: 0,
    pid: 0,
    type: 0,
    flag: 0,
    pattern: 0,
    thresholds: 0,
    bytes: new Uint8Array(0),
    nameStart: 0,
    nameEnd: 0,
  };
}

const FIELD_LIMITS: { name: string; max: number }[] = [
  { name: "TYPE", max: 3 },
  { name: "FLAG", max: 2 },
  { name: "PATTERN", max: 0xffffffff },
  { name: "OPEN", max: 1 },
  { name: "CREATE", max: 1 },
  { name: "DELETE", max: 1 },
  { name: "ENCRYPT", max: 1 },
];

const COMMA = 44;
const QUOTE = 34;

/** Parses one data row (bytes, without terminator) into `event`; throws RowError with the reason. */
export function parseEventRow(bytes: Uint8Array, start: number, end: number, event: FileEvent): void {
  let i = start;
  // TS: up to 20 digits (uint64); split so that both parts stay exact.
  let digits = 0;
  let high = 0;
  let low = 0;
  for (; i < end; i++) {
    const c = bytes[i] - 48;
    if (c < 0 || c > 9) break;
    if (digits >= 9) {
      // Shift the top digit of `low` into `high`: low keeps the last 9 digits.
      const top = Math.floor(low / 1e8);
      high = high * 10 + top;
      low = (low - top * 1e8) * 10 + c;
    } else low = low * 10 + c;
    digits++;
  }
  if (digits === 0 || digits > 20 || i >= end || bytes[i] !== COMMA) {
    throw new RowError(
      `TS must be a non-negative integer (nanoseconds), got ${quoteField(bytes, start, end)}`,
    );
  }
  // 2^64 - 1 = 18446744073|709551615 (high|low).
  if (digits === 20 && (high > 18446744073 || (high === 18446744073 && low > 709551615))) {
    throw new RowError(`TS exceeds the 64-bit range`);
  }
  event.tsSec = high;
  event.tsNsec = low;
  i++;
  let pid = 0;
  const pidStart = i;
  for (; i < end; i++) {
    const c = bytes[i] - 48;
    if (c < 0 || c > 9) break;
    pid = pid * 10 + c;
  }
  if (i === pidStart || i - pidStart > 10 || i >= end || bytes[i] !== COMMA || pid > 0xffffffff) {
    throw new RowError(`PID must be a non-negative 32-bit integer, got ${quoteField(bytes, pidStart, end)}`);
  }
  event.pid = pid;
  i++;
  let thresholds = 0;
  for (let f = 0; f < FIELD_LIMITS.length; f++) {
    let value = 0;
    const fieldStart = i;
    for (; i < end; i++) {
      const c = bytes[i] - 48;
      if (c < 0 || c > 9) break;
      value = value * 10 + c;
    }
    const limit = FIELD_LIMITS[f];
    if (i === fieldStart || i - fieldStart > 10 || value > limit.max || i >= end || bytes[i] !== COMMA) {
      if (i >= end && f < FIELD_LIMITS.length) {
        throw new RowError(`expected ${EVENT_COLUMNS.length} columns, the row ends after ${f + 3}`);
      }
      throw new RowError(
        `${limit.name} must be an integer from 0 to ${limit.max}, got ${quoteField(bytes, fieldStart, end)}`,
      );
    }
    if (f === 0) event.type = value;
    else if (f === 1) event.flag = value;
    else if (f === 2) event.pattern = value;
    else thresholds |= value << (f - 3);
    i++;
  }
  event.thresholds = thresholds;
  if (i < end && bytes[i] === QUOTE) {
    // Quoted FILENAME (paths with commas): unquote into a fresh buffer; rare, so allocation is fine here.
    const out: number[] = [];
    let j = i + 1;
    for (;;) {
      if (j >= end) throw new RowError(`FILENAME has an opening quote but no closing quote`);
      if (bytes[j] === QUOTE) {
        if (j + 1 < end && bytes[j + 1] === QUOTE) {
          out.push(QUOTE);
          j += 2;
          continue;
        }
        if (j + 1 !== end) throw new RowError(`unexpected text after the quoted FILENAME`);
        break;
      }
      out.push(bytes[j++]);
    }
    event.bytes = Uint8Array.from(out);
    event.nameStart = 0;
    event.nameEnd = out.length;
  } else {
    event.bytes = bytes;
    event.nameStart = i;
    event.nameEnd = end;
  }
}

function quoteField(bytes: Uint8Array, start: number, end: number): string {
  let stop = start;
  while (stop < end && bytes[stop] !== COMMA && stop - start < 40) stop++;
  return JSON.stringify(decoder.decode(bytes.subarray(start, stop)));
}
