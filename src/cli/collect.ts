import { createWriteStream } from "node:fs";
import { finished } from "node:stream/promises";
import { type Command, InvalidArgumentError, Option } from "commander";
import {
  BACKENDS,
  type Backend,
  type CollectorScope,
  FILE_FORMATS,
  type FileFormat,
  SYSCALL_FORMATS,
  type SyscallFormat,
  startCollector,
} from "../collector/index.ts";
import { statsLine, summaryText } from "../collector/summary.ts";
import { UsageError } from "../core/errors.ts";
import { positiveInteger, positiveNumber } from "./options.ts";
import { printJson } from "./output.ts";

const STATUS_INTERVAL_MS = 10_000;

function collectPid(value: string, previous: number[] = []): number[] {
  return [...previous, positiveInteger(value)];
}

function collectString(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

function format(value: string): FileFormat | SyscallFormat {
  const all: readonly string[] = [...FILE_FORMATS, ...SYSCALL_FORMATS];
  if (!all.includes(value)) throw new InvalidArgumentError(`expected one of ${all.join(", ")}`);
  return value as FileFormat | SyscallFormat;
}

interface CollectOptions {
  output?: string;
  duration?: number;
  json?: boolean;
  pid?: number;
  cgroup?: string;
  comm?: string;
  backend: Backend;
  syscalls?: boolean;
  format?: FileFormat | SyscallFormat;
  excludePid?: number[];
  libcrypto?: string[];
  ringPages?: number;
  quiet?: boolean;
}

/** What --pid, --cgroup, --comm or -- COMMAND choose to trace (the whole host when none is given). */
export function collectorScope(
  opts: Pick<CollectOptions, "pid" | "cgroup" | "comm">,
  command: string[],
  toStdout: boolean,
): CollectorScope {
  const given = [
    opts.pid !== undefined,
    opts.cgroup !== undefined,
    opts.comm !== undefined,
    command.length > 0,
  ];
  if (given.filter(Boolean).length > 1)
    throw new UsageError("give at most one of --pid, --cgroup, --comm and -- COMMAND");
  if (opts.pid !== undefined) return { kind: "pid", pid: opts.pid };
  if (opts.cgroup !== undefined) return { kind: "cgroup", path: opts.cgroup };
  if (opts.comm !== undefined) return { kind: "comm", name: opts.comm };
  if (command.length > 0) {
    // The events go to stdout: the command's own output goes to stderr instead of mixing into them.
    return { kind: "command", argv: command, stdio: ["inherit", toStdout ? 2 : "inherit", "inherit"] };
  }
  return { kind: "host" };
}

export function registerCollect(program: Command): void {
  program
    .command("collect")
    .description(
      "record file events (ebpfangel's schema, extended) or system calls live, from eBPF (bpftrace) or strace",
    )
    .argument(
      "[command...]",
      "after --: a command to start and trace with its children (collection ends when it exits)",
    )
    .option("-o, --output <file>", "write the CSV here (default: stdout)")
    .option(
      "--duration <s>",
      "stop after this many seconds (default: until Ctrl-C / SIGTERM, or the command's exit)",
      positiveNumber,
    )
    .option("--json", "print the summary as one JSON object on stdout (needs -o)")
    .option("--pid <pid>", "trace this process and its descendants", positiveInteger)
    .option(
      "--cgroup <path>",
      "trace the processes of this cgroup v2 (absolute, or relative to its mount) and its sub-cgroups",
    )
    .option("--comm <name>", "trace processes (threads) with this command name")
    .addOption(new Option("--backend <name>", "tracer").choices([...BACKENDS]).default("bpftrace"))
    .option(
      "--syscalls",
      "record system calls (TS,PID,TID,SYSCALL,COMM) for the syscall detector instead of file events",
    )
    .option(
      "--format <format>",
      "file events: extended (default) or ebpfangel; --syscalls: csv (default with bpftrace) or strace (default with --backend strace)",
      format,
    )
    .option("--exclude-pid <pid>", "never trace this process (repeatable)", collectPid)
    .option("--libcrypto <file>", "another libcrypto to put encrypt uprobes on (repeatable)", collectString)
    .option(
      "--ring-pages <n>",
      "bpftrace perf ring pages per CPU, a power of 2 (default 1024)",
      positiveInteger,
    )
    .option("-q, --quiet", "no status lines on stderr")
    .action(async (command: string[], opts: CollectOptions) => {
      const toStdout = opts.output === undefined;
      if (opts.json && toStdout)
        throw new UsageError("--json prints the summary on stdout: give -o FILE for the events");
      const collector = startCollector({
        backend: opts.backend,
        syscalls: opts.syscalls,
        format: opts.format,
        scope: collectorScope(opts, command, toStdout),
        excludePids: opts.excludePid,
        libcrypto: opts.libcrypto,
        perfRingPages: opts.ringPages,
      });
      const sink = toStdout ? process.stdout : createWriteStream(opts.output!);
      collector.output.pipe(sink, { end: !toStdout });
      const stop = () => void collector.stop();
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
      let status: NodeJS.Timeout | undefined;
      let timer: NodeJS.Timeout | undefined;
      try {
        await collector.ready;
        if (!opts.quiet) {
          process.stderr.write(
            `collect: tracing ${collector.stats().scope} (${opts.backend}); Ctrl-C to stop\n`,
          );
          status = setInterval(
            () => process.stderr.write(`${statsLine(collector.stats())}\n`),
            STATUS_INTERVAL_MS,
          );
        }
        if (opts.duration !== undefined) timer = setTimeout(stop, opts.duration * 1000);
        const summary = await collector.done;
        if (!toStdout) await finished(sink);
        if (opts.json) printJson(summary);
        else if (!opts.quiet) process.stderr.write(`${summaryText(summary)}\n`);
      } finally {
        clearInterval(status);
        clearTimeout(timer);
        process.off("SIGINT", stop);
        process.off("SIGTERM", stop);
        await collector.stop().catch(() => {});
      }
    });
}
