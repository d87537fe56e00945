import { UsageError } from "../core/errors.ts";
import { PAD } from "./vocabulary.ts";

/**
 * Number of windows `windows` cuts from a trace of `traceLength` syscalls: 0 for an empty trace, 1 for a trace no
 * longer than the window, otherwise one every `stride` syscalls plus, when the stride does not land on the end, one
 * more aligned to the end, so that every syscall (in particular the last ones, where an attack may sit) is in a window.
 */
export function windowCount(traceLength: number, length: number, stride: number): number {
  checkShape(length, stride);
  if (traceLength === 0) return 0;
  if (traceLength <= length) return 1;
  const strided = Math.floor((traceLength - length) / stride) + 1;
  return (traceLength - length) % stride === 0 ? strided : strided + 1;
}

/**
 * Sliding windows over an encoded trace, flattened row-major: window i is `out.subarray(i * length, (i + 1) *
 * length)`. A trace shorter than `length` gives one window with the trace at the start and PAD (0) after it, so
 * short traces are scored rather than dropped; models should treat 0 as "no syscall". An empty trace gives none.
 */
export function windows(encoded: Int32Array, length: number, stride: number): Int32Array {
  const count = windowCount(encoded.length, length, stride);
  const out = new Int32Array(count * length);
  if (count === 0) return out;
  if (encoded.length <= length) {
    out.set(encoded);
    out.fill(PAD, encoded.length);
    return out;
  }
  for (let i = 0; i < count; i++) {
    const start = Math.min(i * stride, encoded.length - length);
    out.set(encoded.subarray(start, start + length), i * length);
  }
  return out;
}

function checkShape(length: number, stride: number): void {
  if (!Number.isInteger(length) || length < 1)
    throw new UsageError(`window length must be an integer ≥ 1, got ${length}`);
  if (!Number.isInteger(stride) || stride < 1)
    throw new UsageError(`window stride must be an integer ≥ 1, got ${stride}`);
}
