import { InputError } from "../core/errors.ts";
import { scanLines } from "../core/lines.ts";
import { RecordError } from "../core/stream/run.ts";

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
/**
 * Columns threatlens's own collector adds after FILENAME (docs/live.md): thread id, parent, user, command name, open
 * flags and the traced call. Its logs also carry process lifecycle rows (TYPE 4 exec, 5 exit).
 */
export const EXTENDED_COLUMNS = ["TID", "PPID", "UID", "COMM", "FLAGS", "OP"];
const EXTENDED_HEADER = [...EVENT_COLUMNS, ...EXTENDED_COLUMNS].join(",");

/** The two layouts of an event log: ebpfangel's ten columns, or the collector's extended variant. */
export type EventLayout = "standard" | "extended";

/** The layout a header line announces, or null when it is not an event-log header. */
export function eventLayoutOf(header: string): EventLayout | null {
  const h = header
    .replace(/^\uFEFF/, "")
    .replaceAll(" ", "")
    .toUpperCase();
  if (h === HEADER) return "standard";
  if (h === EXTENDED_HEADER) return "extended";
  return null;
}

export const EventType = { Open: 0, Create: 1, Delete: 2, Encrypt: 3, Exec: 4, Exit: 5 } as const;
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
  /** Extended layout only (-1 or empty otherwise): thread id, parent process id, user id, and the call's flags
   * (open flags; for EVP_CipherInit_ex its `enc` argument, which may be -1). */
  tid: number;
  ppid: number;
  uid: number;
  flags: number;
  /** The event came from a rename (written as a delete of the old name and a create of the new one). */
  rename: boolean;
  /** The call failed (the collector writes a failed delete's OP as `unlinkat:ENOENT`): it changed nothing. */
  failed: boolean;
  /** Command name: a byte range of `commBytes` (valid only during the visit); empty when absent. */
  commBytes: Uint8Array;
  commStart: number;
  commEnd: number;
}

