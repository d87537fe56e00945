import { headers, type MsgHdrs } from "@nats-io/transport-node";
import type { FilePosition } from "../core/stream/line-sources.ts";
import type { SpoolHeader } from "./spool.ts";

/**
 * The unit agents ship and scorers consume: a batch of one source's lines (up to a few thousand), sent as one
 * JetStream message. One message per event would cap a host at the ~10 k publishes/s a client manages; batches carry
 * hundreds of thousands of events per second. Batches of an agent session are numbered from 0, so a scorer applies
 * each exactly once and in order whatever JetStream redelivers or a retry reorders.
 */
export interface BatchHeader extends SpoolHeader {
  /** The agent session (one agent state directory): batch numbers count within it. */
  session: string;
  host: string;
  detector: string;
  /** The source's name (a log's path): the detector's entity names and alerts use it as `watch` does. */
  source: string;
  /**
   * Line numbers of the payload's lines: runs of [first line, count]. A followed file that is rotated starts again at
   * line 1 in the middle of a batch; the parser needs line 1 to read the new file's header.
   */
  lines: [number, number][];
  /** "b": the source begins with this batch; "e": it ends with it (a file read to its end). */
  flags: string;
  /** Where the source was after the batch's last line (file sources), for an agent restarted to resume there. */
  position: FilePosition | null;
  /** Index of the source in the agent's run (files given on the command line). */
  sourceIndex: number;
  /** Wall-clock time the batch was closed (ms since the epoch): alert latency is measured from here. */
  closedAt: number;
}

export const BATCH_HEADER = "Tl-Batch";

export function batchMsgId(h: Pick<BatchHeader, "session" | "seq">): string {
  return `${h.session}.${h.seq}`;
}

export function batchHeaders(h: BatchHeader): MsgHdrs {
  const hd = headers();
  hd.set(BATCH_HEADER, JSON.stringify(h));
  return hd;
}

/** The batch header of a consumed message, or null when it carries none (not an agent's batch). */
export function readBatchHeader(hd: MsgHdrs | undefined): BatchHeader | null {
  const text = hd?.get(BATCH_HEADER);
  if (!text) return null;
  try {
    const h = JSON.parse(text) as BatchHeader;
    if (typeof h.session !== "string" || !Number.isInteger(h.seq) || !Array.isArray(h.lines)) return null;
    return h;
  } catch {
    return null;
  }
}

/** Calls `visit` for every line of a batch payload with its line number in the source. */
export function forEachLine(
  payload: Uint8Array,
  runs: [number, number][],
  visit: (bytes: Uint8Array, start: number, end: number, line: number) => void,
): number {
  let run = 0;
  let line = runs.length > 0 ? runs[0][0] : 1;
  let left = runs.length > 0 ? runs[0][1] : Number.POSITIVE_INFINITY;
  let start = 0;
  let count = 0;
  const n = payload.length;
  while (start < n) {
    let newline = payload.indexOf(10, start);
    if (newline < 0) newline = n;
    visit(payload, start, newline, line);
    count++;
    start = newline + 1;
    line++;
    if (--left === 0 && ++run < runs.length) {
      line = runs[run][0];
      left = runs[run][1];
    }
  }
  return count;
}
