/**
 * Nearest neighbour among sets of tokens by cosine similarity of their indicator vectors,
 * |A ∩ B| / √(|A|·|B|): the distance of a sequence's repertoire (which tokens it uses at all, not how often) to the
 * most similar repertoire seen in training. Sets are bitsets over the vocabulary, so one comparison is a few
 * popcounts, and the training sets are stored once each however many sequences share them.
 */
import { UsageError } from "../core/errors.ts";

export class TokenSet {
  readonly bits: Uint32Array;
  size = 0;

  constructor(vocabSize: number) {
    this.bits = new Uint32Array(Math.ceil(vocabSize / 32));
  }

  /** Adds `token`; returns whether the set grew. */
  add(token: number): boolean {
    const word = token >>> 5;
    const mask = 1 << (token & 31);
    if ((this.bits[word] & mask) !== 0) return false;
    this.bits[word] |= mask;
    this.size++;
    return true;
  }

  has(token: number): boolean {
    return (this.bits[token >>> 5] & (1 << (token & 31))) !== 0;
  }

  static of(vocabSize: number, tokens: ArrayLike<number>): TokenSet {
    const set = new TokenSet(vocabSize);
    for (let i = 0; i < tokens.length; i++) set.add(tokens[i]);
    return set;
  }
}

export class SetNeighbours {
  private readonly words: number;
  /** Distinct training sets, `words` uint32 each, and their sizes. */
  private readonly bits: Uint32Array;
  private readonly sizes: Int32Array;

  private constructor(
    readonly vocabSize: number,
    bits: Uint32Array,
    sizes: Int32Array,
  ) {
    this.words = Math.ceil(vocabSize / 32);
    this.bits = bits;
    this.sizes = sizes;
  }

  /** The distinct non-empty sets of `sets`. */
  static fit(vocabSize: number, sets: Iterable<TokenSet>): SetNeighbours {
    const seen = new Map<string, TokenSet>();
    for (const set of sets) {
      if (set.bits.length !== Math.ceil(vocabSize / 32))
        throw new UsageError("token set of another vocabulary");
      if (set.size > 0) seen.set(set.bits.join(","), set);
    }
    const words = Math.ceil(vocabSize / 32);
    const bits = new Uint32Array(seen.size * words);
    const sizes = new Int32Array(seen.size);
    let i = 0;
    for (const set of seen.values()) {
      bits.set(set.bits, i * words);
      sizes[i++] = set.size;
    }
    return new SetNeighbours(vocabSize, bits, sizes);
  }

  static fromArrays(vocabSize: number, bits: Uint32Array, sizes: Int32Array): SetNeighbours {
    const words = Math.ceil(vocabSize / 32);
    if (bits.length !== sizes.length * words)
      throw new UsageError(`${bits.length} set words for ${sizes.length} sets of ${words} words`);
    sizes.forEach((size, i) => {
      let count = 0;
      for (let w = 0; w < words; w++) count += popcount(bits[i * words + w]);
      if (count !== size || size === 0)
        throw new UsageError(`set ${i} has ${count} members, recorded ${size}`);
    });
    return new SetNeighbours(vocabSize, bits, sizes);
  }

  get count(): number {
    return this.sizes.length;
  }

  toArrays(): { bits: Uint32Array; sizes: Int32Array } {
    return { bits: this.bits, sizes: this.sizes };
  }

  /** 1 − the highest cosine similarity between `set` and a training set (1 for an empty set or no training set). */
  distance(set: TokenSet): number {
    return 1 - this.nearest(set).similarity;
  }

  /** The most similar training set (index −1 when none shares a token) and its cosine similarity. */
  nearest(set: TokenSet): { index: number; similarity: number } {
    let best = 0;
    let index = -1;
    if (set.size === 0) return { index, similarity: 0 };
    const W = this.words;
    for (let i = 0; i < this.sizes.length; i++) {
      let common = 0;
      for (let w = 0; w < W; w++) common += popcount(this.bits[i * W + w] & set.bits[w]);
      const similarity = common / Math.sqrt(this.sizes[i] * set.size);
      if (similarity > best) {
        best = similarity;
        index = i;
      }
    }
    return { index, similarity: best };
  }

  /** Whether training set `index` holds `token`. */
  holds(index: number, token: number): boolean {
    return (this.bits[index * this.words + (token >>> 5)] & (1 << (token & 31))) !== 0;
  }
}

function popcount(x: number): number {
  let v = x - ((x >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (((v + (v >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}
