/**
 * The live collector: file events (ebpfangel's schema, extended) or system-call sequences from the kernel through
 * bpftrace, or from strace where eBPF is unavailable. See docs/live.md § collector.
 *
 *   const collector = startCollector({ scope: { kind: "pid", pid }, excludePids: [process.pid] });
 *   collector.output.pipe(consumer);           // CSV text with its header
 *   await collector.ready;                     // probes attached
 *   …
 *   const summary = await collector.stop();    // everything emitted before stop() is in output
 */
import { UsageError } from "../core/errors.ts";
import { BpftraceCollector } from "./bpftrace/backend.ts";
import { FILE_FORMATS, SYSCALL_FORMATS } from "./format.ts";
import { StraceCollector } from "./strace/backend.ts";
import type { Collector, CollectorOptions } from "./types.ts";

export type { CommandExit } from "./command.ts";
export { CollectorError } from "./environment.ts";
export type { FileActivity, SyscallActivity } from "./events.ts";
export {
  EBPFANGEL_COLUMNS,
  EXTENDED_COLUMNS,
  FILE_FORMATS,
  type FileFormat,
  SYSCALL_COLUMNS,
  SYSCALL_FORMATS,
  type SyscallFormat,
} from "./format.ts";
export type { CollectorScope, CommandStdio } from "./scope.ts";
export {
  BACKENDS,
  type Backend,
  type Collector,
  type CollectorOptions,
  type CollectorStats,
  type CollectorSummary,
} from "./types.ts";
export type { EventCounts } from "./writer.ts";

/**
 * Starts collecting. Throws UsageError for contradictory options or a scope that does not exist, and
 * CollectorError when this host cannot run the backend (not root, bpftrace or strace missing, tracefs not
 * mountable). A tracer that fails while attaching rejects `ready` and `done`.
 */
export function startCollector(options: CollectorOptions = {}): Collector {
  validateOptions(options);
  return options.backend === "strace" ? new StraceCollector(options) : new BpftraceCollector(options);
}

export function validateOptions(options: CollectorOptions): void {
  const backend = options.backend ?? "bpftrace";
  const formats: readonly string[] = options.syscalls ? SYSCALL_FORMATS : FILE_FORMATS;
  if (options.format !== undefined && !formats.includes(options.format)) {
    throw new UsageError(
      `--format ${options.format}: expected ${formats.join(" or ")} ${options.syscalls ? "with --syscalls" : "for file events"}`,
    );
  }
  if (options.syscalls && options.format === "strace" && backend !== "strace") {
    throw new UsageError("--format strace needs --backend strace");
  }
  const scope = options.scope ?? { kind: "host" };
  if (backend === "strace") {
    if (scope.kind !== "pid" && scope.kind !== "command") {
      throw new UsageError("--backend strace traces a process tree: give --pid PID or -- COMMAND");
    }
    if (options.libcrypto !== undefined && options.libcrypto.length > 0) {
      throw new UsageError("--libcrypto needs --backend bpftrace (strace sees no library calls)");
    }
  }
  for (const pid of options.excludePids ?? []) {
    if (!Number.isInteger(pid) || pid <= 0)
      throw new UsageError(`exclude pid: expected a process id, got ${pid}`);
  }
}
