/**
 * Approximate distinct counting with bounded memory: exact up to EXACT_LIMIT distinct 32-bit hashes (a small
 * open-addressing table), then a HyperLogLog sketch (2^PRECISION one-byte registers, ~2.3 % standard error). Lets
 * per-entity features such as "distinct files touched" keep memory bounded by the number of entities (about 1 KiB
 * each), not by the number of events.
 */
const EXACT_LIMIT = 128;
const FIRST_TABLE_SIZE = 16;
const PRECISION = 11;
const REGISTERS = 1 << PRECISION;
const ALPHA = 0.7213 / (1 + 1.079 / REGISTERS);
/** 2^-rank for every possible register value, so estimating a count needs no Math.pow. */
const INVERSE_POWERS = Float64Array.from({ length: 64 }, (_, r) => 2 ** -r);

export type DistinctCounterJSON = { exact: string; count: number } | { sketch: string };

export class DistinctCounter {
  /** Hash + 1 per slot (0 = empty) while exact; grows from 16 slots, kept at most half full. */
  private table: Uint32Array | null = new Uint32Array(FIRST_TABLE_SIZE);
  private exactCount = 0;
  private registers: Uint8Array | null = null;
  /**
   * Σ 2^-register and the number of zero registers, kept as registers change: a live detector reads the count at
   * every scoring, and summing 2,048 registers each time cost more than the rest of the features. The sum is exact
   * (dyadic terms of at most 33 fractional bits, at most 2,048 of them), so it equals a fresh sum bit for bit.
   */
  private sketchSum = 0;
  private sketchZeros = 0;

  /** Adds a 32-bit hash (see `hashBytes`). */
  add(hash: number): void {
    if (this.table === null) {
      this.addToSketch(hash);
      return;
    }
    if (insert(this.table, hash) && ++this.exactCount > this.table.length / 2) {
      if (this.exactCount > EXACT_LIMIT) this.toSketch();
      else this.grow();
    }
  }

  get count(): number {
    if (this.table !== null) return this.exactCount;
    const sum = this.sketchSum;
    const zeros = this.sketchZeros;
    const estimate = (ALPHA * REGISTERS * REGISTERS) / sum;
    // Small-range correction (linear counting), as in the HyperLogLog paper.
    if (estimate <= 2.5 * REGISTERS && zeros > 0) return Math.round(REGISTERS * Math.log(REGISTERS / zeros));
    return Math.round(estimate);
  }

  /** The counter as JSON-safe data (checkpoints); `DistinctCounter.fromJSON` restores it exactly. */
  toJSON(): DistinctCounterJSON {
    if (this.table !== null)
      return {
        exact: Buffer.from(this.table.buffer, this.table.byteOffset, this.table.byteLength).toString(
          "base64",
        ),
        count: this.exactCount,
      };
    return { sketch: Buffer.from(this.registers!).toString("base64") };
  }

  static fromJSON(json: DistinctCounterJSON): DistinctCounter {
    const counter = new DistinctCounter();
    if ("exact" in json) {
      const bytes = Buffer.from(json.exact, "base64");
      const size = bytes.length / 4;
      if (!Number.isInteger(size) || size < FIRST_TABLE_SIZE || (size & (size - 1)) !== 0) {
        throw new RangeError("a distinct counter's table must hold a power of two of at least 16 slots");
      }
      counter.table = new Uint32Array(size);
      new Uint8Array(counter.table.buffer).set(bytes);
      counter.exactCount = json.count;
    } else {
      const registers = Buffer.from(json.sketch, "base64");
      if (registers.length !== REGISTERS)
        throw new RangeError(`a distinct counter's sketch must have ${REGISTERS} registers`);
      counter.table = null;
      counter.registers = Uint8Array.from(registers);
      for (const r of counter.registers) {
        if (r >= INVERSE_POWERS.length)
          throw new RangeError(`a distinct counter's register cannot hold ${r}`);
        counter.sketchSum += INVERSE_POWERS[r];
        if (r === 0) counter.sketchZeros++;
      }
    }
    return counter;
  }

  private grow(): void {
    const old = this.table!;
    this.table = new Uint32Array(old.length * 2);
    for (const stored of old) if (stored !== 0) insert(this.table, stored - 1);
  }

  private toSketch(): void {
    this.registers = new Uint8Array(REGISTERS);
    this.sketchSum = REGISTERS;
    this.sketchZeros = REGISTERS;
    for (const stored of this.table!) if (stored !== 0) this.addToSketch(stored - 1);
    this.table = null;
  }

  private addToSketch(hash: number): void {
    const h = mix(hash);
    const index = h >>> (32 - PRECISION);
    const rest = (h << PRECISION) >>> 0;
    const rank = rest === 0 ? 32 - PRECISION + 1 : Math.clz32(rest) + 1;
    const old = this.registers![index];
    if (rank > old) {
      this.registers![index] = rank;
      this.sketchSum += INVERSE_POWERS[rank] - INVERSE_POWERS[old];
      if (old === 0) this.sketchZeros--;
    }
  }
}

/** Linear probing; returns false when the hash was already present. */
function insert(table: Uint32Array, hash: number): boolean {
  // Hash 0xffffffff would wrap to the empty marker; fold it onto its neighbour (one more collision in 2^32).
  const stored = (hash === 0xffffffff ? 0xfffffffe : hash) + 1;
  const mask = table.length - 1;
  let slot = mix(hash) & mask;
  for (;;) {
    const v = table[slot];
    if (v === stored) return false;
    if (v === 0) break;
    slot = (slot + 1) & mask;
  }
  table[slot] = stored;
  return true;
}

/** Finaliser of MurmurHash3: FNV's low bits are weak, and both the table and HLL need uniform bits. */
function mix(hash: number): number {
  let h = hash >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

export const FNV_OFFSET = 0x811c9dc5;
export const FNV_PRIME = 0x01000193;

/** FNV-1a over `bytes[start, end)`. */
export function hashBytes(bytes: Uint8Array, start: number, end: number): number {
  let h = FNV_OFFSET;
  for (let i = start; i < end; i++) h = Math.imul(h ^ bytes[i], FNV_PRIME);
  return h >>> 0;
}
