import {
  DECODED,
  DecodedPacket,
  decodePacket,
  NOT_FRAGMENT,
  NOT_IP,
  TRUNCATED,
  UNSUPPORTED_LINK,
} from "../capture/decode.ts";
import { CaptureReader } from "../capture/reader.ts";
import type { CaptureWarning, PacketRecord } from "../capture/types.ts";
import { FragmentPorts } from "./fragments.ts";
import { type Flow, type FlowCursor, FlowTable, type FlowTimeouts } from "./table.ts";

export interface ExtractFlowsOptions extends Partial<FlowTimeouts> {
  /** Bytes per read (default 8 MiB). */
  chunkSize?: number;
  /**
   * Treat all captures as one continuous capture, so a flow can span files (e.g. a ring buffer split by
   * tcpdump -C). By default each capture is processed on its own: its flows end with the file, since captures
   * usually carry a label per file.
   */
  continuous?: boolean;
  onWarning?: (warning: CaptureWarning) => void;
  /**
   * Compute each flow's context across flows (default true). Without it the context features are 0: what a flow
   * CSV without context columns needs, at half the cost.
   */
  context?: boolean;
  /** Called after every chunk read and at the end of each capture. */
  onProgress?: (progress: ExtractionProgress) => void;
}

export interface ExtractionProgress {
  capture: string;
  /** Index of the capture in the input list. */
  captureIndex: number;
  bytesRead: number;
  bytesTotal: number;
  packets: number;
  flows: number;
}

/** Counters of one extraction, filled as it runs. */
export interface ExtractionStats {
  captures: number;
  packets: number;
  /** Packets that reached the flow table. */
  decoded: number;
  unsupportedLink: number;
  notIp: number;
  truncated: number;
  malformed: number;
  flows: number;
  warnings: CaptureWarning[];
}

/**
 * An async stream of finished flows; `stats` is complete once iteration has ended. Iterate it once, either flow by
 * flow or, cheaper for bulk consumers, with `batches()` (the flows finished during each chunk read).
 */
export interface FlowStream extends AsyncIterable<Flow> {
  readonly stats: ExtractionStats;
  batches(): AsyncIterable<Flow[]>;
}

/**
 * Extracts bidirectional flows from capture files (or from a stream of packet records), streaming: finished
 * flows are yielded as the capture clock expires them, so memory holds only the active flows.
 */
export function extractFlows(
  inputs: string | readonly string[] | AsyncIterable<PacketRecord>,
  options: ExtractFlowsOptions = {},
): FlowStream {
  const stats = newStats();
  const batches =
    typeof inputs === "string" || Array.isArray(inputs)
      ? extractFromFiles(
          typeof inputs === "string" ? [inputs] : (inputs as readonly string[]),
          options,
          stats,
        )
      : extractFromPackets(inputs as AsyncIterable<PacketRecord>, options, stats);
  return new BatchedFlowStream(batches, stats);
}

class BatchedFlowStream implements FlowStream {
  constructor(
    private readonly source: AsyncGenerator<Flow[]>,
    readonly stats: ExtractionStats,
  ) {}

  batches(): AsyncIterable<Flow[]> {
    return this.source;
  }

  /** A hand-written iterator: one cheap promise per flow instead of an async generator's machinery. */
  [Symbol.asyncIterator](): AsyncIterator<Flow> {
    const source = this.source;
    let batch: Flow[] = [];
    let i = 0;
    return {
      async next(): Promise<IteratorResult<Flow>> {
        while (i >= batch.length) {
          const r = await source.next();
          if (r.done) return { done: true, value: undefined };
          batch = r.value;
          i = 0;
        }
        return { done: false, value: batch[i++] };
      },
      async return(): Promise<IteratorResult<Flow>> {
        await source.return([]);
        return { done: true, value: undefined };
      },
    };
  }
}

const BATCH_FLOWS = 256;

/**
 * Flow slots a batch extraction starts with. An attack-heavy capture keeps ~40 k flows open at once; growing the table
 * there step by step cost 0.2–0.4 s of a 1.1 M-packet run (each larger set of typed arrays is copied, and its size
 * in external memory sets off full garbage collections), and more peak memory than starting at this size: capacity
 * never written to is address space, not resident memory. Live detection keeps the small default, since its
 * checkpoints save the table's per-slot links and generations for every slot (16 bytes each).
 */
const FILE_INITIAL_FLOWS = 65536;

/**
 * Per-capture packet handling shared by every path that turns packets into flows: both batch input kinds and the
 * live detector (network watch), so that a flow is computed by the same code wherever its packets come from.
 */
export class PacketSink {
  readonly table: FlowTable;
  private readonly decoded = new DecodedPacket();
  readonly fragments = new FragmentPorts();
  private file = "";
  private problems = new Map<string, { count: number; offset: number }>();

  constructor(
    private readonly stats: ExtractionStats,
    readonly warn: (w: CaptureWarning) => void,
    options: ExtractFlowsOptions,
    /** Flow slots to start with (the table grows past it). */
    initialFlows = 1024,
  ) {
    this.table = new FlowTable(options, initialFlows, options.context === false ? false : {});
  }

  startCapture(file: string): void {
    this.file = file;
    this.table.setSource(file);
    this.stats.captures++;
  }

