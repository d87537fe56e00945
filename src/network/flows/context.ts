/**
 * Context across flows, computed in the same streaming pass as the flows: damped incremental statistics (Kitsune,
 * Mirsky et al., NDSS 2018) per source host, per destination host, per host pair and per service, over several decay
 * time scales. A statistic of time scale h decays by 2^(−Δt/h) between updates (half-life h), so a steady rate r
 * holds a damped count of r·h/ln 2 and nothing grows with the traffic: each tracked key has constant memory, and the
 * tables are bounded (least recently updated key evicted, evictions counted).
 *
 * Keys are taken relative to the flow (its first packet's sender is the initiator):
 * - host: the initiator's address — what this host starts, sends and gets back;
 * - destination host: the responder's address — who contacts this host, on how many ports, and whether it answers
 *   (the fan-in of a flood or a scan, which no initiator-side key sees when the senders are many; KDD Cup 99's
 *   "dst_host" features are the batch form of the same idea);
 * - pair: (initiator, responder) — how this conversation between two hosts repeats;
 * - service: (responder address, responder port, protocol) — who uses this service and whether it answers.
 *
 * Every packet updates its flow's four keys; a flow's context features are read once, right after its first
 * packet has been counted (what was going on around it when it started), so they are causal and identical in batch
 * and live use. Definitions of every feature: CONTEXT_FEATURES and docs/network.md.
 */

import { decodeTyped, encodeTyped, type TypedJSON } from "../../core/typed-json.ts";

/** Half-lives of the decay time scales (seconds), Kitsune's range. */
export const CONTEXT_HALF_LIVES: readonly number[] = [0.2, 2, 20, 100];

/** Linear-counting sketch buckets for distinct counts (saturates at m·ln m ≈ 111 distinct items). */
const SKETCH = 32;

function scaleName(h: number): string {
  return h < 1 ? `${Math.round(h * 1000)}ms` : `${h}s`;
}

/** Per-scale feature stems, in output order (see docs/network.md for each definition). */
const HOST_STEMS = [
  "hostFlowRate",
  "hostPacketRate",
  "hostAnswerShare",
  "hostSizeMean",
  "hostSizeStd",
  "hostFailShare",
  "hostDistinctDsts",
  "hostDistinctPorts",
] as const;
const PAIR_STEMS = [
  "pairFlowRate",
  "pairPacketRate",
  "pairSizeMean",
  "pairSizeStd",
  "pairGapMean",
  "pairGapStd",
  "pairDistinctPorts",
] as const;
const SERVICE_STEMS = ["serviceFlowRate", "serviceAnswerShare", "serviceDistinctClients"] as const;
/* Last, so that the first 72 context features keep the order they had before this key existed. */
const DST_HOST_STEMS = [
  "dstHostFlowRate",
  "dstHostPacketRate",
  "dstHostAnswerShare",
  "dstHostFailShare",
  "dstHostDistinctClients",
  "dstHostDistinctPorts",
] as const;

export const CONTEXT_FEATURES: readonly string[] = [
  HOST_STEMS,
  PAIR_STEMS,
  SERVICE_STEMS,
  DST_HOST_STEMS,
].flatMap((stems) => stems.flatMap((stem) => CONTEXT_HALF_LIVES.map((h) => `${stem}_${scaleName(h)}`)));

export interface ContextCapacity {
  hosts: number;
  pairs: number;
  services: number;
  dstHosts: number;
}

/** Bounds of the four tables: enough for busy networks, ~35 MiB at most. */
export const DEFAULT_CONTEXT_CAPACITY: Readonly<ContextCapacity> = {
  hosts: 16384,
  pairs: 16384,
  services: 16384,
  dstHosts: 16384,
};

export interface FlowContextJSON {
  hosts: KeyedRowsJSON;
  pairs: KeyedRowsJSON;
  services: KeyedRowsJSON;
  dstHosts: KeyedRowsJSON;
}

export interface ContextStats {
  /** Keys evicted to make room (their history is lost; a returning key starts afresh). */
  hostEvictions: number;
  pairEvictions: number;
  serviceEvictions: number;
  dstHostEvictions: number;
}

