import { EXTENDED_COLUMNS as COLLECTOR_COLUMNS, EVENT_COLUMNS } from "../ransomware/events.ts";
import type { FileActivity, Severity, SyscallActivity } from "./events.ts";

/**
 * The CSV formats the collector writes. All text is handled as byte strings (one character per byte, latin1) so
 * that paths and command names are written back exactly as the kernel saw them.
 */
// The file-event columns are the ones the ransomware detector reads: one definition, so writer and reader agree.
export const EBPFANGEL_COLUMNS: readonly string[] = EVENT_COLUMNS;
export const EXTENDED_COLUMNS: readonly string[] = [...EVENT_COLUMNS, ...COLLECTOR_COLUMNS];
export const SYSCALL_COLUMNS = ["TS", "PID", "TID", "SYSCALL", "COMM"] as const;

export const FILE_FORMATS = ["extended", "ebpfangel"] as const;
export type FileFormat = (typeof FILE_FORMATS)[number];
export const SYSCALL_FORMATS = ["csv", "strace"] as const;
export type SyscallFormat = (typeof SYSCALL_FORMATS)[number];

export function headerLine(columns: readonly string[]): string {
  return `${columns.join(",")}\n`;
}

const NEEDS_QUOTES = /[",\r\n]/;

/** RFC 4180: a field with a comma, quote, CR or LF is quoted, its quotes doubled. */
export function csvText(value: string): string {
  return NEEDS_QUOTES.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

/** One file-event row, or null when the format has no row for it (ebpfangel has no exec/exit rows). */
export function fileEventRow(e: FileActivity, s: Severity, format: FileFormat): string | null {
  if (format === "ebpfangel" && e.type > 3) return null;
  const t = s.thresholds;
  let row = `${e.ts},${e.pid},${e.type},${s.flag},${s.pattern},${t & 1},${(t >> 1) & 1},${(t >> 2) & 1},${(t >> 3) & 1},${csvText(e.filename)}`;
  if (format === "extended") row += `,${e.tid},${e.ppid},${e.uid},${csvText(e.comm)},${e.flags},${e.op}`;
  return `${row}\n`;
}

export function syscallRow(s: SyscallActivity): string {
  return `${s.ts},${s.pid},${s.tid},${s.syscall},${csvText(s.comm)}\n`;
}
