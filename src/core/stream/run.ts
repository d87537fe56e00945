import { InputError } from "../errors.ts";
import type { Entity } from "./detector.ts";
import type { StreamEngine } from "./engine.ts";
import type { FilePosition, LineSource } from "./line-sources.ts";
import type { StateDirectory } from "./state.ts";
import { formatStatsLine, StatsReporter, type StatsSnapshot } from "./stats.ts";

/**
 * Runs sources through the engine: parses lines into records, counts what cannot be parsed, checkpoints at chunk
 * boundaries, prints the stats line, and stops cleanly on a signal. `watch` commands and the batch commands that read
 * logs all go through here, so a log replayed and the same log followed live take the same path.
 */

/** A malformed record: the line is skipped and counted (or, when strict, the run stops with its location). */
export class RecordError extends Error {}

/**
 * A source that hands out records itself instead of lines to parse: binary inputs such as packet captures, whose
 * framing is not lines. Same life cycle as a LineSource (run, stop, position for checkpoints, behind for the stats
 * line); records it had to drop (overload, corrupt input) are counted in `stats.droppedRecords`.
 */
export interface RecordSource<R> {
  readonly kind: "records";
  readonly name: string;
  readonly stats: { bytes: number; droppedRecords: number };
  /** Hands every record to `onRecord` (the object may be reused for the next one) and calls `onChunk` between
   * chunks; when `onChunk` returns a promise, nothing more is read until it settles (back-pressure, as for line
   * sources). Resolves at the end of input, or once `stop` was called. */
  run(onRecord: (record: R) => void, onChunk?: () => void | Promise<void>): Promise<void>;
  stop(): void;
  position(): FilePosition | null;
  resume?(position: FilePosition): void;
  behind(): number;
  notices: string[];
}

function isRecordSource<R>(source: LineSource | RecordSource<R>): source is RecordSource<R> {
  return (source as RecordSource<R>).kind === "records";
}

/** Turns one source's lines into records. */
export interface LineParser<R> {
  /** The line's record (often one reused object), or null for lines that carry none (a header, a blank line). */
  parse(bytes: Uint8Array, start: number, end: number, line: number): R | null;
  /** The source ended: throw if what was read is not a valid input (e.g. no header). */
  finish?(): void;
}

export interface RunOptions<R, E extends Entity> {
  engine: StreamEngine<R, E>;
  /** Read in order; each line source gets a fresh parser (a header per file). */
  sources: (LineSource | RecordSource<R>)[];
  /** Needed when a source is a LineSource. */
  parser?: (source: LineSource) => LineParser<R>;
  /** Stop at the first malformed line instead of skipping and counting it. */
  strict?: boolean;
  /** Appended to the error that stops a strict run (e.g. how to skip such lines instead). */
  strictHint?: string;
  /** Called after each chunk of input (progress bars). */
  onChunk?: (sourceIndex: number, source: LineSource | RecordSource<R>) => void;
  /** Checkpoints go here; a run with the same directory resumes from the last one. */
  state?: StateDirectory;
  /** Identifies detector and model in the checkpoint: a checkpoint is only resumed by its owner. */
  owner?: string;
  checkpointMs?: number;
  /** End every entity when the input ends (batch and `LOG...`); live runs stopped by a signal keep them in the
   * checkpoint instead. */
  drainAtEnd?: boolean;
  /** End every entity at the end of each source: the sources are independent recordings (one log per run). */
  independentSources?: boolean;
  /** Stats line on stderr every so many ms (0: none). */
  statsMs?: number;
  statsStream?: NodeJS.WritableStream;
  statsFormat?: "text" | "json";
  /**
   * How far behind the events the detector is, in ms, when the source runs on this host's clock: measured after each
   * chunk of input (the delay of its newest event), so a quiet input does not look like a late detector.
   */
  lagMs?: () => number | null;
  /** Detector-specific gauges for the stats line and the summary (e.g. a network watch's active flows). */
  statsExtra?: () => Record<string, number>;
  /** What the records are called on the stats line (default "events"). */
  recordNoun?: string;
  /** Warnings (skipped lines, rotations), each once. */
  onWarning?: (message: string) => void;
  /** Stop on SIGINT/SIGTERM (the command line); library callers stop through the returned handle. */
  handleSignals?: boolean;
}

