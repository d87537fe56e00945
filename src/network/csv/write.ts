import type { Writable } from "node:stream";
import { csvField } from "../../core/csv.ts";
import { StreamSink, TextBuffer } from "../../core/text-buffer.ts";
import { formatIpv6 } from "../capture/ip.ts";
import { FLOWMETER_CSV_COLUMNS, type FlowMeterRow } from "../flowmeter/compat.ts";
import { goCsvField, goFormatFloat } from "../flowmeter/format.ts";
import { flowFeatureNames, PER_FLOW_FEATURES } from "../flows/features.ts";
import { END_REASONS, type Flow, type FlowCursor } from "../flows/table.ts";

/** Identifying columns of a flow CSV, before the features. Times are "seconds.nanoseconds" since 1970, exact. */
export const FLOW_META_COLUMNS: readonly string[] = [
  "capture",
  "srcIp",
  "srcPort",
  "dstIp",
  "dstPort",
  "protocol",
  "ipVersion",
  "startTime",
  "endTime",
  "endReason",
];

/** Columns of a flow CSV with context (`network flows --context`), and without (the default). */
export const FLOW_CSV_COLUMNS: readonly string[] = [...FLOW_META_COLUMNS, ...flowFeatureNames];
export const FLOW_CSV_COLUMNS_NO_CONTEXT: readonly string[] = [...FLOW_META_COLUMNS, ...PER_FLOW_FEATURES];

/** Exact "sec.nnnnnnnnn" text of a timestamp. */
export function formatTimestamp(sec: number, nsec: number): string {
  return `${sec}.${String(nsec).padStart(9, "0")}`;
}

/** A flow as a row of FLOW_CSV_COLUMNS. */
export function flowToRow(flow: Flow): (string | number)[] {
  const row: (string | number)[] = [
    flow.capture,
    flow.srcIp,
    flow.srcPort,
    flow.dstIp,
    flow.dstPort,
    flow.protocol,
    flow.ipVersion,
    formatTimestamp(flow.startSec, flow.startNsec),
    formatTimestamp(flow.endSec, flow.endNsec),
    flow.endReason,
  ];
  for (const v of flow.features) row.push(v);
  return row;
}

export function flowsToRows(flows: Iterable<Flow>): (string | number)[][] {
  return Array.from(flows, flowToRow);
}

/** A FlowMeter row as FlowMeter's Go code writes it (`%f` numbers, Go CSV quoting). */
export function flowMeterRowToLine(row: FlowMeterRow): string {
  const cells = [row.fiveTuple, row.srcIP, row.dstIP, row.protocol, row.srcPort, row.dstPort].map(goCsvField);
  for (const v of row.values) cells.push(goFormatFloat(v));
  return cells.join(",");
}

type Many<T> = AsyncIterable<T> | Iterable<T>;

/**
 * Writes a header and one line per flow, streaming with back-pressure; resolves to the number of rows. With
 * `compat`, rows are FlowMeter rows and the file is byte-for-byte FlowMeter's format (header included). Threatlens
 * rows are the text FlowCsvRowWriter writes.
 */
export async function writeFlowsCsv(
  stream: Writable,
  flows: Many<Flow>,
  options?: { compat?: false },
): Promise<number>;
export async function writeFlowsCsv(
  stream: Writable,
  flows: Many<FlowMeterRow>,
  options: { compat: true },
): Promise<number>;
export async function writeFlowsCsv(
  stream: Writable,
  flows: Many<Flow> | Many<FlowMeterRow>,
  options: { compat?: boolean } = {},
): Promise<number> {
  const sink = new StreamSink(stream);
  const out = new TextBuffer(1 << 16);
  const compat = options.compat === true;
  const writer = new FlowCsvRowWriter(out);
  if (compat) out.text(`${FLOWMETER_CSV_COLUMNS.join(",")}\n`);
  else writer.header();
  let rows = 0;
  for await (const flow of flows as AsyncIterable<Flow | FlowMeterRow>) {
    if (compat) out.text(`${flowMeterRowToLine(flow as FlowMeterRow)}\n`);
    else writer.flow(flow as Flow);
    rows++;
    if (out.length >= out.flushAt) await out.flush(sink);
  }
  await out.flush(sink);
  return rows;
}

