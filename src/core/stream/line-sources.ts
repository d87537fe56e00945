import { type FSWatcher, watch } from "node:fs";
import { type FileHandle, open, stat } from "node:fs/promises";
import type { Readable } from "node:stream";
import { InputError } from "../errors.ts";

/**
 * Sources of text lines for the streaming engine: a file read to its end, a file followed as it grows (surviving
 * rotation and truncation, like `tail -F`), and a stream (stdin, a collector's output). Lines are handed over as byte
 * ranges of a reused buffer, so parsers allocate nothing per line. File sources know the byte offset after every line,
 * which is what a checkpoint stores to resume without skipping or repeating a record.
 */
export type LineHandler = (bytes: Uint8Array, start: number, end: number, line: number) => void;

/** Called between chunks; a returned promise holds the source back until it settles. */
export type ChunkHandler = () => void | Promise<void>;

export interface LineSourceStats {
  bytes: number;
  lines: number;
  /** Lines dropped under overload (stream sources with overload "drop"). */
  droppedLines: number;
  /** Times a followed file was replaced (rotation) or shrank (truncation). */
  rotations: number;
  truncations: number;
}

/** Where a file source is: enough to resume after a restart. */
export interface FilePosition {
  path: string;
  /** The file's inode, to tell a rotated file from the one the checkpoint was taken on. */
  inode: number;
  /** Byte offset just after the last line handed out, and that line's number. */
  offset: number;
  line: number;
}

export interface LineSource {
  readonly name: string;
  readonly stats: LineSourceStats;
  /**
   * Hands every line to `onLine` and calls `onChunk` after each chunk (a moment between records where the engine can
   * checkpoint or print stats). When `onChunk` returns a promise, the source reads nothing more until it settles: a
   * consumer that cannot keep up (a fleet agent whose disk buffer is full) pushes back on the input. Resolves at the end
   * of input, or once `stop` was called.
   */
  run(onLine: LineHandler, onChunk?: ChunkHandler): Promise<void>;
  stop(): void;
  /** Resume point after the last line handed out; null for sources that cannot be resumed (streams). */
  position(): FilePosition | null;
  /** Bytes written to the input but not yet read (followed files), for the stats line's "behind". */
  behind(): number;
  /** Messages about what happened to the input (rotation, truncation), drained by the caller. */
  notices: string[];
  /** Start from a checkpoint's position instead of the beginning (file sources; ignored for another file). */
  resume?(position: FilePosition): void;
}

const CHUNK = 1 << 20;
const NEWLINE = 10;
const CR = 13;

function emptyStats(): LineSourceStats {
  return { bytes: 0, lines: 0, droppedLines: 0, rotations: 0, truncations: 0 };
}

export interface FileSourceOptions {
  /** Keep reading as the file grows, across rotation and truncation, until `stop`. */
  follow?: boolean;
  /** Resume here (from a checkpoint). */
  from?: FilePosition;
  /** Poll interval for growth and rotation while following (ms); inotify wakes the reader sooner. */
  pollMs?: number;
  /**
   * After a wake-up, wait this long before reading (ms), so that a writer's burst of small appends is read at once:
   * fewer wake-ups (CPU) for a little delay. 0 for a watch, where every millisecond counts; a fleet agent, which
   * batches anyway, uses a few tens.
   */
  settleMs?: number;
}

/** A file read line by line, to its end or (follow) as it grows. */
export class FileLineSource implements LineSource {
  readonly stats = emptyStats();
  readonly notices: string[] = [];
  private handle: FileHandle | null = null;
  private inode = 0;
  private offset = 0;
  private line = 0;
  private size = 0;
  private stopped = false;
  private wake: (() => void) | null = null;
  private watcher: FSWatcher | null = null;
  private from: FilePosition | undefined;

  constructor(
    readonly path: string,
    private readonly options: FileSourceOptions = {},
  ) {
    this.from = options.from;
  }

  get name(): string {
    return this.path;
  }

