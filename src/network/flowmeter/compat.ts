import { CaptureReader } from "../capture/reader.ts";
import type { CaptureWarning } from "../capture/types.ts";
import type { ExtractionProgress } from "../flows/extract.ts";
import { FLOWMETER_FEATURES } from "../flows/features.ts";
import { GopacketTuple } from "./gopacket.ts";
import type { PortNames } from "./ports.ts";

/** FlowMeter constants (pkg/constants/constants.go). */
const MAX_PACKETS_BEFORE = 82;
const MIN_PACKETS_PER_FLOW = 15;
const SAVE_INTERVALS = new Set([100000, 500000, 1000000, 1500000, 2500000, 3000000, 4000000, 5000000]);

/** FlowMeter's CSV header, in its order. */
export const FLOWMETER_CSV_COLUMNS: readonly string[] = [
  "fiveTuple",
  "srcIP",
  "dstIP",
  "protocol",
  "srcPort",
  "dstPort",
  ...FLOWMETER_FEATURES.slice(0, 33),
];

/** One row of FlowMeter's CSV. */
export interface FlowMeterRow {
  capture: string;
  fiveTuple: string;
  /** As FlowMeter writes them: swapped relative to the key (srcIP is the key's destination). */
  srcIP: string;
  dstIP: string;
  protocol: string;
  srcPort: string;
  dstPort: string;
  /** The 33 numeric columns, in FLOWMETER_CSV_COLUMNS order. */
  values: Float64Array;
}

export interface FlowMeterOptions {
  portNames: PortNames;
  /**
   * FlowMeter's local-IP mode (-ifLocalIPKnown -localIP=X): a packet from X is forward under its own tuple, every
   * other packet backward under the reversed tuple. Unset: the default mode (first packet's sender is forward).
   */
  localIp?: string;
  /** FlowMeter's -maxNumPackets (every packet counts, IP or not). Default: no limit. */
  maxPackets?: number;
  chunkSize?: number;
  onWarning?: (warning: CaptureWarning) => void;
  onProgress?: (progress: ExtractionProgress) => void;
}

export interface FlowMeterStats {
  captures: number;
  packets: number;
  /** Packets that FlowMeter turned into a tuple (TCP/UDP it could decode). */
  tupled: number;
  rows: number;
  warnings: CaptureWarning[];
}

export interface FlowMeterStream extends AsyncIterable<FlowMeterRow> {
  readonly stats: FlowMeterStats;
}

/**
 * Reproduces deepfence/FlowMeter's CSV (cd2f889, see FLOWMETER_SPEC.md) for each capture, bugs included: the 5-tuple
 * key of the first packet with no timeouts and no eviction, an 83-packet cap, flows of ≥ 15 packets only,
 * swapped src/dst columns, captured frame sizes, per-direction IAT arrays concatenated for the "flow" IATs,
 * microsecond truncation and the first element left out of time stds. Each capture is a separate FlowMeter run.
 * Rows come per capture in order of first packet (FlowMeter's own order is random).
 */
export function extractFlowMeterRows(
  files: string | readonly string[],
  options: FlowMeterOptions,
): FlowMeterStream {
  const stats: FlowMeterStats = { captures: 0, packets: 0, tupled: 0, rows: 0, warnings: [] };
  const list = typeof files === "string" ? [files] : files;
  const rows = runFlowMeter(list, options, stats);
  return { stats, [Symbol.asyncIterator]: () => rows[Symbol.asyncIterator]() };
}

async function* runFlowMeter(
  files: readonly string[],
  options: FlowMeterOptions,
  stats: FlowMeterStats,
): AsyncGenerator<FlowMeterRow> {
  const warn = (w: CaptureWarning) => {
    stats.warnings.push(w);
    options.onWarning?.(w);
  };
  for (let index = 0; index < files.length; index++) {
    const file = files[index];
    const reader = await CaptureReader.open(file, { chunkSize: options.chunkSize, onWarning: warn });
    stats.captures++;
    const run = new FlowMeterRun(file, options);
    const progress = () =>
      options.onProgress?.({
        capture: file,
        captureIndex: index,
        bytesRead: reader.position,
        bytesTotal: reader.size,
        packets: stats.packets,
        flows: stats.rows,
      });
    try {
      const max = options.maxPackets ?? Number.POSITIVE_INFINITY;
      let more = true;
      while (more && run.packets < max) {
        more = await reader.readBatch((rec) => {
          if (run.packets >= max) return;
          // libpcap hands out at most snaplen bytes of a record.
          const caplen =
            rec.snapLen > 0 && rec.capturedLength > rec.snapLen ? rec.snapLen : rec.capturedLength;
          run.add(rec.data, rec.offset, caplen, rec.tsSec, rec.tsNsec);
        });
        progress();
      }
    } finally {
      await reader.close();
    }
    stats.packets += run.packets;
    stats.tupled += run.tupled;
    for (const row of run.finish()) {
      stats.rows++;
      yield row;
    }
  }
}