export function eventComm(e: FileEvent): string {
  return decoder.decode(e.commBytes.subarray(e.commStart, e.commEnd));
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

/** A malformed row: skipped and counted, or reported with its file and line. */
export class RowError extends RecordError {}

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
  let layout: EventLayout | null = null;
  await scanLines(
    file,
    (bytes, start, end, line) => {
      if (layout === null) {
        layout = parseHeader(bytes, start, end, file, line);
        return;
      }
      if (start === end) return;
      try {
        parseEventRow(bytes, start, end, event, layout);
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
  if (layout === null)
    throw new InputError(`the file is empty; expected the header ${HEADER}`, { file, line: 1 });
  return summary;
}

/** Reads an event log's header line; throws a located InputError when it is not one. */
export function parseHeader(
  bytes: Uint8Array,
  start: number,
  end: number,
  file: string,
  line: number,
): EventLayout {
  const header = decoder.decode(bytes.subarray(start, end));
  const layout = eventLayoutOf(header);
  if (layout === null) {
    throw new InputError(
      `expected the header ${HEADER}, found ${JSON.stringify(header.slice(0, 200))} (the collector's extended header, ending ${EXTENDED_COLUMNS.join(",")}, is accepted too)`,
      { file, line },
    );
  }
  return layout;
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
    bytes: EMPTY,
    nameStart: 0,
    nameEnd: 0,
    tid: -1,
    ppid: -1,
    uid: -1,
    flags: 0,
    rename: false,
    failed: false,
    commBytes: EMPTY,
    commStart: 0,
    commEnd: 0,
  };
}

const EMPTY = new Uint8Array(0);

const FIELD_LIMITS: { name: string; max: number }[] = [
  { name: "TYPE", max: 3 },
  { name: "FLAG", max: 2 },
  { name: "PATTERN", max: 0xffffffff },
  { name: "OPEN", max: 1 },
  { name: "CREATE", max: 1 },
  { name: "DELETE", max: 1 },
  { name: "ENCRYPT", max: 1 },
];
/** The extended layout adds lifecycle rows: TYPE 4 exec, 5 exit. */
const EXTENDED_MAX_TYPE = 5;

const COMMA = 44;
const COLON = 58;
const QUOTE = 34;

/** Parses one data row (bytes, without terminator) into `event`; throws RowError with the reason. */
export function parseEventRow(
  bytes: Uint8Array,
  start: number,
  end: number,
  event: FileEvent,
  layout: EventLayout = "standard",
): void {
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
  const columns =
    layout === "standard" ? EVENT_COLUMNS.length : EVENT_COLUMNS.length + EXTENDED_COLUMNS.length;
  i = readUint(bytes, i, end, "PID", 0xffffffff, 2, columns);
  event.pid = cursorValue;
  i++;
  let thresholds = 0;
  for (let f = 0; f < FIELD_LIMITS.length; f++) {
    const limit = FIELD_LIMITS[f];
    const max = f === 0 && layout === "extended" ? EXTENDED_MAX_TYPE : limit.max;
    i = readUint(bytes, i, end, limit.name, max, f + 3, columns);
    const value = cursorValue;
    if (f === 0) event.type = value;
    else if (f === 1) event.flag = value;
    else if (f === 2) event.pattern = value;
    else thresholds |= value << (f - 3);
    i++;
  }
  event.thresholds = thresholds;
  if (layout === "standard") {
    // FILENAME is the rest of the row: ebpfangel wrote paths with commas unquoted, but quoted ones occur too.
    if (i < end && bytes[i] === QUOTE) readQuoted(bytes, i, end, "FILENAME", true);
    else {
      fieldBytes = bytes;
      fieldStart = i;
      fieldEnd = end;
    }
    event.bytes = fieldBytes;
    event.nameStart = fieldStart;
    event.nameEnd = fieldEnd;
    event.tid = -1;
    event.ppid = -1;
    event.uid = -1;
    event.flags = 0;
    event.rename = false;
    event.failed = false;
    event.commBytes = EMPTY;
    event.commStart = 0;
    event.commEnd = 0;
    return;
  }
  i = readField(bytes, i, end, "FILENAME");
  event.bytes = fieldBytes;
  event.nameStart = fieldStart;
  event.nameEnd = fieldEnd;
  i = readUint(bytes, i + 1, end, "TID", 0xffffffff, 11, columns);
  event.tid = cursorValue;
  i = readUint(bytes, i + 1, end, "PPID", 0xffffffff, 12, columns);
  event.ppid = cursorValue;
  i = readUint(bytes, i + 1, end, "UID", 0xffffffff, 13, columns);
  event.uid = cursorValue;
  i = readField(bytes, i + 1, end, "COMM");
  event.commBytes = fieldBytes;
  event.commStart = fieldStart;
  event.commEnd = fieldEnd;
  // FLAGS: open, unlinkat or renameat2 flags, or EVP_CipherInit_ex's `enc` argument (1, 0, or -1 for "unchanged").
  const negative = i + 1 < end && bytes[i + 1] === 45;
  i = readUint(bytes, negative ? i + 2 : i + 1, end, "FLAGS", 0xffffffff, 15, columns);
  event.flags = negative ? -cursorValue : cursorValue;
  // OP, the last column: "rename…" (the collector writes a rename as two rows) and a failure suffix matter.
  i++;
  if (i > end) throw new RowError(`expected ${columns} columns, the row ends after 15`);
  event.rename = end - i >= 6 && bytes[i] === 114 && bytes[i + 1] === 101 && bytes[i + 2] === 110;
  event.failed = false;
  for (let k = i; k < end; k++) {
    if (bytes[k] === COLON) {
      event.failed = true;
      break;
    }
  }
}

/** Set by readUint (a module-level register: the row parser allocates nothing per row). */
let cursorValue = 0;

/** Reads an unsigned decimal field ending at a comma (or the row's end for the last column); returns its end. */
function readUint(
  bytes: Uint8Array,
  i: number,
  end: number,
  name: string,
  max: number,
  column: number,
  columns: number,
): number {
  let value = 0;
  const fieldStart = i;
  for (; i < end; i++) {
    const c = bytes[i] - 48;
    if (c < 0 || c > 9) break;
    value = value * 10 + c;
  }
  if (i === fieldStart || i - fieldStart > 10 || value > max || i >= end || bytes[i] !== COMMA) {
    if (name === "PID") {
      throw new RowError(
        `PID must be a non-negative 32-bit integer, got ${quoteField(bytes, fieldStart, end)}`,
      );
    }
    if (i >= end && column < columns) {
      throw new RowError(`expected ${columns} columns, the row ends after ${column}`);
    }
    throw new RowError(
      `${name} must be an integer from 0 to ${max}, got ${quoteField(bytes, fieldStart, end)}`,
    );
  }
  cursorValue = value;
  return i;
}

/** Set by readField/readQuoted: the field's bytes (the row itself, or a fresh buffer after unquoting). */
let fieldBytes: Uint8Array = new Uint8Array(0);
let fieldStart = 0;
let fieldEnd = 0;

/** Reads a text field, quoted (RFC 4180) or not, up to the next comma; returns the index of that comma. */
function readField(bytes: Uint8Array, i: number, end: number, name: string): number {
  if (i < end && bytes[i] === QUOTE) return readQuoted(bytes, i, end, name, false);
  let j = i;
  while (j < end && bytes[j] !== COMMA) j++;
  if (j >= end) throw new RowError(`expected more columns after ${name}`);
  fieldBytes = bytes;
  fieldStart = i;
  fieldEnd = j;
  return j;
}

/** Unquotes into a fresh buffer (rare: only fields with commas or quotes are quoted); returns the index after it. */
function readQuoted(bytes: Uint8Array, i: number, end: number, name: string, last: boolean): number {
  const out: number[] = [];
  let j = i + 1;
  for (;;) {
    if (j >= end) throw new RowError(`${name} has an opening quote but no closing quote`);
    if (bytes[j] === QUOTE) {
      if (j + 1 < end && bytes[j + 1] === QUOTE) {
        out.push(QUOTE);
        j += 2;
        continue;
      }
      j++;
      break;
    }
    out.push(bytes[j++]);
  }
  if (last ? j !== end : j >= end || bytes[j] !== COMMA) {
    throw new RowError(`unexpected text after the quoted ${name}`);
  }
  fieldBytes = Uint8Array.from(out);
  fieldStart = 0;
  fieldEnd = out.length;
  return j;
}

function quoteField(bytes: Uint8Array, start: number, end: number): string {
  let stop = start;
  while (stop < end && bytes[stop] !== COMMA && stop - start < 40) stop++;
  return JSON.stringify(decoder.decode(bytes.subarray(start, stop)));
}
