/**
 * The records the collector's bpftrace script prints (the list is in data/collector/common.bt): a letter, a fixed
 * number of space-separated integers, then at most one free-form string that runs to the end of the record.
 */
export type BpftraceRecord =
  | { kind: "begin"; pid: number }
  | { kind: "pong" }
  | { kind: "stopping"; ts: string }
  | { kind: "added"; pid: number }
  | { kind: "tick"; cpu: number; ts: string }
  | { kind: "fork"; ts: string; childTid: number; comm: string }
  | { kind: "name"; ts: string; tid: number; comm: string }
  | { kind: "exec"; ts: string; pid: number; tid: number; ppid: number; uid: number; filename: string }
  | { kind: "exit"; ts: string; pid: number; tid: number; groupDead: boolean }
  | {
      kind: "file";
      op: number;
      ts: string;
      pid: number;
      tid: number;
      ppid: number;
      uid: number;
      flags: string;
      /** The call's return value (R records: deletes); undefined for events taken at entry. */
      result?: number;
      filename: string;
    }
  | { kind: "syscall"; ts: string; pid: number; tid: number; number: number };

export class RecordError extends Error {}

/** Integer fields, then whether a trailing string follows, per record letter. */
const SHAPES: Record<string, [number, boolean]> = {
  B: [1, false],
  P: [0, false],
  S: [1, false],
  A: [1, false],
  T: [2, false],
  F: [2, true],
  N: [2, true],
  X: [5, true],
  Z: [4, false],
  E: [7, true],
  R: [8, true],
  C: [4, false],
};

const INTEGER = /^-?\d{1,20}$/;

/** A record about a traced task (everything but the control records), in event-time order once restored. */
export type TaskRecord = Exclude<BpftraceRecord, { kind: "begin" | "pong" | "stopping" | "added" | "tick" }>;

/** Parses one record (its trailing newline already removed). Throws RecordError naming what is wrong. */
export function parseRecord(text: string): BpftraceRecord {
  const letter = text[0];
  const shape = SHAPES[letter];
  if (shape === undefined || (text.length > 1 && text[1] !== " ")) {
    throw new RecordError(`unknown record ${JSON.stringify(text.slice(0, 40))}`);
  }
  const [count, hasString] = shape;
  const fields: string[] = [];
  let at = 2;
  for (let f = 0; f < count; f++) {
    const space = text.indexOf(" ", at);
    const stop = space < 0 ? text.length : space;
    const field = text.slice(at, stop);
    if (!INTEGER.test(field)) {
      throw new RecordError(
        `record ${letter}: field ${f + 1} is not an integer in ${JSON.stringify(text.slice(0, 80))}`,
      );
    }
    fields.push(field);
    at = stop + 1;
    if (space < 0 && (f < count - 1 || hasString)) {
      throw new RecordError(
        `record ${letter}: expected ${count} fields in ${JSON.stringify(text.slice(0, 80))}`,
      );
    }
  }
  if (!hasString && at <= text.length && count > 0) {
    throw new RecordError(
      `record ${letter}: unexpected text after ${count} fields in ${JSON.stringify(text.slice(0, 80))}`,
    );
  }
  if (count === 0 && text.length > 1) {
    throw new RecordError(`record ${letter}: unexpected text in ${JSON.stringify(text.slice(0, 80))}`);
  }
  const rest = hasString ? text.slice(at) : "";
  const n = (i: number) => Number(fields[i]);
  switch (letter) {
    case "B":
      return { kind: "begin", pid: n(0) };
    case "P":
      return { kind: "pong" };
    case "S":
      return { kind: "stopping", ts: fields[0] };
    case "A":
      return { kind: "added", pid: n(0) };
    case "T":
      return { kind: "tick", cpu: n(0), ts: fields[1] };
    case "F":
      return { kind: "fork", ts: fields[0], childTid: n(1), comm: rest };
    case "N":
      return { kind: "name", ts: fields[0], tid: n(1), comm: rest };
    case "X":
      return { kind: "exec", ts: fields[0], pid: n(1), tid: n(2), ppid: n(3), uid: n(4), filename: rest };
    case "Z":
      return { kind: "exit", ts: fields[0], pid: n(1), tid: n(2), groupDead: fields[3] !== "0" };
    case "E":
    case "R":
      return {
        kind: "file",
        op: n(0),
        ts: fields[1],
        pid: n(2),
        tid: n(3),
        ppid: n(4),
        uid: n(5),
        flags: fields[6],
        ...(letter === "R" ? { result: n(7) } : {}),
        filename: rest,
      };
    default:
      return { kind: "syscall", ts: fields[0], pid: n(1), tid: n(2), number: n(3) };
  }
}
