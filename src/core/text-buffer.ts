import { once } from "node:events";
import { closeSync, openSync, writeSync } from "node:fs";
import type { Writable } from "node:stream";

/**
 * Text built as bytes in one reused buffer, for outputs of millions of numbers (flow CSVs). `String(x)` costs
 * ~300 ns for a non-integer double in V8 (its shortest round-trip algorithm) and string concatenation makes garbage
 * per cell; writing digits straight into a buffer costs a tenth of that. Callers fill the buffer and `flush` it to a
 * ByteSink whenever `length` passes `flushAt`.
 */
export class TextBuffer {
  bytes: Buffer;
  length = 0;
  private readonly digits = new Uint8Array(24);

  constructor(
    /** Bytes after which a caller should flush; the buffer has room for one more long row past it. */
    readonly flushAt = 1 << 20,
  ) {
    this.bytes = Buffer.allocUnsafe(flushAt + (1 << 16));
  }

  /** Makes room for `n` more bytes (only rows longer than 64 KiB need it). */
  reserve(n: number): void {
    if (this.length + n <= this.bytes.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.bytes.length * 2, this.length + n));
    this.bytes.copy(grown, 0, 0, this.length);
    this.bytes = grown;
  }

  byte(c: number): void {
    this.bytes[this.length++] = c;
  }

  /** A string as UTF-8. */
  text(s: string): void {
    this.reserve(s.length * 3);
    this.length += this.bytes.write(s, this.length, "utf8");
  }

  /** Pre-encoded bytes (e.g. a cached quoted field). */
  raw(b: Uint8Array): void {
    this.reserve(b.length);
    this.bytes.set(b, this.length);
    this.length += b.length;
  }

  /** A non-negative integer below 2^53, exactly. */
  uint(v: number): void {
    if (v < 100000000) {
      this.length = writeSmall(this.bytes, this.length, v);
      return;
    }
    // Two int32 halves: the low 8 digits zero-padded.
    const hi = Math.floor(v / 100000000);
    const at = writeSmall(this.bytes, this.length, hi);
    this.length = writePadded8(this.bytes, at - 1, v - hi * 100000000);
  }

  /** A non-negative integer below 2^31 as exactly `width` digits, zero-padded (`width` ≥ its own digits). */
  padded(v: number, width: number): void {
    const bytes = this.bytes;
    let x = v | 0;
    for (let i = this.length + width - 1; i >= this.length; i--) {
      const q = (x / 10) | 0;
      bytes[i] = 48 + x - q * 10;
      x = q;
    }
    this.length += width;
  }

  /**
   * A number as text that JavaScript's Number() reads back: integers below 2^53 exactly; other finite values with
   * 15 significant digits (relative error ≤ 5e-15, a few units in the last place of a double), in plain notation
   * for magnitudes in [1e-6, 1e21) and exponent notation ("7.62631077216397e-8") outside, like String(). Values
   * with at most 15 significant digits (0.5, 99.25, FlowMeter's 6-decimal cells) come back exactly.
   */
  number(v: number): void {
    if (v < 0) {
      this.bytes[this.length++] = 45; // "-"
      v = -v;
    }
    if (v < 9007199254740992 && Math.floor(v) === v) {
      this.uint(v);
      return;
    }
    if (!(v <= 1e308)) {
      this.text(String(v)); // NaN, Infinity, and the largest doubles that 15 digits would round past the maximum
      return;
    }
    let e = exponentOf(v);
    const k = 14 - e;
    // Subnormals need a scale past the largest double: apply it in two steps.
    let d = Math.round(k > 300 ? v * pow10(k - 300) * 1e300 : k >= 0 ? v * pow10(k) : v / pow10(-k));
    if (d >= 1e15) {
      d = Math.round(d / 10);
      e++;
    }
    // The 15 digits of d as two int32 halves (7 + 8 digits), trailing zeros dropped.
    const digits = this.digits;
    const hi = Math.floor(d / 100000000);
    writePadded8(digits, 6, d - hi * 100000000); // digits[7..14]
    writePadded8(digits, -2, hi); // digits[0..6]; its leading zero would go to [-1] and is skipped
    let last = 14;
    while (last > 0 && digits[last] === 48) last--;
    const bytes = this.bytes;
    let at = this.length;
    if (e >= 21 || e < -6) {
      bytes[at++] = digits[0];
      if (last > 0) {
        bytes[at++] = 46;
        for (let i = 1; i <= last; i++) bytes[at++] = digits[i];
      }
      bytes[at++] = 101; // "e"
      if (e > 0)
        bytes[at++] = 43; // "+", as String() writes it
      else {
        bytes[at++] = 45;
        e = -e;
      }
      this.length = writeSmall(bytes, at, e);
      return;
    }
    if (e < 0) {
      bytes[at++] = 48;
      bytes[at++] = 46;
      for (let i = -1; i > e; i--) bytes[at++] = 48;
      for (let i = 0; i <= last; i++) bytes[at++] = digits[i];
    } else {
      for (let i = 0; i <= e; i++) bytes[at++] = i <= last ? digits[i] : 48;
      if (last > e) {
        bytes[at++] = 46;
        for (let i = e + 1; i <= last; i++) bytes[at++] = digits[i];
      }
    }
    this.length = at;
  }

  /**
   * `values[0 .. count)` as `number` writes them, separated by commas (room for them must have been reserved).
   * Flow features are mostly 0 and small counts (97 % of the cells of an attack-heavy capture): those are written
   * here without a call, the rest by `number`.
   */
  numbers(values: Float64Array, count: number): void {
    const bytes = this.bytes;
    let at = this.length;
    for (let i = 0; i < count; i++) {
      if (i > 0) bytes[at++] = 44;
      const v = values[i];
      if (v === 0) bytes[at++] = 48;
      else if (v > 0 && v < 100000000 && (v | 0) === v) {
        if (v < 10) bytes[at++] = 48 + v;
        else if (v < 100) {
          const tens = (v / 10) | 0;
          bytes[at++] = 48 + tens;
          bytes[at++] = 48 + v - tens * 10;
        } else at = writeSmall(bytes, at, v);
      } else {
        this.length = at;
        this.number(v);
        at = this.length;
      }
    }
    this.length = at;
  }

  /** Hands the bytes so far to `sink` and empties the buffer. */
  flush(sink: ByteSink): void | Promise<void> {
    if (this.length === 0) return;
    const done = sink.write(this.bytes.subarray(0, this.length));
    this.length = 0;
    return done;
  }
}