const S = CONTEXT_HALF_LIVES.length;

/**
 * A bounded hash table of fixed-width keys, each with a row of `width` doubles, least recently used first in an
 * intrusive list. `acquire` finds or creates a key's row, evicting the oldest key when full; every row has a
 * generation number so that holders of a row index can tell that it was reused.
 */
class KeyedRows {
  readonly keys: Uint32Array;
  readonly rows: Float64Array;
  readonly generation: Uint32Array;
  private readonly hashes: Uint32Array;
  private readonly buckets: Int32Array;
  private readonly prev: Int32Array;
  private readonly next: Int32Array;
  private readonly mask: number;
  private used = 0;
  /** Rows ever used since construction (generations above it are all 0). */
  private highWater = 0;
  private head = -1;
  private tail = -1;
  evictions = 0;

  constructor(
    readonly capacity: number,
    private readonly keyWords: number,
    readonly width: number,
  ) {
    this.keys = new Uint32Array(capacity * keyWords);
    this.rows = new Float64Array(capacity * width);
    this.generation = new Uint32Array(capacity);
    this.hashes = new Uint32Array(capacity);
    const buckets = 2 ** Math.ceil(Math.log2(capacity * 2));
    this.buckets = new Int32Array(buckets);
    this.mask = buckets - 1;
    this.prev = new Int32Array(capacity);
    this.next = new Int32Array(capacity);
  }

  /** Row of `key` (words [0, keyWords)), created zeroed if absent. `created` tells which. */
  created = false;
  acquire(key: Uint32Array): number {
    const h = hashWords(key, this.keyWords);
    const kw = this.keyWords;
    for (let i = h & this.mask; ; i = (i + 1) & this.mask) {
      const e = this.buckets[i];
      if (e === 0) break;
      const r = e - 1;
      if (this.hashes[r] !== h) continue;
      let same = true;
      for (let w = 0; w < kw; w++) {
        if (this.keys[r * kw + w] !== key[w]) {
          same = false;
          break;
        }
      }
      if (same) {
        this.created = false;
        this.touch(r);
        return r;
      }
    }
    let r: number;
    if (this.used < this.capacity) {
      r = this.used++;
      if (this.used > this.highWater) this.highWater = this.used;
    } else {
      r = this.head;
      this.unlink(r);
      this.deleteBucket(r);
      this.evictions++;
    }
    this.generation[r]++;
    this.keys.set(key.subarray(0, kw), r * kw);
    this.hashes[r] = h;
    this.rows.fill(0, r * this.width, (r + 1) * this.width);
    let i = h & this.mask;
    while (this.buckets[i] !== 0) i = (i + 1) & this.mask;
    this.buckets[i] = r + 1;
    this.append(r);
    this.created = true;
    return r;
  }

  /** Marks `r` as the most recently used row. */
  touch(r: number): void {
    if (this.tail === r) return;
    this.unlink(r);
    this.append(r);
  }

  clear(): void {
    this.buckets.fill(0);
    this.used = 0;
    this.head = -1;
    this.tail = -1;
  }

  /** The table for a checkpoint: the rows in use, their order, and every generation handed out. */
  toJSON(): KeyedRowsJSON {
    const n = this.used;
    return {
      capacity: this.capacity,
      used: n,
      head: this.head,
      tail: this.tail,
      evictions: this.evictions,
      keys: encodeTyped(this.keys, n * this.keyWords),
      rows: encodeTyped(this.rows, n * this.width),
      hashes: encodeTyped(this.hashes, n),
      prev: encodeTyped(this.prev, n),
      next: encodeTyped(this.next, n),
      generation: encodeTyped(this.generation, this.highWater),
    };
  }