  position(): FilePosition {
    return { path: this.path, inode: this.inode, offset: this.offset, line: this.line };
  }

  behind(): number {
    return Math.max(0, this.size - this.offset);
  }

  stop(): void {
    this.stopped = true;
    this.wake?.();
  }

  resume(position: FilePosition): void {
    if (position.path === this.path) this.from = position;
  }

  async run(onLine: LineHandler, onChunk?: ChunkHandler): Promise<void> {
    await this.openAt(this.from);
    if (this.offset > 0) await this.replayHeader(onLine);
    const follow = this.options.follow ?? false;
    let buffer = Buffer.allocUnsafe(CHUNK * 2);
    let carry = 0;
    try {
      for (;;) {
        if (this.stopped) return;
        if (buffer.length - carry < CHUNK) {
          const bigger = Buffer.allocUnsafe(buffer.length * 2);
          buffer.copy(bigger, 0, 0, carry);
          buffer = bigger;
        }
        const { bytesRead } = await this.handle!.read(
          buffer,
          carry,
          buffer.length - carry,
          this.offset + carry,
        );
        if (bytesRead > 0) {
          this.stats.bytes += bytesRead;
          const filled = carry + bytesRead;
          const used = this.visitLines(buffer, filled, onLine);
          buffer.copy(buffer, 0, used, filled);
          carry = filled - used;
          if (this.offset + carry > this.size) this.size = this.offset + carry;
          await onChunk?.();
          continue;
        }
        if (!follow) {
          if (carry > 0) {
            // The last line has no terminator: it is still a line.
            const end = buffer[carry - 1] === CR ? carry - 1 : carry;
            this.line++;
            this.stats.lines++;
            onLine(buffer, 0, end, this.line);
            this.offset += carry;
            carry = 0;
            await onChunk?.();
          }
          return;
        }
        const change = await this.checkFile(carry);
        if (change === "rotated") {
          // The watcher is on the old inode: watch the new file from now on.
          this.watcher?.close();
          this.watcher = null;
          if (carry > 0) {
            this.stats.droppedLines++;
            this.notices.push(
              `${this.path}: the rotated file ended in an unterminated line (${carry} bytes): dropped`,
            );
          }
          carry = 0;
          await this.openAt(undefined);
          continue;
        }
        if (change === "truncated") {
          carry = 0;
          continue;
        }
        if (change === "grown") continue;
        await this.waitForChange();
        const settle = this.options.settleMs ?? 0;
        if (settle > 0 && !this.stopped) await new Promise((r) => setTimeout(r, settle));
      }
    } finally {
      this.watcher?.close();
      await this.handle?.close();
      this.handle = null;
    }
  }

  /**
   * Resuming in the middle of a file: hand out its first line again (as line 1) before going on, because parsers learn
   * the file's layout from its header. A header carries no record, so nothing is counted twice.
   */
  private async replayHeader(onLine: LineHandler): Promise<void> {
    const buffer = Buffer.allocUnsafe(65536);
    const { bytesRead } = await this.handle!.read(buffer, 0, buffer.length, 0);
    const newline = buffer.subarray(0, bytesRead).indexOf(NEWLINE);
    const stop = newline < 0 ? bytesRead : newline;
    const end = stop > 0 && buffer[stop - 1] === CR ? stop - 1 : stop;
    onLine(buffer, 0, end, 1);
  }

  /** Visits the complete lines of buffer[0, filled); returns the bytes consumed (up to the last newline). */
  private visitLines(buffer: Buffer, filled: number, onLine: LineHandler): number {
    let start = 0;
    for (;;) {
      const newline = buffer.indexOf(NEWLINE, start);
      if (newline < 0 || newline >= filled) break;
      const end = newline > start && buffer[newline - 1] === CR ? newline - 1 : newline;
      this.line++;
      this.stats.lines++;
      this.offset += newline + 1 - start;
      onLine(buffer, start, end, this.line);
      start = newline + 1;
      if (this.stopped) break;
    }
    return start;
  }