/**
 * FlowMeter's per-flow state. It keeps the accepted packets (at most 83) as flat (sec, nsec, size, direction)
 * quadruples — one array per flow, since FlowMeter never forgets a flow — and computes the statistics once, exactly.
 */
class FlowState {
  readonly packets: number[];

  constructor(
    readonly key: string,
    sec: number,
    nsec: number,
    size: number,
    direction: number,
  ) {
    this.packets = [sec, nsec, size, direction];
  }

  get length(): number {
    return this.packets.length / 4;
  }
}

const FWD = 0;
const BWD = 1;
const NEITHER = 2;

class FlowMeterRun {
  packets = 0;
  tupled = 0;
  private readonly flows = new Map<string, FlowState>();
  /** FlowMeter's flowSave: rows written at a save interval stay unless a later save overwrites them. */
  private readonly saved = new Map<string, FlowMeterRow>();
  private readonly decoder: GopacketTuple;

  constructor(
    private readonly file: string,
    private readonly options: FlowMeterOptions,
  ) {
    this.decoder = new GopacketTuple(options.portNames);
  }

  add(d: Uint8Array, offset: number, size: number, sec: number, nsec: number): void {
    this.packets++;
    const dec = this.decoder;
    if (!dec.decode(d, offset, offset + size)) return;
    this.tupled++;
    const flows = this.flows;
    let key = dec.tuple;
    let direction: number;
    let flow: FlowState | undefined;
    const localIp = this.options.localIp;
    if (localIp !== undefined) {
      if (key.slice(0, key.indexOf("--")) === localIp) direction = FWD;
      else {
        key = dec.reverse;
        direction = BWD;
      }
      flow = flows.get(key);
    } else {
      flow = flows.get(key);
      const reverse = flows.get(dec.reverse);
      if (flow === undefined && reverse !== undefined) {
        flow = reverse;
        key = dec.reverse;
        direction = BWD;
      } else direction = reverse !== undefined ? NEITHER : FWD;
    }
    if (flow === undefined) flows.set(key, new FlowState(key, sec, nsec, size, direction));
    else if (flow.length <= MAX_PACKETS_BEFORE) flow.packets.push(sec, nsec, size, direction);
    if (SAVE_INTERVALS.has(this.packets)) this.save();
  }

  /** FlowMeter's saveFlow: (re)writes the rows of every flow that currently passes the output filter. */
  private save(): void {
    for (const flow of this.flows.values()) {
      const row = this.row(flow);
      if (row !== null) this.saved.set(flow.key, row);
    }
  }

  finish(): FlowMeterRow[] {
    this.save();
    return [...this.saved.values()];
  }

  private row(flow: FlowState): FlowMeterRow | null {
    const p = flow.packets;
    const n = p.length / 4;
    if (n < MIN_PACKETS_PER_FLOW) return null;
    const duration = nanos(p[p.length - 4], p[p.length - 3]) - nanos(p[0], p[1]);
    if (duration < 0n) return null;
    // FlowMeter's arrays: per-direction times and sizes, and PacketSizeArr (both directions, arrival order).
    const fwdTimes: number[] = [];
    const bwdTimes: number[] = [];
    const fwdSizes: number[] = [];
    const bwdSizes: number[] = [];
    const sizes: number[] = [];
    for (let i = 0; i < p.length; i += 4) {
      if (p[i + 3] === FWD) {
        fwdTimes.push(p[i], p[i + 1]);
        fwdSizes.push(p[i + 2]);
      } else if (p[i + 3] === BWD) {
        bwdTimes.push(p[i], p[i + 1]);
        bwdSizes.push(p[i + 2]);
      } else continue;
      sizes.push(p[i + 2]);
    }
    const fwdIat = gaps(fwdTimes);
    const bwdIat = gaps(bwdTimes);
    const allIat = [...fwdIat, ...bwdIat];
    const fwdTotal = sum(fwdSizes);
    const bwdTotal = sum(bwdSizes);
    const [sizeMin, sizeMax] = minMax(sizes);
    const [fwdMin, fwdMax] = minMax(fwdSizes);
    const [bwdMin, bwdMax] = minMax(bwdSizes);
    const [iatMin, iatMax] = minMaxBig(allIat);
    const [fwdIatMin, fwdIatMax] = minMaxBig(fwdIat);
    const [bwdIatMin, bwdIatMax] = minMaxBig(bwdIat);
    const values = Float64Array.from([
      Number(duration),
      n,
      fwdSizes.length,
      bwdSizes.length,
      fwdTotal + bwdTotal,
      mean(sizes),
      std(sizes),
      sizeMin,
      sizeMax,
      fwdTotal,
      bwdTotal,
      mean(fwdSizes),
      mean(bwdSizes),
      std(fwdSizes),
      std(bwdSizes),
      fwdMin,
      bwdMin,
      fwdMax,
      bwdMax,
      Number(meanTD(allIat)),
      allIat.length > 1 ? Number(stdTD(allIat)) : 0,
      iatMin,
      iatMax,
      Number(sumBig(fwdIat)),
      Number(sumBig(bwdIat)),
      Number(meanTD(fwdIat)),
      Number(meanTD(bwdIat)),
      Number(stdTD(fwdIat)),
      Number(stdTD(bwdIat)),
      fwdIatMin,
      bwdIatMin,
      fwdIatMax,
      bwdIatMax,
    ]);
    const parts = flow.key.split("--");
    return {
      capture: this.file,
      fiveTuple: flow.key,
      srcIP: parts[1],
      dstIP: parts[0],
      protocol: parts[2],
      srcPort: parts[4],
      dstPort: parts[3],
      values,
    };
  }
}

