import { InputError, UsageError } from "../core/errors.ts";
import { seededRandom, shuffleInPlace } from "../core/random.ts";
import type { Trace } from "./traces/index.ts";
import { UNKNOWN, type Vocabulary } from "./vocabulary.ts";
import { windowCount, windows } from "./windows.ts";

/**
 * Traces in flat typed arrays: syscall names become ids into `names` (every name of the set, whatever a model's
 * vocabulary keeps), and trace i is `tokens[offsets[i], offsets[i+1])`. Typed arrays on SharedArrayBuffers cross to
 * worker threads without a copy per task, and a model re-encodes them with its own vocabulary in one pass.
 */
export interface TraceSet {
  names: string[];
  tokens: Int32Array;
  offsets: Int32Array;
  ids: string[];
  /** Attack family per trace (ADFA-LD `Attack_Data_Master/<Type>_<k>/`), null elsewhere. */
  attackTypes: (string | null)[];
  /** The program each trace ran, when its input names it. */
  programs: (string | null)[];
  /** The file each trace came from (traces of one file are consecutive, in order of appearance). */
  sources: string[];
}

export function toTraceSet(traces: readonly Trace[], shared = false): TraceSet {
  const nameId = new Map<string, number>();
  const names: string[] = [];
  let total = 0;
  for (const t of traces) total += t.names.length;
  const tokens = int32Array(total, shared);
  const offsets = int32Array(traces.length + 1, shared);
  let at = 0;
  traces.forEach((t, i) => {
    for (const name of t.names) {
      let id = nameId.get(name);
      if (id === undefined) {
        id = names.length;
        names.push(name);
        nameId.set(name, id);
      }
      tokens[at++] = id;
    }
    offsets[i + 1] = at;
  });
  return {
    names,
    tokens,
    offsets,
    ids: traces.map((t) => t.id),
    attackTypes: traces.map((t) => t.attackType ?? null),
    programs: traces.map((t) => t.program ?? null),
    sources: traces.map((t) => t.source),
  };
}

function int32Array(length: number, shared: boolean): Int32Array {
  return shared ? new Int32Array(new SharedArrayBuffer(length * 4)) : new Int32Array(length);
}

export function traceCount(set: TraceSet): number {
  return set.offsets.length - 1;
}

export function traceLength(set: TraceSet, i: number): number {
  return set.offsets[i + 1] - set.offsets[i];
}

/** The syscall names of trace i. */
export function traceNames(set: TraceSet, i: number): string[] {
  return Array.from(set.tokens.subarray(set.offsets[i], set.offsets[i + 1]), (id) => set.names[id]);
}

/** The traces at `indexes` as a new set (sharing nothing with the original). */
export function subset(set: TraceSet, indexes: readonly number[]): TraceSet {
  let total = 0;
  for (const i of indexes) total += traceLength(set, i);
  const tokens = new Int32Array(total);
  const offsets = new Int32Array(indexes.length + 1);
  indexes.forEach((i, k) => {
    tokens.set(set.tokens.subarray(set.offsets[i], set.offsets[i + 1]), offsets[k]);
    offsets[k + 1] = offsets[k] + traceLength(set, i);
  });
  return {
    names: set.names,
    tokens,
    offsets,
    ids: indexes.map((i) => set.ids[i]),
    attackTypes: indexes.map((i) => set.attackTypes[i]),
    programs: indexes.map((i) => set.programs[i]),
    sources: indexes.map((i) => set.sources[i]),
  };
}

/** Drops traces without syscalls (they have no window to score); returns the kept set and the dropped ids. */
export function dropEmpty(set: TraceSet): { set: TraceSet; dropped: string[] } {
  const kept: number[] = [];
  const dropped: string[] = [];
  for (let i = 0; i < traceCount(set); i++) {
    if (traceLength(set, i) > 0) kept.push(i);
    else dropped.push(set.ids[i]);
  }
  return dropped.length === 0 ? { set, dropped } : { set: subset(set, kept), dropped };
}