  /** Restores `toJSON`'s output into this (empty, same-capacity) table; the hash index is rebuilt. */
  restore(json: KeyedRowsJSON): void {
    if (json.capacity !== this.capacity) {
      throw new Error(`context table of capacity ${json.capacity} restored into one of ${this.capacity}`);
    }
    this.keys.set(decodeTyped(json.keys, "u32"));
    this.rows.set(decodeTyped(json.rows, "f64"));
    this.hashes.set(decodeTyped(json.hashes, "u32"));
    this.prev.set(decodeTyped(json.prev, "i32"));
    this.next.set(decodeTyped(json.next, "i32"));
    const generation = decodeTyped(json.generation, "u32");
    this.generation.set(generation);
    this.highWater = generation.length;
    this.used = json.used;
    this.head = json.head;
    this.tail = json.tail;
    this.evictions = json.evictions;
    this.buckets.fill(0);
    for (let r = this.head; r >= 0; r = this.next[r]) {
      let i = this.hashes[r] & this.mask;
      while (this.buckets[i] !== 0) i = (i + 1) & this.mask;
      this.buckets[i] = r + 1;
    }
  }

  private append(r: number): void {
    this.prev[r] = this.tail;
    this.next[r] = -1;
    if (this.tail >= 0) this.next[this.tail] = r;
    else this.head = r;
    this.tail = r;
  }

  private unlink(r: number): void {
    const p = this.prev[r];
    const n = this.next[r];
    if (p >= 0) this.next[p] = n;
    else this.head = n;
    if (n >= 0) this.prev[n] = p;
    else this.tail = p;
  }

  /** Linear-probing deletion with backward shift (no tombstones). */
  private deleteBucket(r: number): void {
    const buckets = this.buckets;
    const mask = this.mask;
    let i = this.hashes[r] & mask;
    while (buckets[i] !== r + 1) i = (i + 1) & mask;
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      const e = buckets[j];
      if (e === 0) break;
      const home = this.hashes[e - 1] & mask;
      const stays = j > i ? home > i && home <= j : home > i || home <= j;
      if (!stays) {
        buckets[i] = e;
        i = j;
      }
    }
    buckets[i] = 0;
  }
}

export interface KeyedRowsJSON {
  capacity: number;
  used: number;
  head: number;
  tail: number;
  evictions: number;
  keys: TypedJSON;
  rows: TypedJSON;
  hashes: TypedJSON;
  prev: TypedJSON;
  next: TypedJSON;
  generation: TypedJSON;
}

/** MurmurHash3's 32-bit mixing over key words. */
function hashWords(key: Uint32Array, n: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < n; i++) {
    let k = Math.imul(key[i], 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, 0x1b873593);
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  return fmix(h);
}

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/*
 * Row layouts. Each row starts with the time of its last update (seconds), then per-scale blocks of damped sums,
 * then the sketch of last-seen times per bucket (−Infinity when never seen).
 */
const LAST_T = 0;
// host: per scale [flows, fwd packets, bwd packets, Σ fwd size, Σ fwd size², RST packets]
const H_FLOWS = 0;
const H_FWD = 1;
const H_BWD = 2;
const H_SIZE = 3;
const H_SIZE2 = 4;
const H_FAIL = 5;
const H_FIELDS = 6;
const H_SCALES = 1;
const H_DSTS = H_SCALES + S * H_FIELDS;
const H_PORTS = H_DSTS + SKETCH;
const HOST_WIDTH = H_PORTS + SKETCH;
// pair: last flow start, per scale [flows, packets, Σ size, Σ size², gaps, Σ gap, Σ gap²]
const P_LAST_START = 1;
const P_FLOWS = 0;
const P_PACKETS = 1;
const P_SIZE = 2;
const P_SIZE2 = 3;
const P_GAPS = 4;
const P_GAP = 5;
const P_GAP2 = 6;
const P_FIELDS = 7;
const P_SCALES = 2;
const P_PORTS = P_SCALES + S * P_FIELDS;
const PAIR_WIDTH = P_PORTS + SKETCH;
// service: per scale [flows, fwd packets, bwd packets]
const V_FLOWS = 0;
const V_FWD = 1;
const V_BWD = 2;
const V_FIELDS = 3;
const V_SCALES = 1;
const V_CLIENTS = V_SCALES + S * V_FIELDS;
const SERVICE_WIDTH = V_CLIENTS + SKETCH;
// destination host: per scale [flows, fwd packets, bwd packets, RST packets]
const D_FLOWS = 0;
const D_FWD = 1;
const D_BWD = 2;
const D_FAIL = 3;
const D_FIELDS = 4;
const D_SCALES = 1;
const D_CLIENTS = D_SCALES + S * D_FIELDS;
const D_PORTS = D_CLIENTS + SKETCH;
const DST_HOST_WIDTH = D_PORTS + SKETCH;

