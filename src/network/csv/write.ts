import { once } from "node:events";
import type { Writable } from "node:stream";
import { csvField } from "../../core/csv.ts";
import { FLOWMETER_CSV_COLUMNS, type FlowMeterRow } from "../flowmeter/compat.ts";
import { goCsvField, goFormatFloat } from "../flowmeter/format.ts";
import { flowFeatureNames } from "../flows/features.ts";
import type { Flow } from "../flows/table.ts";

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

export const FLOW_CSV_COLUMNS: readonly string[] = [...FLOW_META_COLUMNS, ...flowFeatureNames];

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

function flowToLine(flow: Flow): string {
  return flowToRow(flow)
    .map((v) => (typeof v === "number" ? String(v) : csvField(v)))
    .join(",");
}

type Many<T> = AsyncIterable<T> | Iterable<T>;

/**
 * Writes a header and one line per flow, streaming with back-pressure; resolves to the number of rows. With
 * `compat`, rows are FlowMeter rows and the file is byte-for-byte FlowMeter's format (header included).
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
  const compat = options.compat === true;
  const toLine = compat
    ? (r: Flow | FlowMeterRow) => flowMeterRowToLine(r as FlowMeterRow)
    : (r: Flow | FlowMeterRow) => flowToLine(r as Flow);
  let pending = `${(compat ? FLOWMETER_CSV_COLUMNS : FLOW_CSV_COLUMNS).join(",")}\n`;
  let rows = 0;
  const flushAt = 1 << 16;
  for await (const flow of flows as AsyncIterable<Flow | FlowMeterRow>) {
    pending += `${toLine(flow)}\n`;
    rows++;
    if (pending.length >= flushAt) {
      if (!stream.write(pending)) await once(stream, "drain");
      pending = "";
    }
  }
  if (pending.length > 0 && !stream.write(pending)) await once(stream, "drain");
  return rows;
}