function nanos(sec: number, nsec: number): bigint {
  return BigInt(sec) * 1_000_000_000n + BigInt(nsec);
}

/** Consecutive differences of (sec, nsec) pairs, exact (time.Time.Sub). */
function gaps(times: number[]): bigint[] {
  const out: bigint[] = [];
  for (let i = 2; i < times.length; i += 2) {
    out.push(nanos(times[i], times[i + 1]) - nanos(times[i - 2], times[i - 1]));
  }
  return out;
}

function sum(values: number[]): number {
  let s = 0;
  for (const v of values) s += v;
  return s;
}

function sumBig(values: bigint[]): bigint {
  let s = 0n;
  for (const v of values) s += v;
  return s;
}

/** common.Mean: float64(sum) / n, 0 for an empty array. */
function mean(values: number[]): number {
  return values.length === 0 ? 0 : sum(values) / values.length;
}

/** common.StdDev: population std, the mean recomputed in float64 for every term, 0 for an empty array. */
function std(values: number[]): number {
  if (values.length === 0) return 0;
  const m = mean(values);
  let square = 0;
  for (const v of values) square += (v - m) * (v - m);
  return Math.sqrt(square / values.length);
}

function minMax(values: number[]): [number, number] {
  if (values.length === 0) return [0, 0];
  let lo = values[0];
  let hi = values[0];
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}

function minMaxBig(values: bigint[]): [number, number] {
  if (values.length === 0) return [0, 0];
  let lo = values[0];
  let hi = values[0];
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [Number(lo), Number(hi)];
}

/**
 * common.MeanTimeDuration: the sum truncated to whole µs, divided as float64, truncated to whole µs. An empty
 * array gives NaN in Go, which time.Duration(NaN) * 1000 wraps to 0 on amd64.
 */
function meanTD(values: bigint[]): bigint {
  if (values.length === 0) return 0n;
  const micros = Number(sumBig(values) / 1000n) / values.length;
  return BigInt(Math.trunc(micros)) * 1000n;
}

/**
 * common.StdDevTimeDuration: deviations from meanTD truncated to whole µs, squared and summed in float64 — from the
 * second element on — then divided by n (all elements), square-rooted and truncated to whole µs.
 */
function stdTD(values: bigint[]): bigint {
  if (values.length === 0) return 0n;
  const m = meanTD(values);
  let square = 0;
  for (let j = 1; j < values.length; j++) {
    const dev = Number((values[j] - m) / 1000n);
    square += dev * dev;
  }
  return BigInt(Math.trunc(Math.sqrt(square / values.length))) * 1000n;
}

/**
 * FlowMeter's 39 model features of a row: its 33 numeric columns, then the 6 *PerTime columns (count or bytes per
 * ns of flowDuration; ±Infinity or NaN when flowDuration is 0, as in FlowMeter, whose ML script drops such rows).
 */
export function flowMeterFeatures(values: ArrayLike<number>): Float64Array {
  const out = new Float64Array(FLOWMETER_FEATURES.length);
  for (let i = 0; i < 33; i++) out[i] = values[i];
  const duration = values[0];
  const perTime = [1, 2, 3, 4, 9, 10]; // flowLength, fwd/bwdFlowLength, packetSizeTotal, fwd/bwdPacketSizeTotal
  for (let i = 0; i < 6; i++) out[33 + i] = values[perTime[i]] / duration;
  return out;
}