/** Per flow: row and generation of its host, pair, service and destination host. */
export const CONTEXT_LINKS = 8;

const TCP_RST = 0x04;
const LN2 = Math.LN2;

/**
 * The four context tables and their updates. The flow table calls `startFlow` for a new flow, `packet` for each
 * of its packets, and `snapshot` once after the first packet.
 */
export class FlowContext {
  private readonly hosts: KeyedRows;
  private readonly pairs: KeyedRows;
  private readonly services: KeyedRows;
  private readonly dstHosts: KeyedRows;
  private readonly key = new Uint32Array(9);
  private readonly decay = new Float64Array(S);
  private readonly rates = Float64Array.from(CONTEXT_HALF_LIVES, (h) => LN2 / h);

  constructor(capacity: Partial<ContextCapacity> = {}) {
    const c = { ...DEFAULT_CONTEXT_CAPACITY, ...capacity };
    for (const [name, v] of Object.entries(c)) {
      if (!(Number.isInteger(v) && v >= 1))
        throw new RangeError(`context ${name} capacity must be ≥ 1, got ${v}`);
    }
    this.hosts = new KeyedRows(c.hosts, 5, HOST_WIDTH);
    this.pairs = new KeyedRows(c.pairs, 9, PAIR_WIDTH);
    this.services = new KeyedRows(c.services, 6, SERVICE_WIDTH);
    this.dstHosts = new KeyedRows(c.dstHosts, 5, DST_HOST_WIDTH);
  }

  get stats(): ContextStats {
    return {
      hostEvictions: this.hosts.evictions,
      pairEvictions: this.pairs.evictions,
      serviceEvictions: this.services.evictions,
      dstHostEvictions: this.dstHosts.evictions,
    };
  }

  toJSON(): FlowContextJSON {
    return {
      hosts: this.hosts.toJSON(),
      pairs: this.pairs.toJSON(),
      services: this.services.toJSON(),
      dstHosts: this.dstHosts.toJSON(),
    };
  }

  /** Restores a checkpoint's tables into this context (built with the same capacities). */
  restore(json: FlowContextJSON): void {
    if (json.dstHosts === undefined)
      throw new Error("the checkpoint's context was written by another version of threatlens");
    this.hosts.restore(json.hosts);
    this.pairs.restore(json.pairs);
    this.services.restore(json.services);
    this.dstHosts.restore(json.dstHosts);
  }

  /** Forgets every key (a new, unrelated capture starts); eviction counts are kept. */
  clear(): void {
    this.hosts.clear();
    this.pairs.clear();
    this.services.clear();
    this.dstHosts.clear();
  }

