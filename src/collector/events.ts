/**
 * What the collector records, independent of the backend that saw it (bpftrace or strace): file events in
 * ebpfangel's meaning (TYPE 0 open, 1 create, 2 delete, 3 encrypt) plus process lifecycle (4 exec, 5 exit), and
 * system calls for the syscall detector.
 */

export const FileEventType = { Open: 0, Create: 1, Delete: 2, Encrypt: 3, Exec: 4, Exit: 5 } as const;
export type FileEventTypeCode = (typeof FileEventType)[keyof typeof FileEventType];

export const EVENT_TYPE_NAMES = ["open", "create", "delete", "encrypt", "exec", "exit"] as const;

export interface Op {
  /** The OP column: the traced call. */
  name: string;
  /** TYPE when the call has no O_CREAT to look at (opens are decided by their flags). */
  type: FileEventTypeCode;
  /** FILENAME is this literal (encrypt events write the function name, as ebpfangel's detector did). */
  literalName?: string;
}

const O_CREAT = 0o100;

/**
 * The file operations by the number the bpftrace script writes in its `E` records (data/collector/files.bt and
 * libcrypto.bt). A rename is two records: its old name (delete) then its new name (create).
 */
export const OPS: readonly Op[] = [
  { name: "open", type: FileEventType.Open },
  { name: "openat", type: FileEventType.Open },
  { name: "openat2", type: FileEventType.Open },
  { name: "creat", type: FileEventType.Create },
  { name: "unlink", type: FileEventType.Delete },
  { name: "unlinkat", type: FileEventType.Delete },
  { name: "rename", type: FileEventType.Delete },
  { name: "rename", type: FileEventType.Create },
  { name: "renameat", type: FileEventType.Delete },
  { name: "renameat", type: FileEventType.Create },
  { name: "renameat2", type: FileEventType.Delete },
  { name: "renameat2", type: FileEventType.Create },
  { name: "EVP_EncryptInit_ex", type: FileEventType.Encrypt, literalName: "EVP_EncryptInit_ex" },
  { name: "EVP_CipherInit_ex", type: FileEventType.Encrypt, literalName: "EVP_CipherInit_ex" },
  { name: "EVP_SealInit", type: FileEventType.Encrypt, literalName: "EVP_SealInit" },
  { name: "link", type: FileEventType.Create },
  { name: "linkat", type: FileEventType.Create },
  { name: "symlink", type: FileEventType.Create },
  { name: "symlinkat", type: FileEventType.Create },
  { name: "bind", type: FileEventType.Create },
];

/** Error names of the failures a delete commonly meets; others are written as their number. */
const ERRNO_NAMES: Record<number, string> = {
  1: "EPERM",
  2: "ENOENT",
  13: "EACCES",
  16: "EBUSY",
  20: "ENOTDIR",
  21: "EISDIR",
  30: "EROFS",
  39: "ENOTEMPTY",
};

/**
 * The OP column of an event whose result is known: the call's name, then `:` and the error when it failed
 * (`unlinkat:ENOENT`), so that readers can tell a delete that destroyed nothing.
 */
export function opWithResult(name: string, result: number | undefined): string {
  if (result === undefined || result >= 0) return name;
  return `${name}:${ERRNO_NAMES[-result] ?? `E${-result}`}`;
}

/** TYPE of an open-like call: create when O_CREAT is set (ebpfangel's rule), else open. */
export function openType(flags: number): FileEventTypeCode {
  return (flags & O_CREAT) !== 0 ? FileEventType.Create : FileEventType.Open;
}

/**
 * One file event or lifecycle row. Strings that come from the traced process (`filename`, `comm`) are byte
 * strings: one character per byte (latin1), so that a path that is not valid UTF-8 is written back unchanged.
 */
export interface FileActivity {
  /** Nanoseconds since boot as a decimal string (exact: it can exceed 2^53). */
  ts: string;
  /** Process id (thread group id). */
  pid: number;
  tid: number;
  ppid: number;
  uid: number;
  type: FileEventTypeCode;
  op: string;
  /** FLAGS column as a decimal string: open flags, unlinkat/renameat2 flags, EVP_CipherInit_ex's `enc`, else 0. */
  flags: string;
  filename: string;
  comm: string;
}

export interface SyscallActivity {
  ts: string;
  pid: number;
  tid: number;
  syscall: string;
  comm: string;
}

/** ebpfangel's per-process thresholds (open 50, create 25, delete 25, encrypt 50 events per 10 s). */
export const THRESHOLDS = [50, 25, 25, 50] as const;
export const COUNTER_RESET_NS = 10_000_000_000;

export interface Severity {
  /** 0 ok, 1 a threshold is exceeded, 2 a pattern matched. */
  flag: number;
  /** 0 none, 1 open→create→delete, 2 open→create→encrypt×4→delete. */
  pattern: number;
  /** Bit k set when the counter of type k exceeds its threshold (written as the four threshold columns). */
  thresholds: number;
}

interface ProcessSeverity {
  counts: [number, number, number, number];
  windowSec: number;
  windowNsec: number;
  /** The last 8 event types, 4 bits each, newest in the lowest nibble. */
  history: number;
}

/**
 * FLAG, PATTERN and the threshold columns with ebpfangel's semantics (../shared/COLLECTOR.md), computed in
 * the collector instead of the kernel. Differences, documented in docs/live.md: state is kept per process (TGID)
 * rather than per thread; the 10 s reset runs on event time, per process, from its first event after the last
 * reset; the threshold bits are the intended `1 << k` ones, not the original's `t & k`.
 */
export class SeverityTracker {
  private readonly processes = new Map<number, ProcessSeverity>();

  /** Accounts one open/create/delete/encrypt event of `pid` at time `ts` and returns its columns. */
  update(pid: number, type: number, tsSec: number, tsNsec: number, out: Severity): Severity {
    let p = this.processes.get(pid);
    if (p === undefined) {
      p = { counts: [0, 0, 0, 0], windowSec: tsSec, windowNsec: tsNsec, history: 0 };
      this.processes.set(pid, p);
    } else {
      const elapsed = (tsSec - p.windowSec) * 1e9 + (tsNsec - p.windowNsec);
      if (elapsed >= COUNTER_RESET_NS) {
        p.counts[0] = p.counts[1] = p.counts[2] = p.counts[3] = 0;
        p.windowSec = tsSec;
        p.windowNsec = tsNsec;
      }
    }
    p.counts[type]++;
    let thresholds = 0;
    for (let k = 0; k < 4; k++) if (p.counts[k] > THRESHOLDS[k]) thresholds |= 1 << k;
    p.history = ((p.history << 4) | type) >>> 0;
    let pattern = 0;
    if ((p.history & 0xfff) === 0x012) pattern = 1;
    else if ((p.history & 0x0fffffff) === 0x0133332) pattern = 2;
    if (pattern !== 0) p.history = 0;
    out.flag = pattern !== 0 ? 2 : thresholds !== 0 ? 1 : 0;
    out.pattern = pattern;
    out.thresholds = thresholds;
    return out;
  }

  /** The process exited: forget it (its id may be reused). */
  end(pid: number): void {
    this.processes.delete(pid);
  }

  get size(): number {
    return this.processes.size;
  }
}

/** Splits a decimal nanosecond timestamp into exact seconds and nanoseconds. */
export function splitTimestamp(ts: string): [number, number] {
  const cut = ts.length - 9;
  if (cut <= 0) return [0, Number(ts)];
  return [Number(ts.slice(0, cut)), Number(ts.slice(cut))];
}