/**
 * Writes flows as rows of FLOW_CSV_COLUMNS straight from the flow table (FlowCursor) into a TextBuffer: the same
 * text as flowToRow gives, except that non-integer numbers have 15 significant digits (see TextBuffer.number).
 */
export class FlowCsvRowWriter {
  private readonly features = new Float64Array(flowFeatureNames.length);
  private readonly captures = new Map<number, Buffer>();
  private readonly reasons = END_REASONS.map((r) => Buffer.from(`${r},`));
  /** An upper bound of one row's length past the capture name: numbers take at most 24 bytes. */
  private readonly rowBound = 200 + 25 * flowFeatureNames.length;
  /** Features written per row: all, or the flow's own statistics only (no context columns). */
  private readonly width: number;

  constructor(
    private readonly out: TextBuffer,
    readonly context = true,
  ) {
    this.width = context ? flowFeatureNames.length : PER_FLOW_FEATURES.length;
  }

  header(): void {
    this.out.text(`${(this.context ? FLOW_CSV_COLUMNS : FLOW_CSV_COLUMNS_NO_CONTEXT).join(",")}\n`);
  }

  /** A flow still in the flow table (the fast path: no Flow object, addresses written from their words). */
  row(flow: FlowCursor): void {
    const out = this.out;
    let capture = this.captures.get(flow.source);
    if (capture === undefined) {
      capture = Buffer.from(`${csvField(flow.capture)},`);
      this.captures.set(flow.source, capture);
    }
    out.reserve(capture.length + this.rowBound);
    out.raw(capture);
    this.address(flow.ipVersion, flow.src);
    out.uint(flow.srcPort);
    out.byte(44);
    this.address(flow.ipVersion, flow.dst);
    out.uint(flow.dstPort);
    out.byte(44);
    this.rest(flow, flow.endReasonIndex, flow.features(this.features));
  }

  /** A Flow object: the same text as `row` gives for that flow. */
  flow(flow: Flow): void {
    const out = this.out;
    out.reserve(this.rowBound + 3 * flow.capture.length);
    out.text(`${csvField(flow.capture)},${flow.srcIp},`);
    out.uint(flow.srcPort);
    out.text(`,${flow.dstIp},`);
    out.uint(flow.dstPort);
    out.byte(44);
    this.rest(flow, END_REASONS.indexOf(flow.endReason), flow.features);
  }

  private rest(
    flow: Pick<Flow, "protocol" | "ipVersion" | "startSec" | "startNsec" | "endSec" | "endNsec">,
    reason: number,
    values: Float64Array,
  ): void {
    const out = this.out;
    out.uint(flow.protocol);
    out.byte(44);
    out.uint(flow.ipVersion);
    out.byte(44);
    this.time(flow.startSec, flow.startNsec);
    this.time(flow.endSec, flow.endNsec);
    out.raw(this.reasons[reason]);
    out.numbers(values, this.width);
    out.byte(10);
  }

  private address(version: number, words: Uint32Array): void {
    const out = this.out;
    if (version === 4) {
      const w = words[0];
      out.uint(w >>> 24);
      out.byte(46);
      out.uint((w >>> 16) & 255);
      out.byte(46);
      out.uint((w >>> 8) & 255);
      out.byte(46);
      out.uint(w & 255);
    } else out.text(formatIpv6(words));
    out.byte(44);
  }

  /** "sec.nnnnnnnnn," as formatTimestamp writes it. */
  private time(sec: number, nsec: number): void {
    const out = this.out;
    out.uint(sec);
    out.byte(46);
    out.padded(nsec, 9);
    out.byte(44);
  }
}