  /**
   * Links a new flow to its keys (writing row and generation pairs into `links` at `at`) and counts its start:
   * a flow, its responder in the host's distinct destinations and ports, the gap since the pair's previous flow, its
   * initiator in the service's and the destination host's distinct clients, its service in the destination host's
   * distinct ports. `t` is in seconds.
   */
  startFlow(
    links: Int32Array,
    at: number,
    version: number,
    protocol: number,
    src: ArrayLike<number>,
    dst: ArrayLike<number>,
    dstPort: number,
    t: number,
  ): void {
    const key = this.key;
    const service = (protocol << 16) | dstPort;
    // host: [version, src…]
    key[0] = version;
    for (let i = 0; i < 4; i++) key[1 + i] = src[i];
    const h = this.hosts.acquire(key);
    if (this.hosts.created) this.hosts.rows[h * HOST_WIDTH + LAST_T] = t;
    // pair: [version, src…, dst…]
    for (let i = 0; i < 4; i++) key[5 + i] = dst[i];
    const p = this.pairs.acquire(key);
    const pairNew = this.pairs.created;
    if (pairNew) this.pairs.rows[p * PAIR_WIDTH + LAST_T] = t;
    // service: [version, dst…, protocol|port]
    for (let i = 0; i < 4; i++) key[1 + i] = dst[i];
    key[5] = service;
    const v = this.services.acquire(key);
    const serviceNew = this.services.created;
    // destination host: [version, dst…]
    const d = this.dstHosts.acquire(key);
    if (this.dstHosts.created) this.dstHosts.rows[d * DST_HOST_WIDTH + LAST_T] = t;
    links[at] = h;
    links[at + 1] = this.hosts.generation[h];
    links[at + 2] = p;
    links[at + 3] = this.pairs.generation[p];
    links[at + 4] = v;
    links[at + 5] = this.services.generation[v];
    links[at + 6] = d;
    links[at + 7] = this.dstHosts.generation[d];

    let rows = this.hosts.rows;
    let b = h * HOST_WIDTH;
    this.advance(rows, b, H_SCALES, H_FIELDS, t);
    for (let s = 0; s < S; s++) rows[b + H_SCALES + s * H_FIELDS + H_FLOWS] += 1;
    touchSketch(rows, b + H_DSTS, mixAddress(dst), t);
    touchSketch(rows, b + H_PORTS, fmix(service), t);

    rows = this.pairs.rows;
    b = p * PAIR_WIDTH;
    this.advance(rows, b, P_SCALES, P_FIELDS, t);
    const gap = pairNew ? -1 : t - rows[b + P_LAST_START];
    rows[b + P_LAST_START] = t;
    for (let s = 0; s < S; s++) {
      const o = b + P_SCALES + s * P_FIELDS;
      rows[o + P_FLOWS] += 1;
      if (gap >= 0) {
        rows[o + P_GAPS] += 1;
        rows[o + P_GAP] += gap;
        rows[o + P_GAP2] += gap * gap;
      }
    }
    touchSketch(rows, b + P_PORTS, fmix(service), t);

    rows = this.services.rows;
    b = v * SERVICE_WIDTH;
    if (serviceNew) rows[b + LAST_T] = t;
    this.advance(rows, b, V_SCALES, V_FIELDS, t);
    for (let s = 0; s < S; s++) rows[b + V_SCALES + s * V_FIELDS + V_FLOWS] += 1;
    touchSketch(rows, b + V_CLIENTS, mixAddress(src), t);

    rows = this.dstHosts.rows;
    b = d * DST_HOST_WIDTH;
    this.advance(rows, b, D_SCALES, D_FIELDS, t);
    for (let s = 0; s < S; s++) rows[b + D_SCALES + s * D_FIELDS + D_FLOWS] += 1;
    touchSketch(rows, b + D_CLIENTS, mixAddress(src), t);
    touchSketch(rows, b + D_PORTS, fmix(service), t);
  }

  /**
   * Counts one packet of a linked flow. `fwd`: sent by the initiator. A key evicted since the flow was linked (its
   * generation moved on) is not updated: its new owner is another key.
   */
  packet(links: Int32Array, at: number, fwd: boolean, size: number, tcpFlags: number, t: number): void {
    const h = links[at];
    if (this.hosts.generation[h] === links[at + 1]) {
      const rows = this.hosts.rows;
      const b = h * HOST_WIDTH;
      this.advance(rows, b, H_SCALES, H_FIELDS, t);
      const fail = (tcpFlags & TCP_RST) !== 0 ? 1 : 0;
      for (let s = 0; s < S; s++) {
        const o = b + H_SCALES + s * H_FIELDS;
        if (fwd) {
          rows[o + H_FWD] += 1;
          rows[o + H_SIZE] += size;
          rows[o + H_SIZE2] += size * size;
        } else rows[o + H_BWD] += 1;
        rows[o + H_FAIL] += fail;
      }
      this.hosts.touch(h);
    }
    const p = links[at + 2];
    if (this.pairs.generation[p] === links[at + 3]) {
      const rows = this.pairs.rows;
      const b = p * PAIR_WIDTH;
      this.advance(rows, b, P_SCALES, P_FIELDS, t);
      for (let s = 0; s < S; s++) {
        const o = b + P_SCALES + s * P_FIELDS;
        rows[o + P_PACKETS] += 1;
        rows[o + P_SIZE] += size;
        rows[o + P_SIZE2] += size * size;
      }
      this.pairs.touch(p);
    }
    const v = links[at + 4];
    if (this.services.generation[v] === links[at + 5]) {
      const rows = this.services.rows;
      const b = v * SERVICE_WIDTH;
      this.advance(rows, b, V_SCALES, V_FIELDS, t);
      const field = fwd ? V_FWD : V_BWD;
      for (let s = 0; s < S; s++) rows[b + V_SCALES + s * V_FIELDS + field] += 1;
      this.services.touch(v);
    }
    const d = links[at + 6];
    if (this.dstHosts.generation[d] === links[at + 7]) {
      const rows = this.dstHosts.rows;
      const b = d * DST_HOST_WIDTH;
      this.advance(rows, b, D_SCALES, D_FIELDS, t);
      const field = fwd ? D_FWD : D_BWD;
      const fail = (tcpFlags & TCP_RST) !== 0 ? 1 : 0;
      for (let s = 0; s < S; s++) {
        const o = b + D_SCALES + s * D_FIELDS;
        rows[o + field] += 1;
        rows[o + D_FAIL] += fail;
      }
      this.dstHosts.touch(d);
    }
  }

