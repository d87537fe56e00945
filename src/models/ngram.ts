/**
 * Counts of token n-grams up to a maximum order, with the two questions a sequence anomaly detector asks of them:
 *
 * - how likely is the next token after this context (an interpolated Witten–Bell language model: each order's
 *   estimate is mixed with the next lower order's in proportion to how many distinct tokens the context has been
 *   seen to continue with, down to a uniform distribution), and
 * - how often was this exact window of the last w tokens seen (STIDE-style window novelty, with counts).
 *
 * Sequences are padded at the start with `pad` (contexts before the first token), so every token has a full-length
 * context and a window ending at it; counts of every lower order are the marginals of the highest order's counts,
 * which is what the model stores (see `grams`) and rebuilds on load.
 *
 * The counts live in a trie of reversed contexts: the root is the empty context, its child for token a is the
 * context "…a", that node's child for b is "…b a", and so on. Each node holds how often each token followed its
 * context. A prediction walks from the root one step further back per order, so one walk serves every order.
 */
import { UsageError } from "../core/errors.ts";

export interface NgramOptions {
  /** Tokens are integers in [0, vocabSize). */
  vocabSize: number;
  /** Longest n-gram counted (context of order − 1 tokens plus the token). */
  order: number;
  /** Token that pads contexts before the start of a sequence. */
  pad: number;
}

export class NgramCounts {
  readonly vocabSize: number;
  readonly order: number;
  readonly pad: number;
  /** (node × vocabSize + token) → child node (the context extended one token further back). */
  private readonly child = new Map<number, number>();
  /** (node × vocabSize + token) → times token followed the node's context. */
  private readonly follow = new Map<number, number>();
  /** Per node: total count of tokens that followed its context, and how many distinct ones. */
  private totals: Float64Array = new Float64Array(1024);
  private types: Int32Array = new Int32Array(1024);
  private nodes = 1;

  constructor(options: NgramOptions) {
    const { vocabSize, order, pad } = options;
    if (!Number.isInteger(vocabSize) || vocabSize < 1)
      throw new UsageError(`n-gram vocabSize must be a positive integer, got ${vocabSize}`);
    if (!Number.isInteger(order) || order < 1)
      throw new UsageError(`n-gram order must be a positive integer, got ${order}`);
    if (!Number.isInteger(pad) || pad < 0 || pad >= vocabSize)
      throw new UsageError(`n-gram pad token must be in [0, ${vocabSize}), got ${pad}`);
    this.vocabSize = vocabSize;
    this.order = order;
    this.pad = pad;
  }

  /** Number of trie nodes (distinct contexts of every order below `order`, plus the empty one). */
  get contexts(): number {
    return this.nodes;
  }

  /** Counts every n-gram of `sequence` (padded at the start), for every order up to `order`. */
  add(sequence: ArrayLike<number>): void {
    const n = this.order;
    for (let i = 0; i < sequence.length; i++) {
      const token = this.check(sequence[i]);
      let node = 0;
      for (let k = 0; ; k++) {
        this.count(node, token, 1);
        if (k === n - 1) break;
        const back = i - 1 - k;
        node = this.childOrCreate(node, back >= 0 ? this.check(sequence[back]) : this.pad);
      }
    }
  }

  /** Adds `times` occurrences of one full-order gram (context oldest first, then the token). */
  addGram(gram: ArrayLike<number>, times: number): void {
    if (gram.length !== this.order) throw new UsageError(`expected a gram of ${this.order} tokens`);
    const token = this.check(gram[gram.length - 1]);
    let node = 0;
    for (let k = 0; ; k++) {
      this.count(node, token, times);
      if (k === this.order - 1) break;
      node = this.childOrCreate(node, this.check(gram[gram.length - 2 - k]));
    }
  }

  /**
   * Walks the context that precedes position `end` of `history` (tokens before `start` are padding) and reports,
   * for token `token`:
   * - `logProb`: natural log of its Witten–Bell probability with a context of up to `lmOrder − 1` tokens;
   * - `windowCount`: how often the window of the last `window` tokens ending with it was counted (0 if never).
   * `history[end]` is not read: `token` stands in for it, so a caller can ask before it stores the token.
   */
  query(
    history: RingHistory,
    token: number,
    lmOrder: number,
    window: number,
  ): { logProb: number; windowCount: number } {
    const depth = Math.max(lmOrder, window) - 1;
    if (depth >= this.order) throw new UsageError(`the counts go up to order ${this.order}`);
    const V = this.vocabSize;
    let p = 1 / V;
    let windowCount = 0;
    let node = 0;
    for (let k = 0; k <= depth; k++) {
      const total = this.totals[node];
      if (total === 0) break;
      const c = this.follow.get(node * V + token) ?? 0;
      if (k < lmOrder) {
        const t = this.types[node];
        p = (c + t * p) / (total + t);
      }
      if (k === window - 1) windowCount = c;
      if (k === depth) break;
      const next = this.child.get(node * V + history.back(k));
      if (next === undefined) break;
      node = next;
    }
    return { logProb: Math.log(p), windowCount };
  }