  /** Ends a capture: reports skipped packets once per kind, optionally finishing its flows. */
  endCapture(flush: boolean): void {
    for (const [message, { count, offset }] of this.problems) {
      this.warn({ file: this.file, offset, message: `${count} packet(s) skipped: ${message}` });
    }
    this.problems.clear();
    if (flush) {
      this.table.flush();
      this.fragments.clear();
    }
  }

  /** Finished flows, a small batch at a time so that each batch is consumed while it is young. */
  *batches(): Generator<Flow[]> {
    while (this.table.pending > 0) {
      const batch = this.table.take(BATCH_FLOWS);
      this.stats.flows += batch.length;
      yield batch;
    }
  }

  /** Adds a packet; true once enough flows are pending to hand them out (see CaptureReader.readBatch). */
  readonly add = (rec: PacketRecord): boolean => {
    const stats = this.stats;
    stats.packets++;
    const d = this.decoded;
    const status = decodePacket(rec, d);
    if (status !== DECODED) {
      this.skip(status, rec);
      return false;
    }
    if (d.fragment !== NOT_FRAGMENT) this.fragments.resolve(d, rec.tsSec);
    stats.decoded++;
    this.table.add(d, rec.tsSec, rec.tsNsec);
    // Handing flows out in small batches lets them die in the young generation instead of being promoted.
    return this.table.pending >= BATCH_FLOWS;
  };

  private skip(status: number, rec: PacketRecord): void {
    const stats = this.stats;
    let message: string;
    if (status === UNSUPPORTED_LINK) {
      stats.unsupportedLink++;
      message = `link type ${rec.linkType} is not supported`;
    } else if (status === NOT_IP) {
      stats.notIp++;
      return; // ARP, LLDP, STP…: expected on any LAN, not worth a warning
    } else if (status === TRUNCATED) {
      stats.truncated++;
      message = "too few captured bytes for the link, IP or port headers";
    } else {
      stats.malformed++;
      message = "malformed IP header";
    }
    const seen = this.problems.get(message);
    if (seen) seen.count++;
    else this.problems.set(message, { count: 1, offset: rec.fileOffset });
  }
}

/**
 * Visits every finished flow in place (see FlowTable.drain), with no Flow object per flow: the fast path of bulk
 * writers. Same packets, flows and statistics as extractFlows; resolves to the statistics once all inputs are read.
 */
export async function visitFlows(
  inputs: string | readonly string[],
  options: ExtractFlowsOptions,
  visit: (flow: FlowCursor) => void,
  /** Awaited after every batch of at most 256 flows (e.g. to flush output with back-pressure). */
  afterBatch?: () => void | Promise<void>,
): Promise<ExtractionStats> {
  const stats = newStats();
  const files = typeof inputs === "string" ? [inputs] : inputs;
  const sink = new PacketSink(stats, warner(stats, options), options, FILE_INITIAL_FLOWS);
  for await (const _ of captureChunks(files, options, stats, sink)) {
    while (sink.table.pending > 0) {
      stats.flows += sink.table.drain(BATCH_FLOWS, visit);
      await afterBatch?.();
    }
  }
  return stats;
}

export function newStats(): ExtractionStats {
  return {
    captures: 0,
    packets: 0,
    decoded: 0,
    unsupportedLink: 0,
    notIp: 0,
    truncated: 0,
    malformed: 0,
    flows: 0,
    warnings: [],
  };
}

function warner(stats: ExtractionStats, options: ExtractFlowsOptions): (w: CaptureWarning) => void {
  return (w) => {
    stats.warnings.push(w);
    options.onWarning?.(w);
  };
}

/**
 * Feeds the captures' packets to `sink`, pausing (yielding) whenever finished flows are waiting: after each chunk
 * read, when a batch of flows is pending, and at the end of each capture.
 */
async function* captureChunks(
  files: readonly string[],
  options: ExtractFlowsOptions,
  stats: ExtractionStats,
  sink: PacketSink,
): AsyncGenerator<void> {
  for (let index = 0; index < files.length; index++) {
    const file = files[index];
    const reader = await CaptureReader.open(file, { chunkSize: options.chunkSize, onWarning: sink.warn });
    sink.startCapture(file);
    const progress = () =>
      options.onProgress?.({
        capture: file,
        captureIndex: index,
        bytesRead: reader.position,
        bytesTotal: reader.size,
        packets: stats.packets,
        flows: stats.flows,
      });
    try {
      while (await reader.readBatch(sink.add)) {
        yield;
        progress();
      }
    } finally {
      await reader.close();
    }
    sink.endCapture(!options.continuous || index === files.length - 1);
    yield;
    progress();
  }
}

async function* extractFromFiles(
  files: readonly string[],
  options: ExtractFlowsOptions,
  stats: ExtractionStats,
): AsyncGenerator<Flow[]> {
  const sink = new PacketSink(stats, warner(stats, options), options, FILE_INITIAL_FLOWS);
  for await (const _ of captureChunks(files, options, stats, sink)) yield* sink.batches();
}

async function* extractFromPackets(
  packets: AsyncIterable<PacketRecord>,
  options: ExtractFlowsOptions,
  stats: ExtractionStats,
): AsyncGenerator<Flow[]> {
  const sink = new PacketSink(stats, warner(stats, options), options);
  sink.startCapture("");
  for await (const rec of packets) {
    sink.add(rec);
    yield* sink.batches();
  }
  sink.endCapture(true);
  yield* sink.batches();
}