  /** Writes the CONTEXT_FEATURES of a linked flow at time `t` into `out` from `offset`. */
  snapshot(links: Int32Array, at: number, t: number, out: Float64Array, offset: number): void {
    let i = this.readStems(this.hosts, HOST_STEMS.length, hostFeature, links, at, t, out, offset);
    i = this.readStems(this.pairs, PAIR_STEMS.length, pairFeature, links, at + 2, t, out, i);
    i = this.readStems(this.services, SERVICE_STEMS.length, serviceFeature, links, at + 4, t, out, i);
    this.readStems(this.dstHosts, DST_HOST_STEMS.length, dstHostFeature, links, at + 6, t, out, i);
  }

  /**
   * Writes one key's features, each stem over all scales (CONTEXT_FEATURES order), from `i`; zeros when the key was
   * evicted since the flow was linked. Returns where the next key's features go.
   */
  private readStems(
    table: KeyedRows,
    stems: number,
    feature: KeyFeature,
    links: Int32Array,
    at: number,
    t: number,
    out: Float64Array,
    i: number,
  ): number {
    const r = links[at];
    const live = table.generation[r] === links[at + 1];
    const b = r * table.width;
    for (let stem = 0; stem < stems; stem++) {
      for (let s = 0; s < S; s++) out[i++] = live ? feature(table.rows, b, stem, s, t, this.rates[s]) : 0;
    }
    return i;
  }

  /** Decays a row's per-scale sums from its last update to `t` (never backwards: late packets add undecayed). */
  private advance(rows: Float64Array, b: number, scales: number, fields: number, t: number): void {
    const dt = t - rows[b + LAST_T];
    if (dt <= 0) return;
    rows[b + LAST_T] = t;
    const decay = this.decay;
    for (let s = 0; s < S; s++) decay[s] = Math.exp(-this.rates[s] * dt);
    for (let s = 0; s < S; s++) {
      const f = decay[s];
      const o = b + scales + s * fields;
      for (let k = 0; k < fields; k++) rows[o + k] *= f;
    }
  }
}

/** Feature `stem` at scale `s` of the row at `b`, read at time `t` (`rate` = ln 2 / the scale's half-life). */
type KeyFeature = (rows: Float64Array, b: number, stem: number, s: number, t: number, rate: number) => number;

/** A share or a mean of damped sums: 0 while nothing was counted. */
function ratio(part: number, whole: number): number {
  return whole > 0 ? part / whole : 0;
}

function hostFeature(
  rows: Float64Array,
  b: number,
  stem: number,
  s: number,
  t: number,
  rate: number,
): number {
  const o = b + H_SCALES + s * H_FIELDS;
  const fwd = rows[o + H_FWD];
  switch (stem) {
    case 0:
      return rows[o + H_FLOWS] * rate;
    case 1:
      return fwd * rate;
    case 2:
      return ratio(rows[o + H_BWD], fwd + rows[o + H_BWD]);
    case 3:
      return ratio(rows[o + H_SIZE], fwd);
    case 4:
      return fwd > 0 ? std(rows[o + H_SIZE], rows[o + H_SIZE2], fwd) : 0;
    case 5:
      return ratio(rows[o + H_FAIL], rows[o + H_FLOWS]);
    case 6:
      return distinct(rows, b + H_DSTS, t, LN2 / rate);
    default:
      return distinct(rows, b + H_PORTS, t, LN2 / rate);
  }
}

