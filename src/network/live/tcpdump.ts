import { type ChildProcess, spawn } from "node:child_process";
import type { Readable } from "node:stream";
import { InputError, UsageError } from "../../core/errors.ts";
import { CaptureStreamSource } from "./sources.ts";

/**
 * A live interface through tcpdump, run as a child process: `tcpdump -i IF -w - -U --immediate-mode` writes every
 * packet to its stdout as it arrives (a well-kept capture tool instead of native bindings, which would need libpcap
 * headers at install time). Its counts of packets the kernel dropped — the only loss on this path: when threatlens
 * falls behind, the pipe fills, tcpdump waits, and the kernel's capture buffer overflows — are read from the statistics
 * it prints on SIGUSR1 and at exit.
 */
export interface LiveCaptureOptions {
  interface: string;
  /** A capture filter (tcpdump/BPF syntax), e.g. "not port 22". */
  filter?: string;
  /** Bytes kept per packet: headers are all the detector reads (sizes come from the IP header). */
  snaplen?: number;
  /** Kernel capture buffer (KiB): a bigger one rides out longer bursts before the kernel drops packets. */
  bufferKiB?: number;
  /** The tcpdump executable (default: found on PATH). */
  tcpdump?: string;
  /** A command tcpdump is run through, e.g. ["sudo", "-n"] or ["setpriv", "--reuid=…"]. */
  via?: string[];
}

export interface CaptureCounts {
  /** Packets tcpdump wrote. */
  captured: number;
  /** Packets the kernel dropped because its buffer was full (tcpdump "dropped by kernel"), plus the interface's. */
  dropped: number;
}

export const DEFAULT_SNAPLEN = 256;
const STATS =
  /^(?:tcpdump: )?(\d+) packets? captured, (\d+) packets? received by filter, (\d+) packets? dropped by kernel/;
const EXIT_LINE = /^(\d+) packets? (captured|received by filter|dropped by kernel|dropped by interface)$/;

/**
 * What tcpdump says on stderr, read line by line as it arrives in arbitrary chunks: "listening on …" once it
 * captures, a one-line summary after each SIGUSR1, the same counts one per line at exit, and anything else (errors,
 * warnings) kept as text. Kernel drops only grow, so the largest count seen is the one kept.
 */
export class TcpdumpStderr {
  captured = 0;
  droppedByKernel = 0;
  droppedByInterface = 0;
  listening = false;
  readonly errors: string[] = [];
  private rest = "";

  /** Feeds a chunk of stderr; `onListening` is called once tcpdump says it is listening. */
  write(chunk: string, onListening?: () => void): void {
    this.rest += chunk;
    let nl = this.rest.indexOf("\n");
    while (nl >= 0) {
      const line = this.rest.slice(0, nl).trim();
      this.rest = this.rest.slice(nl + 1);
      nl = this.rest.indexOf("\n");
      this.line(line);
      if (this.listening) onListening?.();
    }
  }

  line(line: string): void {
    if (line === "") return;
    if (line.startsWith("tcpdump: listening on")) {
      this.listening = true;
      return;
    }
    const stats = STATS.exec(line);
    if (stats) {
      this.captured = Math.max(this.captured, Number(stats[1]));
      this.droppedByKernel = Math.max(this.droppedByKernel, Number(stats[3]));
      return;
    }
    const m = EXIT_LINE.exec(line);
    if (m) {
      const n = Number(m[1]);
      if (m[2] === "captured") this.captured = Math.max(this.captured, n);
      else if (m[2] === "dropped by kernel") this.droppedByKernel = Math.max(this.droppedByKernel, n);
      else if (m[2] === "dropped by interface")
        this.droppedByInterface = Math.max(this.droppedByInterface, n);
      return;
    }
    this.errors.push(line);
  }

  counts(): CaptureCounts {
    return { captured: this.captured, dropped: this.droppedByKernel + this.droppedByInterface };
  }
}

