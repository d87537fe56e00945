import { Readable } from "node:stream";

/**
 * The collector's CSV output. It never blocks the tracer for a slow reader until `maxBuffered` bytes wait
 * unread; then the backend pauses its source (so bpftrace's perf rings fill and the kernel counts what it
 * drops) and resumes once the reader has caught up.
 */
export class CollectorOutput extends Readable {
  private resumeSource: (() => void) | null = null;

  constructor(private readonly maxBuffered: number) {
    super({ highWaterMark: 1 << 20 });
  }

  override _read(): void {
    const resume = this.resumeSource;
    this.resumeSource = null;
    resume?.();
  }

  /** Queues a chunk; false when the source should pause until `onDemand`'s callback runs. */
  write(chunk: Buffer): boolean {
    this.push(chunk);
    return this.readableLength < this.maxBuffered;
  }

  onDemand(resume: () => void): void {
    this.resumeSource = resume;
  }

  finish(): void {
    this.resumeSource = null;
    this.push(null);
  }
}