function pairFeature(
  rows: Float64Array,
  b: number,
  stem: number,
  s: number,
  t: number,
  rate: number,
): number {
  const o = b + P_SCALES + s * P_FIELDS;
  const packets = rows[o + P_PACKETS];
  const gaps = rows[o + P_GAPS];
  switch (stem) {
    case 0:
      return rows[o + P_FLOWS] * rate;
    case 1:
      return packets * rate;
    case 2:
      return ratio(rows[o + P_SIZE], packets);
    case 3:
      return packets > 0 ? std(rows[o + P_SIZE], rows[o + P_SIZE2], packets) : 0;
    case 4:
      return ratio(rows[o + P_GAP], gaps);
    case 5:
      return gaps > 0 ? std(rows[o + P_GAP], rows[o + P_GAP2], gaps) : 0;
    default:
      return distinct(rows, b + P_PORTS, t, LN2 / rate);
  }
}

function serviceFeature(
  rows: Float64Array,
  b: number,
  stem: number,
  s: number,
  t: number,
  rate: number,
): number {
  const o = b + V_SCALES + s * V_FIELDS;
  switch (stem) {
    case 0:
      return rows[o + V_FLOWS] * rate;
    case 1:
      return ratio(rows[o + V_BWD], rows[o + V_FWD] + rows[o + V_BWD]);
    default:
      return distinct(rows, b + V_CLIENTS, t, LN2 / rate);
  }
}

function dstHostFeature(
  rows: Float64Array,
  b: number,
  stem: number,
  s: number,
  t: number,
  rate: number,
): number {
  const o = b + D_SCALES + s * D_FIELDS;
  const fwd = rows[o + D_FWD];
  switch (stem) {
    case 0:
      return rows[o + D_FLOWS] * rate;
    case 1:
      return fwd * rate;
    case 2:
      return ratio(rows[o + D_BWD], fwd + rows[o + D_BWD]);
    case 3:
      return ratio(rows[o + D_FAIL], rows[o + D_FLOWS]);
    case 4:
      return distinct(rows, b + D_CLIENTS, t, LN2 / rate);
    default:
      return distinct(rows, b + D_PORTS, t, LN2 / rate);
  }
}

/** Standard deviation from damped sums (population formula; clamped at 0 against rounding). */
function std(sum: number, sumSq: number, w: number): number {
  const mean = sum / w;
  const v = sumSq / w - mean * mean;
  return v > 0 ? Math.sqrt(v) : 0;
}

/**
 * A linear-counting sketch whose buckets hold the last time an item hashed there, so that one sketch counts the
 * distinct items of any trailing window: n ≈ −m·ln(empty/m), where "empty" buckets were not hit within the window.
 * Rows start zeroed, so bucket times are stored with a bias that keeps them positive (0 means never).
 */
const SKETCH_BIAS = 1e7;

function touchSketch(rows: Float64Array, at: number, hash: number, t: number): void {
  rows[at + (hash & (SKETCH - 1))] = t + SKETCH_BIAS;
}

function distinct(rows: Float64Array, at: number, t: number, window: number): number {
  const since = t + SKETCH_BIAS - window;
  let empty = 0;
  for (let i = 0; i < SKETCH; i++) if (rows[at + i] === 0 || rows[at + i] < since) empty++;
  if (empty === 0) return SKETCH * Math.log(SKETCH);
  return -SKETCH * Math.log(empty / SKETCH);
}

function mixAddress(words: ArrayLike<number>): number {
  return fmix(
    (words[0] ^ Math.imul(words[1], 0x9e3779b1) ^ Math.imul(words[2], 0x85ebca77) ^ words[3]) >>> 0,
  );
}