export class LiveCapture {
  /** tcpdump's stdout: the capture as it is written (read it through `source`, or hand it to another reader). */
  readonly output: Readable;
  /** A name that says where the packets come from. */
  readonly name: string;
  private packetSource: CaptureStreamSource | null = null;
  /** Resolves once tcpdump is listening; rejects if it fails to start. */
  readonly ready: Promise<void>;
  /** Resolves when tcpdump has exited, with its final counts. */
  readonly done: Promise<CaptureCounts>;
  private readonly child: ChildProcess;
  private readonly stderr = new TcpdumpStderr();
  private stopping = false;

  constructor(private readonly options: LiveCaptureOptions) {
    const args = [
      "-i",
      options.interface,
      "-w",
      "-",
      "-U",
      "-n",
      "--immediate-mode",
      "-s",
      String(options.snaplen ?? DEFAULT_SNAPLEN),
      "-B",
      String(options.bufferKiB ?? 8192),
    ];
    if (options.filter) args.push(options.filter);
    const command = [...(options.via ?? []), options.tcpdump ?? "tcpdump", ...args];
    const child = spawn(command[0], command.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
    this.child = child;
    this.output = child.stdout!;
    this.name = `tcpdump -i ${options.interface}`;
    let listening: () => void = () => {};
    let failed: (e: Error) => void = () => {};
    this.ready = new Promise<void>((resolve, reject) => {
      listening = resolve;
      failed = reject;
    });
    this.ready.catch(() => {}); // observed through `done` as well
    child.stderr!.setEncoding("utf8");
    child.stderr!.on("data", (chunk: string) => this.stderr.write(chunk, listening));
    this.done = new Promise<CaptureCounts>((resolve, reject) => {
      child.once("error", (error: NodeJS.ErrnoException) => {
        const e =
          error.code === "ENOENT"
            ? new UsageError(
                `tcpdump is not installed (or not on PATH): install it (Debian: apt-get install tcpdump) to watch a live interface, or give a capture file`,
              )
            : new InputError(`cannot start tcpdump: ${error.message}`, { file: options.interface });
        failed(e);
        reject(e);
      });
      child.once("close", (code, signal) => {
        if (this.stopping || code === 0 || signal === "SIGINT" || signal === "SIGTERM") {
          listening(); // a stop before tcpdump said it was listening
          resolve(this.stderr.counts());
          return;
        }
        const detail = this.stderr.errors.join("; ") || `exit code ${code ?? signal}`;
        const e = new InputError(
          /permission|not permitted/i.test(detail)
            ? `tcpdump may not capture on ${options.interface} (${detail}): run as root or give tcpdump CAP_NET_RAW`
            : `tcpdump failed on interface ${options.interface}: ${detail}`,
          { file: options.interface },
        );
        failed(e);
        reject(e);
      });
    });
    this.done.catch(() => {});
  }

  /** Resolves once tcpdump listens; throws why it could not start (no tcpdump, no permission, no such interface). */
  async started(): Promise<void> {
    const failed = this.done.then(
      () => null,
      (e: Error) => e,
    );
    const outcome = await Promise.race([this.ready.then(() => null), failed]);
    if (outcome instanceof Error) throw outcome;
  }

  /** The capture's packets for the streaming engine (made on first use: the stream has one reader). */
  get source(): CaptureStreamSource {
    this.packetSource ??= new CaptureStreamSource(this.name, this.output);
    return this.packetSource;
  }

  /** The latest counts tcpdump reported (ask for fresh ones with `refresh`). */
  stats(): CaptureCounts {
    return this.stderr.counts();
  }

  /** Asks tcpdump for its statistics (SIGUSR1; it prints them on stderr and goes on capturing). */
  refresh(): void {
    // Before tcpdump installs its handler, SIGUSR1 would kill it: only once it said it is listening.
    if (this.stderr.listening && this.child.exitCode === null && !this.stopping) this.child.kill("SIGUSR1");
  }

  /** Stops tcpdump; what it captured is still read to the end. Resolves with its final counts. */
  stop(): Promise<CaptureCounts> {
    if (!this.stopping && this.child.exitCode === null) {
      this.stopping = true;
      this.child.kill("SIGINT");
    }
    return this.done;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get warnings(): string[] {
    return this.stderr.errors.splice(0);
  }

  get interfaceName(): string {
    return this.options.interface;
  }
}
