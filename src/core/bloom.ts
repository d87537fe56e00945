/**
 * A fixed-size Bloom filter of 32-bit hashes: "was this seen?" in constant memory per entity, whatever the number of
 * items. It never forgets an item it holds; it may answer yes for one it never saw (with n items in m bits and two
 * probes, about (1 − e^(−2n/m))² of the time: 5 % at n = m/8). Callers use it where a false yes errs on the quiet side.
 */
const PROBES = 2;

export class BloomFilter {
  readonly words: Uint32Array;
  private readonly mask: number;

  /** `bits`: a power of two ≥ 32. */
  constructor(bits: number) {
    if (!Number.isInteger(bits) || bits < 32 || (bits & (bits - 1)) !== 0)
      throw new RangeError(`a Bloom filter needs a power of two of at least 32 bits, got ${bits}`);
    this.words = new Uint32Array(bits >>> 5);
    this.mask = bits - 1;
  }

  add(hash: number): void {
    let h = hash >>> 0;
    const step = secondHash(hash);
    for (let i = 0; i < PROBES; i++) {
      const bit = h & this.mask;
      this.words[bit >>> 5] |= 1 << (bit & 31);
      h = (h + step) >>> 0;
    }
  }

  has(hash: number): boolean {
    let h = hash >>> 0;
    const step = secondHash(hash);
    for (let i = 0; i < PROBES; i++) {
      const bit = h & this.mask;
      if ((this.words[bit >>> 5] & (1 << (bit & 31))) === 0) return false;
      h = (h + step) >>> 0;
    }
    return true;
  }

  /** The bits as base64 (checkpoints); `BloomFilter.fromJSON` restores them exactly. */
  toJSON(): string {
    return Buffer.from(this.words.buffer, this.words.byteOffset, this.words.byteLength).toString("base64");
  }

  static fromJSON(json: string): BloomFilter {
    const bytes = Buffer.from(json, "base64");
    const filter = new BloomFilter(bytes.length * 8);
    new Uint8Array(filter.words.buffer).set(bytes);
    return filter;
  }
}

/** An odd step derived from the hash (double hashing): odd, so the probes differ in a power-of-two table. */
function secondHash(hash: number): number {
  return (Math.imul(hash ^ (hash >>> 16), 0x45d9f3b) >>> 0) | 1;
}