  private async openAt(from: FilePosition | undefined): Promise<void> {
    await this.handle?.close();
    let handle: FileHandle;
    try {
      handle = await open(this.path, "r");
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new InputError(code === "ENOENT" ? "no such file" : `cannot read (${code})`, { file: this.path });
    }
    const info = await handle.stat();
    if (!info.isFile()) {
      await handle.close();
      throw new InputError("not a regular file", { file: this.path });
    }
    this.handle = handle;
    this.inode = info.ino;
    this.size = info.size;
    this.offset = 0;
    this.line = 0;
    if (from === undefined) return;
    if (from.inode !== info.ino) {
      this.stats.rotations++;
      this.notices.push(
        `${this.path} was replaced since the checkpoint (inode ${from.inode} → ${info.ino}): reading the new file from its start; the old file's unread end, if any, is not read`,
      );
    } else if (info.size < from.offset) {
      this.stats.truncations++;
      this.notices.push(
        `${this.path} is shorter than at the checkpoint (${info.size} < ${from.offset} bytes): it was truncated; reading from its start`,
      );
    } else {
      this.offset = from.offset;
      this.line = from.line;
    }
  }

  /** After the end of the file: has it been replaced, truncated or grown since? */
  private async checkFile(carry: number): Promise<"rotated" | "truncated" | "grown" | "same"> {
    let current: Awaited<ReturnType<typeof stat>> | null = null;
    try {
      current = await stat(this.path);
    } catch {
      // Removed and not yet re-created: keep waiting on what we have.
    }
    const mine = await this.handle!.stat();
    this.size = mine.size;
    if (mine.size > this.offset + carry) return "grown";
    if (mine.size < this.offset + carry) {
      this.stats.truncations++;
      this.notices.push(
        `${this.path} was truncated (${mine.size} < ${this.offset} bytes): reading from its start`,
      );
      this.offset = 0;
      this.line = 0;
      return "truncated";
    }
    if (current !== null && current.ino !== this.inode) {
      this.stats.rotations++;
      this.notices.push(`${this.path} was rotated: reading the new file from its start`);
      return "rotated";
    }
    return "same";
  }

  private waitForChange(): Promise<void> {
    if (this.watcher === null) {
      try {
        this.watcher = watch(this.path, () => this.wake?.());
        this.watcher.on("error", () => {
          this.watcher?.close();
          this.watcher = null;
        });
      } catch {
        // No inotify (or the file just went away): polling alone still works.
      }
    }
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, this.options.pollMs ?? 250);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = () => {
        this.wake = null;
        done();
      };
      if (this.stopped) done();
    });
  }
}

export type OverloadPolicy = "block" | "drop";

export interface StreamSourceOptions {
  name?: string;
  /** Bytes read but not yet parsed before the source pushes back (block) or drops input (drop). */
  maxQueueBytes?: number;
  overload?: OverloadPolicy;
  /** Longest stretch of parsing before the source lets reads in (ms). */
  sliceMs?: number;
}

/**
 * Lines from a stream (stdin, a collector's stdout). Reading and parsing are decoupled by a bounded queue, so a slow
 * consumer either pushes back on the writer (block: the pipe fills and the writer waits) or drops whole chunks and
 * counts their lines (drop) — never silently.
 */
export class StreamLineSource implements LineSource {
  readonly stats = emptyStats();
  readonly notices: string[] = [];
  readonly name: string;
  private readonly queue: Buffer[] = [];
  private queuedBytes = 0;
  private ended = false;
  private stopped = false;
  private paused = false;
  private resync = false;
  private line = 0;
  private wake: (() => void) | null = null;
  private readonly maxQueueBytes: number;
  private readonly overload: OverloadPolicy;
  private readonly sliceMs: number;

