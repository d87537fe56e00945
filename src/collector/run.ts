import type { CommandExit } from "./command.ts";
import type { FileFormat, SyscallFormat } from "./format.ts";
import { CollectorOutput } from "./output-stream.ts";
import type { Backend, CollectorStats, CollectorSummary } from "./types.ts";
import { EventWriter } from "./writer.ts";

export type RunState = "starting" | "running" | "stopping" | "ended";

/**
 * What both backends share: the output stream and its writer, the ready/done promises, the run's state and the
 * counters every summary reports. A backend feeds `writer`, calls `attached()` once tracing has begun and
 * `finished()` (or `failed()`) when its tracer is gone.
 */
export abstract class CollectorRun {
  readonly output: CollectorOutput;
  readonly ready: Promise<void>;
  readonly done: Promise<CollectorSummary>;
  protected readonly writer: EventWriter;
  protected readonly warnings: string[] = [];
  protected state: RunState = "starting";
  protected received = 0;
  protected malformed = 0;
  protected failure: Error | null = null;
  private readonly startedAt = Date.now();
  private endedAt = 0;
  private resolveReady!: () => void;
  private rejectReady!: (error: Error) => void;
  private resolveDone!: (summary: CollectorSummary) => void;
  private rejectDone!: (error: Error) => void;
  /** Set by a backend while its source is paused for a slow reader. */
  private pauseSource: (() => void) | null = null;

  protected constructor(
    readonly backend: Backend,
    readonly mode: "files" | "syscalls",
    readonly format: FileFormat | SyscallFormat,
    readonly scopeText: string,
    maxBufferedBytes: number,
    /** The output is the tracer's own text (strace -f passthrough), without a CSV header. */
    passthrough = false,
  ) {
    this.output = new CollectorOutput(maxBufferedBytes);
    this.writer = new EventWriter(
      (chunk) => {
        // Only while running: starting needs the tracer's answer to get through, stopping its last ticks.
        if (!this.output.write(chunk) && this.state === "running") this.pauseSource?.();
      },
      passthrough ? "raw" : mode === "syscalls" ? "syscalls" : (format as FileFormat),
    );
    this.ready = new Promise((resolve, reject) => {
      this.resolveReady = resolve;
      this.rejectReady = reject;
    });
    this.done = new Promise((resolve, reject) => {
      this.resolveDone = resolve;
      this.rejectDone = reject;
    });
    // Callers may await only one of the two: a failure must not become an unhandled rejection.
    this.ready.catch(() => {});
    this.done.catch(() => {});
  }

  abstract get commandPid(): number | undefined;
  protected abstract get tracerPid(): number | undefined;
  abstract stop(): Promise<CollectorSummary>;

  /** How the backend pauses and resumes its source when the reader is slow. */
  protected flowControl(pause: () => void, resume: () => void): void {
    this.pauseSource = () => {
      pause();
      this.output.onDemand(resume);
    };
  }

  protected attached(): void {
    if (this.state !== "starting") return;
    this.state = "running";
    this.resolveReady();
  }

  /** The start did not complete (stopped early or failed). */
  protected startAborted(error: Error): void {
    this.rejectReady(error);
  }

  protected failed(error: Error): void {
    if (this.failure !== null || this.state === "ended") return;
    this.failure = error;
    this.rejectReady(error);
  }

  /** The tracer is gone and its output read to the end: complete the output and settle `done`. */
  protected finished(command?: CommandExit): void {
    if (this.state === "ended") return;
    this.writer.flush();
    this.state = "ended";
    this.endedAt = Date.now();
    this.output.finish();
    if (this.failure !== null) {
      this.rejectDone(this.failure);
      return;
    }
    this.resolveDone({ ...this.stats(), durationMs: this.endedAt - this.startedAt, command });
  }

  protected baseStats(): CollectorStats {
    const end = this.state === "ended" ? this.endedAt : Date.now();
    return {
      backend: this.backend,
      mode: this.mode,
      format: this.format,
      scope: this.scopeText,
      running: this.state === "running",
      tracerPid: this.tracerPid,
      elapsedMs: end - this.startedAt,
      events: this.writer.rows,
      byType: { ...this.writer.counts },
      records: this.received,
      lost: 0,
      lostReported: 0,
      kernelRecords: null,
      helperErrors: 0,
      outOfOrder: 0,
      malformed: this.malformed,
      emptyPaths: this.writer.emptyPaths,
      bytes: this.writer.bytes,
      libcrypto: [],
      warnings: [...this.warnings],
    };
  }

  stats(): CollectorStats {
    return this.baseStats();
  }

  /** Counts an unparseable tracer line; the first few go to the warnings. */
  protected malformedLine(message: string): void {
    this.malformed++;
    if (this.malformed <= 3) this.warnings.push(message);
  }
}
