import cliProgress from "cli-progress";

/**
 * Progress for long steps, always on stderr so that stdout stays clean for tables, CSV and --json. On a terminal
 * it draws a bar; otherwise (CI, pipes) it prints a line at most every few seconds and at the end.
 */
export interface Progress {
  start(label: string, total: number, unit?: string): void;
  update(value: number): void;
  stop(): void;
  /** A status line between steps (silenced by --quiet). */
  info(message: string): void;
  /** Something the user must know about their data (skipped rows, ignored files): printed even with --quiet. */
  warn(message: string): void;
}

export interface ProgressOptions {
  quiet?: boolean;
  stream?: NodeJS.WriteStream;
  /** Minimum milliseconds between non-terminal progress lines. */
  intervalMs?: number;
}

export function createProgress(options: ProgressOptions = {}): Progress {
  const stream = options.stream ?? process.stderr;
  if (options.quiet)
    return { start() {}, update() {}, stop() {}, info() {}, warn: (m) => writeWarning(stream, m) };
  if (stream.isTTY) return new BarProgress(stream);
  return new LineProgress(stream, options.intervalMs ?? 5000);
}

class BarProgress implements Progress {
  private bar: cliProgress.SingleBar | null = null;
  private current: { label: string; total: number; unit: string; value: number } | null = null;

  constructor(private readonly stream: NodeJS.WriteStream) {}

  start(label: string, total: number, unit = ""): void {
    this.stop();
    this.current = { label, total, unit, value: 0 };
    this.draw();
  }

  update(value: number): void {
    if (this.current) this.current.value = value;
    this.bar?.update(value);
  }

  stop(): void {
    this.bar?.stop();
    this.bar = null;
    this.current = null;
  }

  /** Prints the message on its own line, then draws a running bar again below it: a message does not end it. */
  info(message: string): void {
    this.bar?.stop();
    this.bar = null;
    this.stream.write(`${message}\n`);
    if (this.current) this.draw();
  }

  warn(message: string): void {
    this.info(`warning: ${message}`);
  }

  private draw(): void {
    const { label, total, unit, value } = this.current!;
    this.bar = new cliProgress.SingleBar(
      {
        stream: this.stream,
        format: `${label.padEnd(22)} {bar} {percentage}% | {value}/{total} ${unit} | {duration_formatted} (eta {eta_formatted})`,
        hideCursor: true,
        clearOnComplete: false,
      },
      cliProgress.Presets.shades_classic,
    );
    this.bar.start(total, value);
  }
}

class LineProgress implements Progress {
  private label = "";
  private total = 0;
  private unit = "";
  private last = 0;
  private started = 0;
  private value = 0;

  constructor(
    private readonly stream: NodeJS.WriteStream,
    private readonly intervalMs: number,
  ) {}

  start(label: string, total: number, unit = ""): void {
    this.label = label;
    this.total = total;
    this.unit = unit;
    this.started = this.last = Date.now();
    this.value = 0;
  }

  update(value: number): void {
    this.value = value;
    const now = Date.now();
    if (now - this.last >= this.intervalMs) {
      this.last = now;
      this.print();
    }
  }

  stop(): void {
    if (this.label === "") return;
    this.value = this.total;
    this.print();
    this.label = "";
  }

  info(message: string): void {
    this.stream.write(`${message}\n`);
  }

  warn(message: string): void {
    writeWarning(this.stream, message);
  }

  private print(): void {
    const pct = this.total > 0 ? Math.round((100 * this.value) / this.total) : 100;
    const seconds = ((Date.now() - this.started) / 1000).toFixed(1);
    this.stream.write(`${this.label}: ${pct}% (${this.value}/${this.total} ${this.unit}) ${seconds}s\n`);
  }
}

/** A `(done, total)` callback that drives `progress` as a bar from the first completed item to the last. */
export function countProgress(
  progress: Progress,
  label: string,
  unit: string,
): (done: number, total: number) => void {
  return (done, total) => {
    if (done === 1) progress.start(label, total, unit);
    progress.update(done);
    if (done === total) progress.stop();
  };
}

function writeWarning(stream: NodeJS.WritableStream, message: string): void {
  stream.write(`warning: ${message}\n`);
}
