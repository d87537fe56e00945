import type { Readable } from "node:stream";
import type { CommandExit } from "./command.ts";
import type { FileFormat, SyscallFormat } from "./format.ts";
import type { CollectorScope } from "./scope.ts";
import type { EventCounts } from "./writer.ts";

export const BACKENDS = ["bpftrace", "strace"] as const;
export type Backend = (typeof BACKENDS)[number];

export interface CollectorOptions {
  /** bpftrace (eBPF, root; default) or strace (ptrace, where eBPF is unavailable; needs a pid or a command). */
  backend?: Backend;
  /** Per-thread system-call sequences for the syscall detector instead of file events. */
  syscalls?: boolean;
  /**
   * File events: `extended` (default; ebpfangel's 10 columns then TID,PPID,UID,COMM,FLAGS,OP, plus exec/exit
   * rows) or `ebpfangel` (exactly the 10 columns). Syscalls: `csv` (TS,PID,TID,SYSCALL,COMM; default for
   * bpftrace) or `strace` (strace -f output passed through; default for the strace backend).
   */
  format?: FileFormat | SyscallFormat;
  /** Default: the whole host (bpftrace only). */
  scope?: CollectorScope;
  /** Processes never traced, besides the collector and its tracer child (a caller passes its own pid, say). */
  excludePids?: readonly number[];
  /** Further libcrypto files for the encrypt uprobes (besides those found under /usr/lib, /lib and /opt). */
  libcrypto?: readonly string[];
  /** Pages per CPU of bpftrace's perf ring buffers (a power of 2; default 1024 = 4 MiB per CPU). */
  perfRingPages?: number;
  /** Bytes of output the reader may leave unread before the tracer is paused (default 64 MiB). */
  maxBufferedBytes?: number;
  /** PATH used to find bpftrace / strace / the command (default: the collector's). */
  path?: string;
  /** Where tracefs is (mounted there when absent; default /sys/kernel/tracing). */
  tracefs?: string;
}

export interface CollectorStats {
  backend: Backend;
  mode: "files" | "syscalls";
  format: FileFormat | SyscallFormat;
  scope: string;
  /** The tracer is attached and events flow. */
  running: boolean;
  /** The tracer child's process id (bpftrace or strace). */
  tracerPid: number | undefined;
  elapsedMs: number;
  /** Rows written (file events including exec/exit rows, or system calls). */
  events: number;
  /** File events by type (exec and exit rows too; zero in syscall mode apart from exec/exit). */
  byType: EventCounts;
  /** Tracer records received (a rename is two records; bookkeeping records count too). */
  records: number;
  /**
   * Records lost between the kernel and the collector. While running: what bpftrace reported ("Lost N events").
   * After stop: the kernel's own count of emitted records minus those received, which also covers losses
   * bpftrace never reports (the last overflow of a ring, records dropped when it stops).
   */
  lost: number;
  /** The sum of bpftrace's "Lost N events" messages. */
  lostReported: number;
  /** Records the kernel emitted, as counted in the kernel (known after stop; null before or when unknown). */
  kernelRecords: number | null;
  /** bpftrace helper errors (a full map, say), from its -k warnings. */
  helperErrors: number;
  /**
   * Records that reached the collector after later ones had been written (bpftrace: a record written to its
   * CPU's ring after that CPU's next tick). Rows are otherwise in time order.
   */
  outOfOrder: number;
  /** Tracer lines the collector could not parse (none expected; counted, with the first examples in warnings). */
  malformed: number;
  /** File events with an empty path: the path was not readable at syscall entry (or was ""). */
  emptyPaths: number;
  /** Bytes of CSV written to `output`. */
  bytes: number;
  /** libcrypto files with encrypt uprobes. */
  libcrypto: string[];
  warnings: string[];
}

export interface CollectorSummary extends CollectorStats {
  durationMs: number;
  /** How the started command ended (command scope). */
  command?: CommandExit;
}

export interface Collector {
  /** CSV text with its header, as bytes; ends after stop (or when the traced command has exited). */
  readonly output: Readable;
  /** Resolves when every probe is attached (and a started command has been let run); rejects if the tracer fails. */
  readonly ready: Promise<void>;
  /** Resolves with the summary when collection has ended and `output` is complete; rejects on a tracer failure. */
  readonly done: Promise<CollectorSummary>;
  /** The started command's process id (command scope). */
  readonly commandPid: number | undefined;
  stats(): CollectorStats;
  /** Stops cleanly: every event emitted before the call is delivered, then the tracer ends. Idempotent. */
  stop(): Promise<CollectorSummary>;
}