  /** Probability of `token` after `context` (oldest first; shorter contexts are padded), for tests and tools. */
  probability(context: ArrayLike<number>, token: number, lmOrder = this.order): number {
    const history = new RingHistory(this.order, this.pad);
    for (let i = 0; i < context.length; i++) history.push(context[i]);
    return Math.exp(this.query(history, this.check(token), lmOrder, 1).logProb);
  }

  /**
   * Every full-order gram with its count, as one flat array of `order` tokens per gram (oldest first) and a count
   * array: the counts of every lower order follow from these (they are their marginals, thanks to the padding).
   */
  grams(): { tokens: Int32Array; counts: Float64Array } {
    const tokens: number[] = [];
    const counts: number[] = [];
    const path: number[] = [];
    const V = this.vocabSize;
    // Children per node, found by one pass over the child map.
    const children = new Map<number, [number, number][]>();
    for (const [key, node] of this.child) {
      const parent = Math.floor(key / V);
      let list = children.get(parent);
      if (list === undefined) children.set(parent, (list = []));
      list.push([key % V, node]);
    }
    const followers = new Map<number, [number, number][]>();
    for (const [key, count] of this.follow) {
      const node = Math.floor(key / V);
      let list = followers.get(node);
      if (list === undefined) followers.set(node, (list = []));
      list.push([key % V, count]);
    }
    const visit = (node: number, depth: number) => {
      if (depth === this.order - 1) {
        const list = (followers.get(node) ?? []).sort((a, b) => a[0] - b[0]);
        for (const [token, count] of list) {
          for (let k = path.length - 1; k >= 0; k--) tokens.push(path[k]);
          tokens.push(token);
          counts.push(count);
        }
        return;
      }
      const list = (children.get(node) ?? []).sort((a, b) => a[0] - b[0]);
      for (const [token, next] of list) {
        path.push(token);
        visit(next, depth + 1);
        path.pop();
      }
    };
    visit(0, 0);
    return { tokens: Int32Array.from(tokens), counts: Float64Array.from(counts) };
  }

  static fromGrams(options: NgramOptions, tokens: ArrayLike<number>, counts: ArrayLike<number>): NgramCounts {
    const model = new NgramCounts(options);
    if (tokens.length !== counts.length * options.order)
      throw new UsageError(`${tokens.length} gram tokens for ${counts.length} grams of ${options.order}`);
    const gram = new Int32Array(options.order);
    for (let g = 0; g < counts.length; g++) {
      const times = counts[g];
      if (!Number.isInteger(times) || times < 1) throw new UsageError(`gram ${g} has count ${times}`);
      for (let k = 0; k < options.order; k++) gram[k] = tokens[g * options.order + k];
      model.addGram(gram, times);
    }
    return model;
  }

  private check(token: number): number {
    if (!Number.isInteger(token) || token < 0 || token >= this.vocabSize)
      throw new UsageError(`token ${token} is outside the vocabulary [0, ${this.vocabSize})`);
    return token;
  }

  private count(node: number, token: number, times: number): void {
    const key = node * this.vocabSize + token;
    const before = this.follow.get(key) ?? 0;
    this.follow.set(key, before + times);
    this.totals[node] += times;
    if (before === 0) this.types[node]++;
  }

  private childOrCreate(node: number, token: number): number {
    const key = node * this.vocabSize + token;
    let next = this.child.get(key);
    if (next === undefined) {
      next = this.nodes++;
      if (next >= this.totals.length) {
        const totals = new Float64Array(this.totals.length * 2);
        totals.set(this.totals);
        this.totals = totals;
        const types = new Int32Array(this.types.length * 2);
        types.set(this.types);
        this.types = types;
      }
      this.child.set(key, next);
    }
    return next;
  }
}

/** The last `capacity` tokens of a sequence, padded before its start; `back(0)` is the most recent. */
export class RingHistory {
  private readonly ring: Int32Array;
  private at = 0;

  constructor(
    readonly capacity: number,
    pad: number,
  ) {
    this.ring = new Int32Array(Math.max(1, capacity)).fill(pad);
  }

  push(token: number): void {
    this.ring[this.at] = token;
    this.at = (this.at + 1) % this.ring.length;
  }

  back(k: number): number {
    const n = this.ring.length;
    return this.ring[(((this.at - 1 - k) % n) + n) % n];
  }
}