export interface RunSummary extends StatsSnapshot {
  skippedLines: number;
  skippedExamples: string[];
  resumed: boolean;
  stoppedBySignal: boolean;
}

interface RunCheckpoint {
  sourceIndex: number;
  position: FilePosition | null;
  skippedLines: number;
  engine: ReturnType<StreamEngine<unknown, Entity>["snapshot"]>;
}

export interface LineFeedOptions {
  /** Stop at the first malformed line (an InputError with its location) instead of skipping and counting it. */
  strict?: boolean;
  strictHint?: string;
  /** A malformed line was skipped (already counted by the engine as dropped): "source:line: reason". */
  onSkipped?: (example: string) => void;
}

/**
 * One source's lines into the engine: parse, push, and count what cannot be parsed. Every path that turns lines into
 * records goes through here — a file or stream read by StreamRun, and the batches of lines the fleet's scorers take
 * from JetStream — so a malformed line is treated the same wherever it arrives.
 */
export class LineFeed<R> {
  constructor(
    private readonly engine: Pick<StreamEngine<R, Entity>, "push" | "countDropped">,
    private readonly parser: LineParser<R>,
    private readonly name: string,
    private readonly options: LineFeedOptions = {},
  ) {}

  line(bytes: Uint8Array, start: number, end: number, line: number): void {
    let record: R | null;
    try {
      record = this.parser.parse(bytes, start, end, line);
    } catch (error) {
      if (!(error instanceof RecordError)) throw error;
      if (this.options.strict) {
        const hint = this.options.strictHint ? ` ${this.options.strictHint}` : "";
        throw new InputError(`${error.message}${hint}`, { file: this.name, line });
      }
      this.engine.countDropped(1);
      this.options.onSkipped?.(`${this.name}:${line}: ${error.message}`);
      return;
    }
    if (record !== null) this.engine.push(record);
  }
}

export class StreamRun<R, E extends Entity> {
  private stopped = false;
  private stoppedBySignal = false;
  private sourceIndex = 0;
  private skippedLines = 0;
  private lastLagMs: number | null = null;
  private readonly skippedExamples: string[] = [];
  private readonly reporter: StatsReporter | null;

  constructor(private readonly options: RunOptions<R, E>) {
    const statsMs = options.statsMs ?? 0;
    this.reporter =
      statsMs > 0
        ? new StatsReporter(
            () => this.snapshot(),
            options.statsStream ?? process.stderr,
            statsMs,
            options.statsFormat ?? "text",
          )
        : null;
  }

  stop(): void {
    this.stopped = true;
    this.options.sources[this.sourceIndex]?.stop();
  }

  async run(): Promise<RunSummary> {
    const { engine, sources, state } = this.options;
    const owner = this.options.owner ?? engine.detector.kind;
    let resumed = false;
    let from: FilePosition | undefined;
    if (state) {
      const saved = state.load<RunCheckpoint>(owner);
      if (saved) {
        resumed = true;
        engine.restore(saved.state.engine);
        this.sourceIndex = saved.state.sourceIndex;
        this.skippedLines = saved.state.skippedLines;
        from = saved.state.position ?? undefined;
      }
    }
    const signals = this.options.handleSignals ? this.trapSignals() : null;
    this.reporter?.start();
    // Checkpoints on a timer, not only between chunks: a followed file that stops growing still gets its state saved.
    // Records are applied synchronously between awaits, so whenever the timer fires, position and state agree.
    let savedRecords = engine.counters.records;
    const timer = state
      ? setInterval(() => {
          if (engine.counters.records === savedRecords) return;
          savedRecords = engine.counters.records;
          this.checkpoint(false);
        }, this.options.checkpointMs ?? 1000)
      : null;
    timer?.unref();
    try {
      for (; this.sourceIndex < sources.length && !this.stopped; this.sourceIndex++) {
        const source = sources[this.sourceIndex];
        if (from) source.resume?.(from);
        from = undefined;
        engine.detector.beginSource?.(source.name);
        await (isRecordSource(source) ? this.runRecords(source) : this.runSource(source));
        if (this.stopped) break;
        if (this.options.independentSources && this.sourceIndex < sources.length - 1) engine.finish();
      }
      const completed = this.sourceIndex >= sources.length;
      if (completed && (this.options.drainAtEnd ?? true)) engine.finish();
      this.checkpoint(completed);
    } finally {
      if (timer) clearInterval(timer);
      this.reporter?.stop();
      signals?.();
    }
    const summary: RunSummary = {
      ...this.snapshot(),
      skippedLines: this.skippedLines,
      skippedExamples: this.skippedExamples,
      resumed,
      stoppedBySignal: this.stoppedBySignal,
    };
    return summary;
  }