/**
 * A seeded split of whole traces into a part to fit on and a held-out part (early stopping, threshold). Splitting by
 * trace, not by window, matters: overlapping windows of one trace on both sides would make held-out scores look
 * like training scores and put the threshold too low. Indexes come back ascending; both parts are non-empty.
 */
export function splitByTrace(
  traces: number,
  heldOutFraction: number,
  seed: number,
): { fit: number[]; heldOut: number[] } {
  if (traces < 2) throw new InputError(`at least 2 normal traces are needed to hold some out, got ${traces}`);
  if (!(heldOutFraction > 0 && heldOutFraction < 1))
    throw new UsageError(`heldOutFraction must be in (0, 1), got ${heldOutFraction}`);
  const heldCount = Math.min(traces - 1, Math.max(1, Math.round(traces * heldOutFraction)));
  const order = shuffleInPlace(
    Array.from({ length: traces }, (_, i) => i),
    seededRandom(seed),
  );
  const held = new Set(order.slice(0, heldCount));
  const fit: number[] = [];
  const heldOut: number[] = [];
  for (let i = 0; i < traces; i++) (held.has(i) ? heldOut : fit).push(i);
  return { fit, heldOut };
}

/** Trace i encoded with `vocabulary`. */
export function encodeTrace(set: TraceSet, i: number, toModel: Int32Array): Int32Array {
  return Int32Array.from(set.tokens.subarray(set.offsets[i], set.offsets[i + 1]), (id) => toModel[id]);
}

/** The vocabulary id of each of the set's names (`set.names[k]` → `toModel[k]`). */
export function vocabularyMap(set: TraceSet, vocabulary: Vocabulary): Int32Array {
  return Int32Array.from(set.names, (name) => vocabulary.indexOf(name));
}

/** Names per trace, for fitting a vocabulary without materialising every trace's names at once. */
export function* namesPerTrace(set: TraceSet): Generator<string[]> {
  for (let i = 0; i < traceCount(set); i++) yield traceNames(set, i);
}

/**
 * An encoded trace without its timing syscalls (ids flagged in `timing`, see ModelConfig.timingSyscalls): the order
 * of syscalls that the sequence signals read.
 */
export function withoutTiming(encoded: Int32Array, timing: Uint8Array): Int32Array {
  let kept = 0;
  for (const token of encoded) if (timing[token] === 0) kept++;
  if (kept === encoded.length) return encoded;
  const out = new Int32Array(kept);
  let at = 0;
  for (const token of encoded) if (timing[token] === 0) out[at++] = token;
  return out;
}

/** Windows of every trace encoded with `vocabulary`, and where each trace's windows start (n+1 offsets). */
export interface EncodedWindows {
  windows: Int32Array;
  offsets: Int32Array;
  /** Syscalls per trace that the vocabulary maps to the unknown token. */
  unknown: Int32Array;
}

export function encodeWindows(
  set: TraceSet,
  vocabulary: Vocabulary,
  length: number,
  stride: number,
  /** Ids left out of the windows (timing syscalls); none when omitted. */
  timing?: Uint8Array,
): EncodedWindows {
  const toModel = Int32Array.from(set.names, (name) => vocabulary.indexOf(name));
  const n = traceCount(set);
  const offsets = new Int32Array(n + 1);
  const unknown = new Int32Array(n);
  const sequences = Array.from({ length: n }, (_, i) => {
    const encoded = Int32Array.from(
      set.tokens.subarray(set.offsets[i], set.offsets[i + 1]),
      (id) => toModel[id],
    );
    for (const token of encoded) if (token === UNKNOWN) unknown[i]++;
    return timing ? withoutTiming(encoded, timing) : encoded;
  });
  for (let i = 0; i < n; i++) offsets[i + 1] = offsets[i] + windowCount(sequences[i].length, length, stride);
  const out = new Int32Array(offsets[n] * length);
  for (let i = 0; i < n; i++) out.set(windows(sequences[i], length, stride), offsets[i] * length);
  return { windows: out, offsets, unknown };
}
