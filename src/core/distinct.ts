/**
 * Approximate distinct counting with bounded memory: exact up to EXACT_LIMIT distinct 32-bit hashes, then a
 * HyperLogLog sketch (2^PRECISION one-byte registers, ~3 % standard error). Lets per-entity features such as
 * "distinct files touched" keep memory bounded by the number of entities, not by the number of events.
 */
const EXACT_LIMIT = 1024;
const PRECISION = 10;
const REGISTERS = 1 << PRECISION;
const ALPHA = 0.7213 / (1 + 1.079 / REGISTERS);

export class DistinctCounter {
  private exact: Set<number> | null = new Set();
  private registers: Uint8Array | null = null;

  /** Adds a 32-bit hash (see `hashRange`). */
  add(hash: number): void {
    if (this.exact !== null) {
      this.exact.add(hash);
      if (this.exact.size > EXACT_LIMIT) this.toSketch();
      return;
    }
    this.addToSketch(hash);
  }

  get count(): number {
    if (this.exact !== null) return this.exact.size;
    const registers = this.registers!;
    let sum = 0;
    let zeros = 0;
    for (let i = 0; i < REGISTERS; i++) {
      sum += 2 ** -registers[i];
      if (registers[i] === 0) zeros++;
    }
    const estimate = (ALPHA * REGISTERS * REGISTERS) / sum;
    // Small-range correction (linear counting), as in the HyperLogLog paper.
    if (estimate <= 2.5 * REGISTERS && zeros > 0) return Math.round(REGISTERS * Math.log(REGISTERS / zeros));
    return Math.round(estimate);
  }

  private toSketch(): void {
    this.registers = new Uint8Array(REGISTERS);
    for (const hash of this.exact!) this.addToSketch(hash);
    this.exact = null;
  }

  private addToSketch(hash: number): void {
    // Re-mix: FNV's low bits are weak, and HLL needs uniform index and rank bits.
    let h = hash >>> 0;
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    h = (h ^ (h >>> 16)) >>> 0;
    const index = h >>> (32 - PRECISION);
    const rest = (h << PRECISION) >>> 0;
    const rank = rest === 0 ? 32 - PRECISION + 1 : Math.clz32(rest) + 1;
    if (rank > this.registers![index]) this.registers![index] = rank;
  }
}

/** FNV-1a over the UTF-16 code units of `text[start, end)`, without allocating a substring. */
export function hashRange(text: string, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