  private async runRecords(source: RecordSource<R>): Promise<void> {
    const { engine } = this.options;
    const warn = this.options.onWarning;
    let dropped = source.stats.droppedRecords;
    const settle = () => {
      if (source.stats.droppedRecords !== dropped) {
        engine.countDropped(source.stats.droppedRecords - dropped);
        dropped = source.stats.droppedRecords;
      }
      for (const notice of source.notices.splice(0)) warn?.(notice);
    };
    await source.run(
      (record) => engine.push(record),
      () => {
        settle();
        this.options.onChunk?.(this.sourceIndex, source);
        if (this.options.lagMs) this.lastLagMs = this.options.lagMs();
      },
    );
    settle();
  }

  private async runSource(source: LineSource): Promise<void> {
    const { engine } = this.options;
    if (!this.options.parser) throw new Error("a line source needs a parser");
    const parser = this.options.parser(source);
    const warn = this.options.onWarning;
    const feed = new LineFeed(engine, parser, source.name, {
      strict: this.options.strict,
      strictHint: this.options.strictHint,
      onSkipped: (example) => {
        this.skippedLines++;
        if (this.skippedExamples.length < 5) {
          this.skippedExamples.push(example);
          warn?.(`skipped a malformed record: ${example}`);
        }
      },
    });
    let dropped = source.stats.droppedLines;
    await source.run(
      (bytes, start, end, line) => feed.line(bytes, start, end, line),
      () => {
        if (source.stats.droppedLines !== dropped) {
          engine.countDropped(source.stats.droppedLines - dropped);
          dropped = source.stats.droppedLines;
        }
        for (const notice of source.notices.splice(0)) warn?.(notice);
        this.options.onChunk?.(this.sourceIndex, source);
        if (this.options.lagMs) this.lastLagMs = this.options.lagMs();
      },
    );
    if (source.stats.droppedLines !== dropped) engine.countDropped(source.stats.droppedLines - dropped);
    for (const notice of source.notices.splice(0)) warn?.(notice);
    if (!this.stopped) parser.finish?.();
  }

  private checkpoint(completed: boolean): void {
    const { state, engine, sources } = this.options;
    if (!state) return;
    const source = sources[Math.min(this.sourceIndex, sources.length - 1)];
    const position = completed ? null : (source?.position() ?? null);
    const snapshot: RunCheckpoint = {
      sourceIndex: this.sourceIndex,
      position,
      skippedLines: this.skippedLines,
      engine: engine.snapshot(),
    };
    state.save(this.options.owner ?? engine.detector.kind, snapshot);
  }

  snapshot(): StatsSnapshot {
    const { engine, sources } = this.options;
    const source = sources[Math.min(this.sourceIndex, sources.length - 1)];
    return {
      ...engine.counters,
      activeEntities: engine.activeEntities,
      behindBytes: source?.behind() ?? 0,
      lagMs: this.lastLagMs,
      ...(this.options.statsExtra ? { extra: this.options.statsExtra() } : {}),
      ...(this.options.recordNoun ? { noun: this.options.recordNoun } : {}),
    };
  }

  private trapSignals(): () => void {
    const onSignal = () => {
      this.stoppedBySignal = true;
      this.stop();
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    return () => {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    };
  }
}

/** The final summary of a run, one line for people. */
export function formatSummaryLine(s: RunSummary): string {
  const stats = formatStatsLine(s).replace(/^threatlens: /, "");
  const extra = [`skipped ${s.skippedLines} malformed record(s)`];
  if (s.repeatsSuppressed > 0)
    extra.push(`${s.repeatsSuppressed} alert(s) already written before a restart not repeated`);
  if (s.resumed) extra.push("resumed from the checkpoint");
  if (s.stoppedBySignal) extra.push("stopped by a signal");
  return `threatlens summary: ${stats}, ${extra.join(", ")}`;
}
