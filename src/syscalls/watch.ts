import { type ChildProcess, spawn } from "node:child_process";
import { basename, join, resolve } from "node:path";
import type { Readable } from "node:stream";
import { readArtifactIdentity } from "../core/artifact.ts";
import { UsageError } from "../core/errors.ts";
import type { Alert } from "../core/stream/alerts.ts";
import type { EndReason } from "../core/stream/detector.ts";
import { type AlertSink, StreamEngine } from "../core/stream/engine.ts";
import { FileLineSource, type LineSource, StreamLineSource } from "../core/stream/line-sources.ts";
import { type RunSummary, StreamRun } from "../core/stream/run.ts";
import { type AlertFormat, FileSink, StreamSink } from "../core/stream/sinks.ts";
import { DIRECTORY_METADATA_FILE, disposeModel, loadSyscallModel, type SyscallModel } from "./model.ts";
import {
  procProgram,
  SYSCALL_SCHEDULE,
  type SyscallProcess,
  type SyscallRecord,
  SyscallScorer,
  SyscallStreamDetector,
  syscallLineParser,
} from "./stream.ts";

/**
 * `syscalls watch`: a running service (strace -f -p PID), a command started under strace, strace logs or stdin,
 * scored process by process as the syscalls arrive; an alert when a process's running score crosses the model's live
 * threshold, in the engine's alert format. strace runs with -f (children and threads), -ttt (event time) and its
 * output on a pipe read line by line.
 */
export const SYSCALL_RULE = "Process behaviour unlike its normal syscall profile";

export type SyscallWatchInput =
  | { kind: "pid"; pid: number }
  | { kind: "command"; argv: string[] }
  | { kind: "logs"; paths: string[] }
  | { kind: "stdin" }
  | { kind: "stream"; stream: Readable; name: string };

export interface SyscallWatchOptions {
  model: string;
  input: SyscallWatchInput;
  stdout?: NodeJS.WritableStream | null;
  alertsFile?: string;
  format?: AlertFormat;
  statsMs?: number;
  statsFormat?: "text" | "json";
  statsStream?: NodeJS.WritableStream;
  hostname?: string;
  /** strace's binary (default: strace on PATH). */
  strace?: string;
  onWarning?: (message: string) => void;
  /** Status lines: strace attached, the command started. */
  onInfo?: (message: string) => void;
  onAlert?: (alert: Alert) => void;
  onEnded?: (process: SyscallProcess, reason: EndReason) => void;
  handleSignals?: boolean;
}

export interface SyscallWatchResult {
  summary: RunSummary;
  model: SyscallModel;
}

export async function watchSyscalls(options: SyscallWatchOptions): Promise<SyscallWatchResult> {
  const model = await loadSyscallModel(options.model);
  try {
    const identity = {
      ...(await readArtifactIdentity(join(options.model, DIRECTORY_METADATA_FILE))),
      name: basename(resolve(options.model)),
    };
    const live = options.input.kind === "pid" || options.input.kind === "command";
    const detector = new SyscallStreamDetector(model, options.input.kind === "pid" ? procProgram : undefined);
    const sinks: AlertSink[] = [];
    const stdout = options.stdout === undefined ? process.stdout : options.stdout;
    if (stdout) sinks.push(new StreamSink(stdout, options.format ?? "json"));
    const fileSink = options.alertsFile ? new FileSink(options.alertsFile, "json") : null;
    if (fileSink) sinks.push(fileSink);
    const engine = new StreamEngine<SyscallRecord, SyscallProcess>(detector, {
      rule: SYSCALL_RULE,
      hostname: options.hostname,
      scorer: new SyscallScorer(model, identity),
      schedule: SYSCALL_SCHEDULE,
      sinks,
      onAlert: options.onAlert ? (a) => options.onAlert!(a) : undefined,
      onEnded: options.onEnded,
    });
    const tracer = live ? startStrace(options) : null;
    const sources = tracer ? [tracer.source] : sourcesFor(options.input);
    const run = new StreamRun({
      engine,
      sources,
      parser: syscallLineParser(detector, live ? "strace" : "auto"),
      independentSources: options.input.kind === "logs",
      statsMs: options.statsMs,
      statsFormat: options.statsFormat,
      statsStream: options.statsStream,
      onWarning: options.onWarning,
      handleSignals: options.handleSignals,
    });
    try {
      const summary = await run.run();
      return { summary, model };
    } finally {
      fileSink?.close();
      await tracer?.stop();
    }
  } catch (error) {
    disposeModel(model);
    throw error;
  }
}

function sourcesFor(input: SyscallWatchInput): LineSource[] {
  switch (input.kind) {
    case "logs":
      if (input.paths.length === 0)
        throw new UsageError("no input: give --pid PID, -- CMD..., strace logs or -");
      return input.paths.map((p) => new FileLineSource(p));
    case "stdin":
      return [new StreamLineSource(process.stdin, { name: "stdin" })];
    case "stream":
      return [new StreamLineSource(input.stream, { name: input.name })];
    default:
      throw new UsageError("internal: a live input needs strace");
  }
}

/** strace following a pid or a command, its trace on a pipe; stop() detaches (SIGINT) and waits for it. */
function startStrace(options: SyscallWatchOptions): { source: LineSource; stop: () => Promise<void> } {
  const input = options.input;
  const target =
    input.kind === "pid" ? ["-p", String(input.pid)] : input.kind === "command" ? ["--", ...input.argv] : [];
  // strace cannot open /dev/stdout when it is a socket (Node's pipes are): "-o |cat" pipes its output through cat,
  // which writes to the inherited descriptor. strace flushes each line, so the delay stays at milliseconds.
  const args = ["-f", "-ttt", "-o", "|cat", ...target];
  const child: ChildProcess = spawn(options.strace ?? "strace", args, {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let exited = false;
  const done = new Promise<void>((resolveDone) => {
    child.on("exit", () => {
      exited = true;
      resolveDone();
    });
    child.on("error", (error) => {
      exited = true;
      options.onWarning?.(`cannot run strace: ${error.message}`);
      resolveDone();
    });
  });
  let pending = "";
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (chunk: string) => {
    pending += chunk;
    for (let at = pending.indexOf("\n"); at >= 0; at = pending.indexOf("\n")) {
      const line = pending.slice(0, at);
      pending = pending.slice(at + 1);
      if (/^strace: Process \d+ (attached|detached)/.test(line)) options.onInfo?.(line);
      else if (line.trim() !== "") options.onWarning?.(line);
    }
  });
  const name =
    input.kind === "pid"
      ? `strace -p ${input.pid}`
      : `strace ${input.kind === "command" ? input.argv[0] : ""}`;
  return {
    source: new StreamLineSource(child.stdout!, { name }),
    stop: async () => {
      if (!exited) child.kill("SIGINT");
      await done;
    },
  };
}
