import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import {
  closeSync,
  constants,
  createReadStream,
  mkdtempSync,
  openSync,
  type ReadStream,
  rmSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { UsageError } from "../../core/errors.ts";
import { type CommandExit, checkCommand, commandEnv } from "../command.ts";
import { CollectorError, requireTool } from "../environment.ts";
import type { FileFormat, SyscallFormat } from "../format.ts";
import { CollectorRun } from "../run.ts";
import { describeScope, processId } from "../scope.ts";
import type { Collector, CollectorOptions, CollectorSummary } from "../types.ts";
import { STRACE_FILE_CALLS, StraceConverter } from "./convert.ts";
import { parseStraceLine, StraceLineError } from "./parse.ts";

/**
 * The ptrace collector, for hosts without eBPF: `strace -f` on a process tree (`-p PID`) or on a command it
 * starts. Its trace goes through a FIFO, so that a started command keeps the collector's stdout and stderr.
 * Nothing is lost (ptrace stops the tracee instead), but tracing is slow, and libcrypto calls are invisible.
 */
export class StraceCollector extends CollectorRun implements Collector {
  private readonly child: ChildProcess;
  private readonly fifo: string;
  private readonly dir: string;
  private readonly trace: ReadStream;
  private readonly converter: StraceConverter | null;
  private readonly root: number | null = null;
  private readonly isCommand: boolean;
  private carry = "";
  private firstTid: number | undefined;
  private traceEnded = false;
  private exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  private readonly stderrTail: string[] = [];
  private stderrCarry = "";

  constructor(options: CollectorOptions) {
    const mode = options.syscalls ? "syscalls" : "files";
    const scope = options.scope ?? { kind: "host" };
    const format = options.format ?? (mode === "files" ? "extended" : "strace");
    super(
      "strace",
      mode,
      format as FileFormat | SyscallFormat,
      describeScope(scope),
      options.maxBufferedBytes ?? 64 << 20,
      mode === "syscalls" && format === "strace",
    );
    const passthrough = mode === "syscalls" && format === "strace";
    const args = ["-f", "-o", ""];
    if (passthrough) args.push("-ttt");
    else args.push("-xx", "-X", "raw", "-s", "63", "--absolute-timestamps=unix,ns");
    if (mode === "files") args.push("-e", `trace=${STRACE_FILE_CALLS.join(",")}`, "-e", "signal=none");
    let spawnEnv = process.env;
    let stdio: ("inherit" | "ignore" | number)[] = ["inherit", "inherit", "inherit"];
    let cwd: string | undefined;
    if (scope.kind === "pid") {
      this.root = processId(scope.pid);
      this.isCommand = false;
      args.push("-p", String(this.root));
    } else if (scope.kind === "command") {
      spawnEnv = commandEnv(scope.env, options.path);
      checkCommand(scope.argv, spawnEnv);
      this.isCommand = true;
      stdio = [...(scope.stdio ?? stdio)];
      cwd = scope.cwd;
      // Stops the command only on traced calls: much less overhead than stopping on every call.
      if (mode === "files") args.push("--seccomp-bpf");
      args.push("--", ...scope.argv);
    } else {
      throw new UsageError("--backend strace traces a process tree: give --pid PID or -- COMMAND");
    }
    const strace = requireTool("strace", options.path, "install it (apt-get install strace)");
    this.dir = mkdtempSync(join(tmpdir(), "threatlens-strace-"));
    this.fifo = join(this.dir, "trace");
    const made = spawnSync("mkfifo", ["-m", "600", this.fifo]);
    if (made.status !== 0) {
      rmSync(this.dir, { recursive: true, force: true });
      throw new CollectorError(`cannot create a FIFO for strace in ${this.dir}`);
    }
    args[2] = this.fifo;

    const realtimeNs = BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6));
    const monotonicNs = process.hrtime.bigint();
    this.converter = passthrough ? null : new StraceConverter(this.writer, mode, realtimeNs - monotonicNs);

    this.trace = createReadStream(this.fifo, { encoding: "latin1", highWaterMark: 1 << 16 });
    this.trace.on("data", (chunk) => this.onTrace(chunk as string));
    this.trace.on("end", () => {
      this.traceEnded = true;
      this.maybeFinish();
    });
    this.trace.on("error", (error) =>
      this.failed(new CollectorError(`reading strace's output: ${error.message}`)),
    );
    this.flowControl(
      () => this.trace.pause(),
      () => this.trace.resume(),
    );

    // A started command shares strace's stderr (its own messages then reach that stream directly); with -p the
    // collector reads it, to see the attach confirmed.
    this.child = spawn(strace, args, {
      env: spawnEnv,
      cwd,
      stdio: [stdio[0], stdio[1], this.isCommand ? stdio[2] : "pipe"],
    });
    this.child.stderr?.setEncoding("utf8");
    this.child.stderr?.on("data", (chunk: string) => this.onStderr(chunk));
    this.child.once("error", (error) =>
      this.failed(new CollectorError(`cannot run strace: ${error.message}`)),
    );
    this.child.once("spawn", () => {
      // A started command is traced from its first instruction; an attach is confirmed on stderr.
      if (this.isCommand) this.attached();
    });
    this.child.once("close", (code, signal) => {
      this.exit = { code, signal };
      this.unblockFifo();
      this.maybeFinish();
    });
  }

  /** The started command's process id, once its first traced call has been read. */
  protected get tracerPid(): number | undefined {
    return this.child.pid;
  }

  get commandPid(): number | undefined {
    return this.firstTid;
  }

  stop(): Promise<CollectorSummary> {
    if (this.state === "starting" || this.state === "running") {
      this.state = "stopping";
      this.trace.resume();
      // strace detaches from its tracees on SIGINT and flushes what it has written.
      if (this.exit === null) this.child.kill("SIGINT");
    }
    return this.done;
  }

  private onTrace(chunk: string): void {
    const text = this.carry + chunk;
    let start = 0;
    for (;;) {
      const newline = text.indexOf("\n", start);
      if (newline < 0) break;
      this.onLine(text.slice(start, newline));
      start = newline + 1;
    }
    this.carry = text.slice(start);
    this.writer.flush();
  }

  private onLine(line: string): void {
    if (line === "") return;
    this.received++;
    if (this.firstTid === undefined && this.isCommand)
      this.firstTid = Number(/^\d+/.exec(line)?.[0]) || undefined;
    if (this.converter === null) {
      this.writer.raw(`${line}\n`);
      return;
    }
    try {
      this.converter.line(parseStraceLine(line));
    } catch (error) {
      if (!(error instanceof StraceLineError)) throw error;
      this.malformedLine(`unreadable strace line: ${error.message}`);
    }
  }

  private onStderr(chunk: string): void {
    const lines = (this.stderrCarry + chunk).split("\n");
    this.stderrCarry = lines.pop() ?? "";
    for (const line of lines) {
      if (line.trim() === "") continue;
      // strace names itself by its argv[0], the resolved path here.
      const attached = /^(?:\S*\/)?strace: Process (\d+) attached/.exec(line);
      if (attached !== null) {
        if (Number(attached[1]) === this.root) this.attached();
        continue;
      }
      if (/^(?:\S*\/)?strace: Process \d+ detached/.test(line)) continue;
      this.stderrTail.push(line);
      if (this.stderrTail.length > 20) this.stderrTail.shift();
    }
  }

  /** strace may exit before opening the FIFO: open it for writing once so that the reader sees its end. */
  private unblockFifo(): void {
    try {
      closeSync(openSync(this.fifo, constants.O_WRONLY | constants.O_NONBLOCK));
    } catch {
      // ENXIO: no reader waiting, the stream has opened (and will end) already.
    }
  }

  private maybeFinish(): void {
    if (this.exit === null || !this.traceEnded || this.state === "ended") return;
    if (this.carry !== "") this.onLine(this.carry);
    this.carry = "";
    rmSync(this.dir, { recursive: true, force: true });
    const { code, signal } = this.exit;
    let command: CommandExit | undefined;
    if (this.isCommand) {
      // strace exits with its command's status (and dies of its signal).
      command = { exitCode: code, signal };
      if (this.state === "starting") this.failed(this.error(code, signal));
    } else if (this.state === "starting") {
      this.failed(this.error(code, signal));
    } else if (code !== 0 && this.state !== "stopping") {
      this.warnings.push(this.error(code, signal).message);
    }
    this.finished(command);
  }

  private error(code: number | null, signal: NodeJS.Signals | null): CollectorError {
    const detail = this.stderrTail.slice(-3).join(" | ");
    const how = signal !== null ? `was killed by ${signal}` : `exited with status ${code}`;
    return new CollectorError(`strace ${how}${detail ? `: ${detail}` : ""}`);
  }
}