const POW10 = Float64Array.from({ length: 700 }, (_, i) => 10 ** (i - 350));

function pow10(e: number): number {
  return POW10[e + 350];
}

/** floor(log10(v)) for a positive finite v, exactly (Math.log10 can be one off next to a power of ten). */
function exponentOf(v: number): number {
  const e = Math.floor(Math.log10(v));
  if (v < POW10[e + 350]) return e - 1;
  if (v >= POW10[e + 351]) return e + 1;
  return e;
}

/** Writes an integer in [0, 1e8) at `at`; returns the end. */
function writeSmall(out: Uint8Array, at: number, v: number): number {
  let n =
    v < 10
      ? 1
      : v < 100
        ? 2
        : v < 1000
          ? 3
          : v < 10000
            ? 4
            : v < 100000
              ? 5
              : v < 1000000
                ? 6
                : v < 10000000
                  ? 7
                  : 8;
  const end = at + n;
  let x = v | 0;
  while (n-- > 0) {
    const q = (x / 10) | 0;
    out[at + n] = 48 + x - q * 10;
    x = q;
  }
  return end;
}

/** Writes an integer in [0, 1e8) as exactly 8 digits (zero-padded) at `at + 1`…`at + 8`; returns the end. */
function writePadded8(out: Uint8Array, at: number, v: number): number {
  let x = v | 0;
  for (let i = 8; i >= 1; i--) {
    const q = (x / 10) | 0;
    if (at + i >= 0) out[at + i] = 48 + x - q * 10;
    x = q;
  }
  return at + 9;
}

/** Where a TextBuffer's bytes go. */
export interface ByteSink {
  /**
   * Writes the bytes, or copies them: the caller reuses the buffer as soon as this returns. A promise means "wait
   * before writing more" (back-pressure).
   */
  write(bytes: Uint8Array): void | Promise<void>;
  close(): Promise<void>;
}

/** Writes all of `bytes` to `fd` (one writeSync may write less than asked). */
export function writeAllSync(fd: number, bytes: Uint8Array): void {
  let off = 0;
  while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
}

/** A file written with plain synchronous writes: one large write per flush, no event-loop round trip. */
export class FileSink implements ByteSink {
  /** Open until `close`: another thread may write to it too (FlowCsvThreadWriter). */
  readonly fd: number;

  constructor(path: string) {
    this.fd = openSync(path, "w");
  }

  write(bytes: Uint8Array): void {
    writeAllSync(this.fd, bytes);
  }

  async close(): Promise<void> {
    closeSync(this.fd);
  }
}

/** A Node stream (stdout, a pipe), honouring its back-pressure. */
export class StreamSink implements ByteSink {
  constructor(private readonly stream: Writable) {}

  write(bytes: Uint8Array): void | Promise<void> {
    // A stream keeps a reference to what it has not written yet: give it a copy.
    if (!this.stream.write(Buffer.from(bytes))) return once(this.stream, "drain").then(() => undefined);
  }

  async close(): Promise<void> {}
}
