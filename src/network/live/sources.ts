import { stat } from "node:fs/promises";
import type { Readable } from "node:stream";
import type { FilePosition } from "../../core/stream/line-sources.ts";
import type { RecordSource } from "../../core/stream/run.ts";
import { CaptureReader } from "../capture/reader.ts";
import { StreamByteReader } from "../capture/source.ts";
import { formatCaptureWarning, type PacketRecord } from "../capture/types.ts";

/**
 * Packets for the streaming engine: a capture file read to its end (resumable from a checkpoint), or a capture
 * arriving on a stream (stdin, tcpdump's output). Both hand out the capture reader's reused packet record; the
 * detector decodes it at once.
 */
abstract class PacketSource implements RecordSource<PacketRecord> {
  readonly kind = "records" as const;
  readonly stats = { bytes: 0, droppedRecords: 0, packets: 0 };
  readonly notices: string[] = [];
  protected stopped = false;
  protected reader: CaptureReader | null = null;
  /** Packets handed out (the resume point of a file). */
  protected index = 0;

  constructor(readonly name: string) {}

  protected abstract open(): Promise<CaptureReader>;

  /** Packets to skip before handing any out (a resumed file). */
  protected skip = 0;

  /** A stream that may pause for long (a live capture): report (lag, stats) each time it has caught up. */
  protected live = false;

  /** Replay no faster than this many times the capture's own pace (0: as fast as possible). */
  pace = 0;

  stop(): void {
    this.stopped = true;
  }

  /** Packets handed out so far, counting those a resumed file skipped: the last one's index + 1. */
  get handedOut(): number {
    return this.index;
  }

  position(): FilePosition | null {
    return null;
  }

  behind(): number {
    return 0;
  }

  async run(onRecord: (record: PacketRecord) => void, onChunk?: () => void | Promise<void>): Promise<void> {
    let reader: CaptureReader;
    try {
      reader = await this.open();
    } catch (error) {
      if (this.stopped) return; // stopped before the capture's header arrived: nothing was read
      throw error;
    }
    this.reader = reader;
    let firstPacketNs = Number.NaN;
    let startedAt = 0;
    let ahead = 0;
    const handle = (rec: PacketRecord): boolean => {
      if (this.skip > 0) {
        this.skip--;
        return false;
      }
      this.index++;
      this.stats.packets++;
      onRecord(rec);
      if (this.pace > 0) {
        const t = rec.tsSec * 1e9 + rec.tsNsec;
        if (Number.isNaN(firstPacketNs)) {
          firstPacketNs = t;
          startedAt = performance.now();
        }
        ahead = (t - firstPacketNs) / 1e6 / this.pace - (performance.now() - startedAt);
        if (ahead > 1) return true; // end the batch: wait below before the next packet
      }
      return this.stopped;
    };
    try {
      for (;;) {
        if (this.stopped) return;
        let held: Promise<void> | undefined;
        const report = () => {
          this.stats.bytes = reader.position;
          for (const w of reader.warnings.splice(0)) this.notices.push(formatCaptureWarning(w));
          held = onChunk?.() ?? undefined;
        };
        const more = await reader.readBatch(handle, this.live ? report : undefined);
        // A live stream reported before it waited; reporting again as data arrives would time the quiet gap as lag.
        if (!this.live || !more || this.stopped) report();
        if (held) await held;
        if (!more) return;
        if (ahead > 1) {
          await new Promise((r) => setTimeout(r, ahead));
          ahead = 0;
        }
      }
    } finally {
      await reader.close();
    }
  }
}

/** A pcap or pcapng file read to its end; a checkpoint records how many packets were handed out. */
export class CaptureFileSource extends PacketSource {
  private inode = 0;

  constructor(readonly path: string) {
    super(path);
  }

  protected async open(): Promise<CaptureReader> {
    const reader = await CaptureReader.open(this.path);
    this.inode = (await stat(this.path)).ino;
    return reader;
  }

  override position(): FilePosition {
    return { path: this.path, inode: this.inode, offset: this.reader?.position ?? 0, line: this.index };
  }

  override behind(): number {
    return this.reader ? Math.max(0, this.reader.size - this.reader.position) : 0;
  }

  /** Resumes after the packets a checkpoint says were handed out (the same file only, by inode). */
  resume(position: FilePosition): void {
    if (position.path !== this.path) return;
    this.resumeAt = position;
  }

  private resumeAt: FilePosition | null = null;

  override async run(
    onRecord: (record: PacketRecord) => void,
    onChunk?: () => void | Promise<void>,
  ): Promise<void> {
    if (this.resumeAt !== null) {
      const info = await stat(this.path);
      if (info.ino !== this.resumeAt.inode) {
        this.notices.push(
          `${this.path} is not the file of the checkpoint (inode ${this.resumeAt.inode} → ${info.ino}): reading it from its start`,
        );
      } else {
        // pcapng interface blocks come before the packets that use them: parse from the start, hand out the rest.
        this.skip = this.resumeAt.line;
        this.index = this.resumeAt.line;
      }
      this.resumeAt = null;
    }
    return super.run(onRecord, onChunk);
  }
}

/** A capture arriving on a stream: stdin (`-`), or a capture tool's stdout. Not resumable: a stream has no position. */
export class CaptureStreamSource extends PacketSource {
  readonly bytes: StreamByteReader;

  constructor(name: string, stream: Readable) {
    super(name);
    this.bytes = new StreamByteReader(stream);
    this.live = true;
  }

  protected open(): Promise<CaptureReader> {
    return CaptureReader.fromStream(this.name, this.bytes);
  }

  override behind(): number {
    return this.bytes.queuedBytes;
  }

  /** Stops reading at once, even while waiting for the stream (which may never say more). */
  override stop(): void {
    super.stop();
    this.bytes.interrupt();
  }
}
