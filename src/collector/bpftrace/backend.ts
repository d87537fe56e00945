import { type ChildProcessByStdio, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import type { Readable, Writable } from "node:stream";
import { UsageError } from "../../core/errors.ts";
import { parseSyscallTableTsv, type SyscallTable, syscallTablePath } from "../../syscalls/tables.ts";
import { type CommandExit, checkCommand, commandEnv, GatedCommand } from "../command.ts";
import {
  CollectorError,
  checkLibraries,
  ensureTracefs,
  findLibcrypto,
  onlineCpus,
  requireRoot,
  requireTool,
} from "../environment.ts";
import { FileEventType, OPS, openType, opWithResult } from "../events.ts";
import type { FileFormat, SyscallFormat } from "../format.ts";
import { CollectorRun } from "../run.ts";
import { cgroupIds, describeScope, processId, processTree, validateComm } from "../scope.ts";
import { ThreadNames } from "../threads.ts";
import type { Collector, CollectorOptions, CollectorStats, CollectorSummary } from "../types.ts";
import { decodeBpftraceLine, JsonLineError } from "./json-lines.ts";
import { type BpftraceRecord, parseRecord, RecordError, type TaskRecord } from "./records.ts";
import { type KernelScope, renderScript } from "./script.ts";
import { TickOrder } from "./tick-order.ts";

const PING_MS = 20;
/** How long to wait for every CPU to tick past a stop before ending bpftrace anyway. */
const DRAIN_TIMEOUT_MS = 3000;
/** How long bpftrace may take to exit after SIGINT before it is killed. */
const EXIT_TIMEOUT_MS = 10_000;
/** How long bpftrace may take to compile and attach before the start is declared failed. */
const START_TIMEOUT_MS = 120_000;
/** Entries per bpftrace map (the process tree, exclusions, cgroups); hash maps are preallocated (~80 B each). */
const MAP_KEYS = 32768;
/** bpftrace's harmless complaint on kernels that account BPF memory to cgroups. */
const MEMLOCK_WARNING = /couldn't set RLIMIT_MEMLOCK/;

/** The eBPF collector: the shipped bpftrace script (data/collector/) run as `bpftrace -f json -k -`. */
export class BpftraceCollector extends CollectorRun implements Collector {
  private readonly child: ChildProcessByStdio<Writable, Readable, Readable>;
  private readonly command: GatedCommand | null = null;
  private readonly names = new ThreadNames();
  private readonly syscallTable: SyscallTable | null = null;
  private readonly libcrypto: string[] = [];
  private readonly treeRoot: number | null = null;
  private readonly seeded = new Set<number>();
  private readonly cpus: number[];
  private readonly order: TickOrder<TaskRecord>;
  private stopTs: string | null = null;
  private lostReported = 0;
  private kernelRecords: number | null = null;
  private helperErrors = 0;
  private carry = "";
  private readonly stderrTail: string[] = [];
  private stderrCarry = "";
  private pinger: NodeJS.Timeout | null = null;
  private drainTimer: NodeJS.Timeout | null = null;
  private commandExit: CommandExit | undefined;

  /** Throws CollectorError (environment) or UsageError (scope) when the collector cannot start. */
  constructor(options: CollectorOptions) {
    const mode = options.syscalls ? "syscalls" : "files";
    const scope = options.scope ?? { kind: "host" };
    const format = options.format ?? (mode === "files" ? "extended" : "csv");
    super(
      "bpftrace",
      mode,
      format as FileFormat | SyscallFormat,
      describeScope(scope),
      options.maxBufferedBytes ?? 64 << 20,
    );
    const pages = options.perfRingPages ?? 1024;
    if (!Number.isInteger(pages) || pages < 1 || (pages & (pages - 1)) !== 0) {
      throw new UsageError(`perf ring pages must be a power of 2, got ${pages}`);
    }
    // Usage errors first (they do not depend on the host), then the environment, and only then a process started.
    let kernelScope: KernelScope | null = null;
    switch (scope.kind) {
      case "host":
        kernelScope = { kind: "host" };
        break;
      case "pid": {
        const root = processId(scope.pid);
        this.treeRoot = root;
        for (const pid of processTree(root)) this.seeded.add(pid);
        kernelScope = { kind: "tree", pids: [...this.seeded] };
        break;
      }
      case "cgroup":
        kernelScope = { kind: "cgroup", ids: cgroupIds(scope.path).ids };
        break;
      case "comm":
        kernelScope = { kind: "comm", name: validateComm(scope.name) };
        break;
      case "command":
        break;
    }
    const env = scope.kind === "command" ? commandEnv(scope.env, options.path) : process.env;
    if (scope.kind === "command") checkCommand(scope.argv, env);
    requireRoot("the bpftrace collector");
    const bpftrace = requireTool(
      "bpftrace",
      options.path,
      "install it (apt-get install bpftrace), or use --backend strace",
    );
    ensureTracefs(options.tracefs);
    if (mode === "files") {
      this.libcrypto = [...new Set([...findLibcrypto(), ...checkLibraries(options.libcrypto ?? [])])];
    } else {
      const file = syscallTablePath("x86_64");
      this.syscallTable = parseSyscallTableTsv(readFileSync(file, "utf8"), "x86_64", file);
    }
    this.cpus = onlineCpus();
    this.order = new TickOrder(this.cpus, (r) => this.process(r));
    if (scope.kind === "command") {
      this.command = new GatedCommand(scope.argv, { cwd: scope.cwd, stdio: scope.stdio, env });
      this.seeded.add(this.command.pid);
      kernelScope = { kind: "tree", pids: [this.command.pid] };
    }
    // Names of the tree's existing threads, read before they can exec (later ones come from fork/exec records).
    for (const pid of this.seeded) this.names.learnProcess(pid);
    const script = renderScript({
      mode,
      collectorPid: process.pid,
      scope: kernelScope!,
      excludePids: options.excludePids ?? [],
      libcrypto: this.libcrypto,
    });

    // Its own process group: a Ctrl-C on the terminal reaches the collector, which then drains bpftrace in order,
    // rather than bpftrace, which would drop what its rings still hold.
    this.child = spawn(bpftrace, ["-f", "json", "-k", "-"], {
      detached: true,
      stdio: ["pipe", "pipe", "pipe"],
      env: {
        ...process.env,
        BPFTRACE_PERF_RB_PAGES: String(pages),
        BPFTRACE_MAP_KEYS_MAX: String(MAP_KEYS),
        BPFTRACE_STRLEN: "64",
      },
    });
    this.flowControl(
      () => this.child.stdout.pause(),
      () => this.child.stdout.resume(),
    );
    this.child.stdin.on("error", () => {});
    this.child.stdin.end(script);
    this.child.stdout.setEncoding("latin1");
    this.child.stdout.on("data", (chunk: string) => this.onStdout(chunk));
    this.child.stderr.setEncoding("utf8");
    this.child.stderr.on("data", (chunk: string) => this.onStderr(chunk));
    this.child.once("error", (error) =>
      this.fail(new CollectorError(`cannot run bpftrace: ${error.message}`)),
    );
    this.child.once("close", (code, signal) => this.onClose(code, signal));
    this.pinger = setInterval(() => this.ping(), PING_MS);
    const startTimeout = setTimeout(() => {
      if (this.state === "starting") {
        this.fail(
          new CollectorError(`bpftrace did not attach its probes within ${START_TIMEOUT_MS / 1000} s`),
        );
      }
    }, START_TIMEOUT_MS);
    startTimeout.unref();
    this.ready.then(
      () => clearTimeout(startTimeout),
      () => clearTimeout(startTimeout),
    );
    this.command?.exited.then(
      (exit) => {
        this.commandExit = exit;
        void this.stop();
      },
      (error: Error) => this.fail(error),
    );
  }

  protected get tracerPid(): number | undefined {
    return this.child.pid;
  }

  get commandPid(): number | undefined {
    return this.command?.pid;
  }

  override stats(): CollectorStats {
    return {
      ...this.baseStats(),
      lost: this.kernelRecords === null ? this.lostReported : Math.max(0, this.kernelRecords - this.received),
      lostReported: this.lostReported,
      kernelRecords: this.kernelRecords,
      helperErrors: this.helperErrors,
      outOfOrder: this.order.late,
      libcrypto: [...this.libcrypto],
    };
  }

  stop(): Promise<CollectorSummary> {
    if (this.state === "starting") {
      this.state = "stopping";
      this.command?.abort();
      this.startAborted(new CollectorError("the collector was stopped before its probes were attached"));
      this.child.kill("SIGTERM");
    } else if (this.state === "running") {
      this.state = "stopping";
      // From now on nothing pauses bpftrace, so that its drain markers get through.
      this.child.stdout.resume();
      this.signalKernel(-this.child.pid!);
      this.drainTimer = setTimeout(() => {
        this.warnings.push(`not every CPU confirmed the stop within ${DRAIN_TIMEOUT_MS} ms`);
        this.endTracer();
      }, DRAIN_TIMEOUT_MS);
    }
    return this.done;
  }

  private ping(): void {
    if (this.state === "starting") this.signalKernel(-process.pid);
    else if (this.pinger !== null) {
      clearInterval(this.pinger);
      this.pinger = null;
    }
  }

  /** A message to the script's control probe: signal 0 to a negative pid (a process group) delivers nothing. */
  private signalKernel(target: number): void {
    try {
      process.kill(target, 0);
    } catch {
      // ESRCH (no such process group) is the usual answer.
    }
  }

  private onStdout(chunk: string): void {
    const text = this.carry + chunk;
    let start = 0;
    for (;;) {
      const newline = text.indexOf("\n", start);
      if (newline < 0) break;
      if (newline > start) this.onLine(text.slice(start, newline));
      start = newline + 1;
    }
    this.carry = text.slice(start);
    this.order.flush();
    this.writer.flush();
    if (this.stopTs !== null && this.state === "stopping" && this.order.passed(this.stopTs)) this.endTracer();
  }

  private onLine(line: string): void {
    try {
      const message = decodeBpftraceLine(line);
      if (message.kind === "printf") {
        const text = message.text.endsWith("\n") ? message.text.slice(0, -1) : message.text;
        this.onRecord(parseRecord(text));
      } else if (message.kind === "lost") {
        this.lostReported += message.events;
      } else if (message.kind === "map" && message.name === "@records") {
        // Printed by every tick once stopping and by END, then again (0, cleared) as bpftrace exits.
        this.kernelRecords = Math.max(this.kernelRecords ?? 0, message.value);
      }
    } catch (error) {
      if (!(error instanceof JsonLineError || error instanceof RecordError)) throw error;
      this.malformedLine(`unreadable bpftrace output: ${error.message}`);
    }
  }

  private onRecord(r: BpftraceRecord): void {
    switch (r.kind) {
      case "tick":
        this.order.tick(r.cpu, r.ts);
        return;
      case "pong":
        if (this.state === "starting") this.onAttached();
        return;
      case "stopping":
        this.stopTs = r.ts;
        return;
      case "begin":
      case "added":
        return;
      default:
        this.received++;
        this.order.add(r);
    }
  }

  /** A task record, in time order. */
  private process(r: TaskRecord): void {
    switch (r.kind) {
      case "file": {
        const op = OPS[r.op];
        if (op === undefined) throw new RecordError(`unknown file operation ${r.op}`);
        this.writer.file({
          ts: r.ts,
          pid: r.pid,
          tid: r.tid,
          ppid: r.ppid,
          uid: r.uid,
          type: r.op <= 2 ? openType(Number(r.flags)) : op.type,
          op: opWithResult(op.name, r.result),
          flags: r.flags,
          filename: op.literalName ?? r.filename,
          comm: this.names.get(r.tid, r.pid),
        });
        return;
      }
      case "syscall":
        this.writer.syscall({
          ts: r.ts,
          pid: r.pid,
          tid: r.tid,
          syscall: this.syscallTable?.name(r.number) ?? `syscall_${r.number}`,
          comm: this.names.get(r.tid, r.pid),
        });
        return;
      case "fork":
        this.names.set(r.childTid, r.comm);
        return;
      case "name":
        this.names.set(r.tid, r.comm);
        return;
      case "exec":
        this.writer.file({
          ts: r.ts,
          pid: r.pid,
          tid: r.tid,
          ppid: r.ppid,
          uid: r.uid,
          type: FileEventType.Exec,
          op: "exec",
          flags: "0",
          filename: r.filename,
          comm: this.names.get(r.tid, r.pid),
        });
        return;
      case "exit":
        if (r.groupDead) {
          this.writer.file({
            ts: r.ts,
            pid: r.pid,
            tid: r.tid,
            ppid: 0,
            uid: 0,
            type: FileEventType.Exit,
            op: "exit",
            flags: "0",
            filename: "",
            comm: this.names.get(r.tid, r.pid),
          });
        }
        this.names.delete(r.tid);
        return;
    }
  }

  private onAttached(): void {
    if (this.treeRoot !== null) {
      // Processes forked between the /proc scan and the attach were not seeded: add them now.
      for (const pid of processTree(this.treeRoot)) if (!this.seeded.has(pid)) this.signalKernel(-pid);
    }
    this.command?.open();
    this.attached();
  }

  private endTracer(): void {
    if (this.drainTimer !== null) {
      clearTimeout(this.drainTimer);
      this.drainTimer = null;
    }
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill("SIGINT");
    const killer = setTimeout(() => {
      this.warnings.push(`bpftrace did not exit within ${EXIT_TIMEOUT_MS / 1000} s of SIGINT and was killed`);
      this.child.kill("SIGKILL");
    }, EXIT_TIMEOUT_MS);
    killer.unref();
    this.child.once("exit", () => clearTimeout(killer));
  }

  private onStderr(chunk: string): void {
    const lines = (this.stderrCarry + chunk).split("\n");
    this.stderrCarry = lines.pop() ?? "";
    for (const line of lines) {
      if (line.trim() === "" || MEMLOCK_WARNING.test(line)) continue;
      if (/WARNING: Failed to /.test(line)) this.helperErrors++;
      this.stderrTail.push(line);
      if (this.stderrTail.length > 20) this.stderrTail.shift();
    }
  }

  private fail(error: Error): void {
    if (this.failure !== null || this.state === "ended") return;
    this.failed(error);
    this.command?.abort();
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGKILL");
  }

  private onClose(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.carry !== "") this.onLine(this.carry);
    this.carry = "";
    this.order.flushAll();
    if (this.pinger !== null) clearInterval(this.pinger);
    if (this.drainTimer !== null) clearTimeout(this.drainTimer);
    if (this.failure === null && this.state !== "stopping") {
      const detail = this.stderrTail.slice(-3).join(" | ");
      const how = signal !== null ? `was killed by ${signal}` : `exited with status ${code}`;
      this.fail(new CollectorError(`bpftrace ${how}${detail ? `: ${detail}` : ""}`));
    }
    if (this.failure === null && this.kernelRecords === null) {
      this.warnings.push("bpftrace did not report its count of emitted records: losses may be undercounted");
    }
    if (this.command === null || this.failure !== null) this.finished();
    else
      this.command.exited.then(
        (exit) => this.finished(exit),
        () => this.finished(this.commandExit),
      );
  }
}
