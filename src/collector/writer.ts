import {
  EVENT_TYPE_NAMES,
  type FileActivity,
  type Severity,
  SeverityTracker,
  type SyscallActivity,
  splitTimestamp,
} from "./events.ts";
import {
  EBPFANGEL_COLUMNS,
  EXTENDED_COLUMNS,
  type FileFormat,
  fileEventRow,
  headerLine,
  SYSCALL_COLUMNS,
  syscallRow,
} from "./format.ts";

export interface EventCounts {
  open: number;
  create: number;
  delete: number;
  encrypt: number;
  exec: number;
  exit: number;
}

export function emptyCounts(): EventCounts {
  return { open: 0, create: 0, delete: 0, encrypt: 0, exec: 0, exit: 0 };
}

/**
 * Turns events from either backend into CSV rows (with the ebpfangel severity columns) and hands them to `emit`
 * in batches: a backend calls `flush()` after each chunk of input it has processed.
 */
export class EventWriter {
  readonly counts: EventCounts = emptyCounts();
  /** Rows written (file events including exec/exit rows, or system calls). */
  rows = 0;
  /** File events whose path could not be read (empty FILENAME; an open of "" looks the same). */
  emptyPaths = 0;
  bytes = 0;
  private readonly severity = new SeverityTracker();
  private readonly scratch: Severity = { flag: 0, pattern: 0, thresholds: 0 };
  private readonly none: Severity = { flag: 0, pattern: 0, thresholds: 0 };
  private pending: string[] = [];

  constructor(
    private readonly emit: (chunk: Buffer) => void,
    private readonly format: FileFormat | "syscalls" | "raw",
  ) {
    if (format === "raw") return;
    const columns =
      format === "syscalls" ? SYSCALL_COLUMNS : format === "ebpfangel" ? EBPFANGEL_COLUMNS : EXTENDED_COLUMNS;
    this.pending.push(headerLine(columns));
  }

  file(e: FileActivity): void {
    const type = e.type;
    this.counts[EVENT_TYPE_NAMES[type]]++;
    let severity = this.none;
    if (type <= 3) {
      const [sec, nsec] = splitTimestamp(e.ts);
      severity = this.severity.update(e.pid, type, sec, nsec, this.scratch);
      if (e.filename === "" && type !== 3) this.emptyPaths++;
    } else if (type === 5) this.severity.end(e.pid);
    if (this.format === "syscalls" || this.format === "raw") return;
    const row = fileEventRow(e, severity, this.format);
    if (row !== null) {
      this.pending.push(row);
      this.rows++;
    }
  }

  syscall(s: SyscallActivity): void {
    this.pending.push(syscallRow(s));
    this.rows++;
  }

  /** A line of the tracer's own output, passed through (strace -f). */
  raw(line: string): void {
    this.pending.push(line);
    this.rows++;
  }

  flush(): void {
    if (this.pending.length === 0) return;
    const chunk = Buffer.from(this.pending.join(""), "latin1");
    this.pending = [];
    this.bytes += chunk.length;
    this.emit(chunk);
  }

  /** Processes whose severity state is held (bounded by the live processes in scope). */
  get activeProcesses(): number {
    return this.severity.size;
  }
}