  constructor(
    private readonly stream: Readable,
    options: StreamSourceOptions = {},
  ) {
    this.name = options.name ?? "stream";
    this.maxQueueBytes = options.maxQueueBytes ?? 64 << 20;
    this.overload = options.overload ?? "block";
    this.sliceMs = options.sliceMs ?? 20;
  }

  position(): null {
    return null;
  }

  behind(): number {
    return this.queuedBytes;
  }

  stop(): void {
    this.stopped = true;
    this.wake?.();
  }

  async run(onLine: LineHandler, onChunk?: ChunkHandler): Promise<void> {
    const stream = this.stream;
    const onData = (chunk: Buffer) => {
      this.stats.bytes += chunk.length;
      if (this.queuedBytes + chunk.length > this.maxQueueBytes) {
        if (this.overload === "drop") {
          this.drop(chunk);
          return;
        }
        stream.pause();
        this.paused = true;
      }
      this.queue.push(chunk);
      this.queuedBytes += chunk.length;
      this.wake?.();
    };
    const onEnd = () => {
      this.ended = true;
      this.wake?.();
    };
    let failure: Error | null = null;
    const onError = (error: Error) => {
      failure = error;
      onEnd();
    };
    stream.on("data", onData);
    stream.once("end", onEnd);
    stream.once("close", onEnd);
    stream.once("error", onError);
    let carry: Buffer | null = null;
    try {
      for (;;) {
        const sliceStart = Date.now();
        while (this.queue.length > 0 && !this.stopped) {
          const chunk = this.queue.shift()!;
          this.queuedBytes -= chunk.length;
          carry = this.visit(carry, chunk, onLine);
          const held = onChunk?.();
          if (held) await held;
          if (Date.now() - sliceStart >= this.sliceMs) break;
        }
        if (this.paused && this.queuedBytes <= this.maxQueueBytes / 2) {
          this.paused = false;
          stream.resume();
        }
        if (this.stopped) return;
        if (this.queue.length > 0) {
          await new Promise((resolve) => setImmediate(resolve));
          continue;
        }
        if (this.ended) break;
        await new Promise<void>((resolve) => {
          this.wake = () => {
            this.wake = null;
            resolve();
          };
        });
      }
      if (failure !== null) throw failure;
      if (carry !== null && carry.length > 0 && !this.resync) {
        const end = carry[carry.length - 1] === CR ? carry.length - 1 : carry.length;
        this.line++;
        this.stats.lines++;
        onLine(carry, 0, end, this.line);
        await onChunk?.();
      }
    } finally {
      stream.off("data", onData);
      stream.off("end", onEnd);
      stream.off("close", onEnd);
      stream.off("error", onError);
    }
  }

  /** Drops a chunk under overload: its lines are counted, and the line it cut in two is dropped as well. */
  private drop(chunk: Buffer): void {
    let lines = 0;
    for (let i = chunk.indexOf(NEWLINE); i >= 0; i = chunk.indexOf(NEWLINE, i + 1)) lines++;
    this.stats.droppedLines += lines;
    this.resync = true;
  }

  private visit(carry: Buffer | null, chunk: Buffer, onLine: LineHandler): Buffer | null {
    let data = chunk;
    let start = 0;
    if (this.resync) {
      // The previous chunk was dropped: the partial line it left (carry) and the head of this chunk are one broken
      // line; skip it.
      const newline = chunk.indexOf(NEWLINE);
      if (newline < 0) return null;
      this.stats.droppedLines++;
      this.resync = false;
      carry = null;
      start = newline + 1;
    }
    if (carry !== null) {
      data = Buffer.concat([carry, chunk.subarray(start)]);
      start = 0;
    }
    for (;;) {
      const newline = data.indexOf(NEWLINE, start);
      if (newline < 0) break;
      const end = newline > start && data[newline - 1] === CR ? newline - 1 : newline;
      this.line++;
      this.stats.lines++;
      onLine(data, start, end, this.line);
      start = newline + 1;
      if (this.stopped) return null;
    }
    return start < data.length ? Buffer.from(data.subarray(start)) : null;
  }
}
