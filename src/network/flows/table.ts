import { decodeTyped, encodeTyped, type TypedJSON } from "../../core/typed-json.ts";
import { type DecodedPacket, LATER_FRAGMENT, PROTO_TCP } from "../capture/decode.ts";
import { formatIpv4, formatIpv6 } from "../capture/ip.ts";
import {
  CONTEXT_FEATURES,
  CONTEXT_LINKS,
  type ContextCapacity,
  FlowContext,
  type FlowContextJSON,
} from "./context.ts";
import { computeFeatures, flowFeatureNames, PER_FLOW_FEATURES } from "./features.ts";
import {
  D_COUNT,
  D_IAT_M2,
  D_IAT_MAX,
  D_IAT_MEAN,
  D_IAT_MIN,
  D_IAT_SUM,
  D_INIT_WINDOW,
  D_PAYLOAD_BYTES,
  D_PAYLOAD_PACKETS,
  D_PREV_T,
  D_SIZE_M2,
  D_SIZE_MAX,
  D_SIZE_MEAN,
  D_SIZE_MIN,
  D_SIZE_SUM,
  F_BWD,
  F_CLOSE_T,
  F_END_REASON,
  F_FIRST_NSEC,
  F_FIRST_SEC,
  F_FIRST_T,
  F_FLAGS,
  F_FWD,
  F_IAT_M2,
  F_IAT_MAX,
  F_IAT_MEAN,
  F_IAT_MIN,
  F_LAST_NSEC,
  F_LAST_SEC,
  F_LAST_T,
  F_PREV_T,
  F_SCORED,
  F_SIZE_M2,
  F_SIZE_MEAN,
  F_SOURCE,
  F_TCP_FLAG_COUNTS,
  F_TOUCH,
  FLAG_CLOSED,
  FLAG_EARLY_SCORED,
  FLAG_FIN_BWD,
  FLAG_FIN_FWD,
  FLAG_FWD_IS_LOWER,
  FLAG_RST,
  FLAG_SYN_OPEN,
  STRIDE,
} from "./state.ts";

/**
 * Why a flow ended. "end": its capture (or input) ended while the flow was open; "cut": the same, but the flow is
 * a TCP connection attempt (opened by a SYN) that started less than `cutWindow` before the end and has no answer
 * yet, so its answer may simply not have been captured. Such flows look like unanswered scans (a truncated
 * capture's last connection attempts) and are not complete flows.
 */
export type FlowEndReason = "idle" | "active" | "fin" | "rst" | "end" | "cut";
export const END_REASONS: readonly FlowEndReason[] = ["idle", "active", "fin", "rst", "end", "cut"];
const IDLE = 0;
const ACTIVE = 1;
const FIN = 2;
const RST = 3;
const END = 4;
const CUT = 5;

/** A finished bidirectional flow. "src" is the sender of the flow's first packet (the forward direction). */
export interface Flow {
  /** Capture file of the flow's first packet. */
  capture: string;
  ipVersion: number;
  /** IP protocol number (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6, …). */
  protocol: number;
  srcIp: string;
  srcPort: number;
  dstIp: string;
  dstPort: number;
  startSec: number;
  startNsec: number;
  endSec: number;
  endNsec: number;
  endReason: FlowEndReason;
  /** Values in `flowFeatureNames` order. */
  features: Float64Array;
}

export interface FlowTimeouts {
  /** A flow with no packet for this long is finished (seconds). */
  idleTimeout: number;
  /** An unanswered TCP attempt still open at the end of its input and younger than this is "cut" (seconds). */
  cutWindow: number;
  /** A flow older than this is cut, and its next packet starts a new flow with the same orientation (seconds). */
  activeTimeout: number;
  /** After a RST or FINs both ways, late packets (the last ACK, retransmissions) still join for this long (s). */
  closeLinger: number;
}

/**
 * Defaults. activeTimeout = 120 s is CICFlowMeter's flow timeout, so durations are comparable with CIC-IDS-style
 * datasets and a long-lived connection yields a flow every 2 minutes instead of one at the very end. CICFlowMeter has
 * no idle expiry (it keeps dead flows until the 120 s cut); idleTimeout = 60 s releases dead UDP/ICMP and
 * half-open TCP flows sooner, which bounds memory under scans and spoofed floods, while staying above the typical
 * keep-alive / polling gaps of live application sessions (NetFlow exporters use 15–60 s). closeLinger = 2 s
 * covers the final ACK of a FIN exchange (one RTT) so that it does not become a flow of its own — the "TCP
 * appendix" artefact of CICFlowMeter, which ends a flow at the first FIN. cutWindow = 1 s: an answer
 * comes within a round trip, and TCP retransmits an unanswered SYN after 1 s.
 */
export const DEFAULT_FLOW_TIMEOUTS: Readonly<FlowTimeouts> = {
  idleTimeout: 60,
  cutWindow: 1,
  activeTimeout: 120,
  closeLinger: 2,
};

/**
 * When a live detector scores a flow before it ends (network watch; batch uses the same points to score as watch
 * does): "early" once, at its N-th packet or T seconds after its first packet, whichever comes first (the age is
 * checked on every packet of the capture, so a one-packet flow — a probe, a spoofed flood packet — is scored T seconds
 * after it started, not when it expires); "close" at the packet that closes a TCP connection (a RST, or FINs both
 * ways). The flow is scored again when it ends ("final") only if packets arrived since. Every point is decided by
 * packet times alone, so a replayed capture is scored exactly as it was live.
 */
export interface FlowScoringPoints {
  /** Early scoring at this many packets… */
  earlyPackets: number;
  /** …or this many seconds after the flow's first packet. */
  earlyAfter: number;
}

export const DEFAULT_SCORING_POINTS: Readonly<FlowScoringPoints> = { earlyPackets: 32, earlyAfter: 2 };

export const SCORE_EARLY = 0;
export const SCORE_CLOSE = 1;
export const SCORE_FINAL = 2;
export const SCORING_POINT_NAMES = ["early", "close", "final"] as const;
export type ScoringPointName = (typeof SCORING_POINT_NAMES)[number];

/** Canonical key: [ipVersion << 8 | protocol, lower address (4 words), upper address (4 words), ports]. */
export const KEY_WORDS = 10;
const FEATURES = flowFeatureNames.length;
const OWN_FEATURES = PER_FLOW_FEATURES.length;
const CONTEXT_WIDTH = CONTEXT_FEATURES.length;
const SLAB_FLOWS = 1024;
const TCP_FIN = 0x01;
const TCP_SYN = 0x02;
const TCP_RST = 0x04;
const TCP_ACK = 0x10;

/**
 * Bidirectional flow table. Flows live in typed arrays (STRIDE doubles each, see state.ts) found through an
 * open-addressing hash index on a direction-independent key, so a packet costs no allocation. Open flows sit in a
 * list ordered by last activity and closed TCP flows in a list ordered by close time: both are expired from their
 * head as the capture clock advances, so memory is bounded by the flows active within the timeouts. A finished
 * flow only leaves the index for a "finished" list; `take` turns finished flows into Flow objects as the consumer
 * asks, so a burst of expiries (a flood ending) does not pile up objects.
 */
export class FlowTable implements FlowStore {
  size = 0;
  private capacity: number;
  private keys: Uint32Array;
  private hashes: Uint32Array;
  private st: Float64Array;
  private prev: Int32Array;
  private next: Int32Array;
  private buckets: Int32Array;
  private mask: number;
  private freeHead = 0;
  private lruHead = -1;
  private lruTail = -1;
  private closeHead = -1;
  private closeTail = -1;
  private doneHead = -1;
  private doneTail = -1;
  /** Finished flows waiting for `take`. */
  pending = 0;
  /** Latest packet time seen (ns since `baseSec`): the clock for expiry, never going backwards. */
  private now = Number.NEGATIVE_INFINITY;
  private baseSec = Number.NaN;
  private readonly key = new Uint32Array(KEY_WORDS);
  private readonly idleNs: number;
  private readonly activeNs: number;
  private readonly lingerNs: number;
  private readonly sources: string[] = [];
  private source = 0;
  private slab = new Float64Array(0);
  private slabUsed = SLAB_FLOWS;
  private readonly cursor = new FlowCursor(this);
  private readonly cutNs: number;
  /** Context across flows: per flow, its keys' rows (CONTEXT_LINKS) and its context features at its start. */
  readonly context: FlowContext;
  private links: Int32Array;
  private contextValues: Float64Array;
  /** Bumped when a slot's flow ends, so that a timer set for an earlier flow in the slot is recognised as stale. */
  private generations: Uint32Array;
  private scoring: { packets: number; ageNs: number } | null = null;
  private onScore: (slot: number, point: number) => void = () => {};
  /** Early-scoring timers in flow creation order (a ring): slot, its generation, and the time the timer is due. */
  private timerSlot = new Int32Array(0);
  private timerGen = new Uint32Array(0);
  private timerDue = new Float64Array(0);
  private timerHead = 0;
  private timerCount = 0;

  /** Whether context across flows is computed (it costs about as much as the flows themselves). */
  private readonly withContext: boolean;

  constructor(
    timeouts: Partial<FlowTimeouts> = {},
    capacityHint = 1024,
    contextCapacity: Partial<ContextCapacity> | false = {},
  ) {
    // Power of two, so that the bucket index is a mask.
    const initialCapacity = 2 ** Math.ceil(Math.log2(Math.max(2, capacityHint)));
    const t: FlowTimeouts = {
      idleTimeout: timeouts.idleTimeout ?? DEFAULT_FLOW_TIMEOUTS.idleTimeout,
      activeTimeout: timeouts.activeTimeout ?? DEFAULT_FLOW_TIMEOUTS.activeTimeout,
      closeLinger: timeouts.closeLinger ?? DEFAULT_FLOW_TIMEOUTS.closeLinger,
      cutWindow: timeouts.cutWindow ?? DEFAULT_FLOW_TIMEOUTS.cutWindow,
    };
    for (const [name, v] of Object.entries(t)) {
      if (!(v > 0)) throw new RangeError(`flow ${name} must be a positive number of seconds, got ${v}`);
    }
    this.idleNs = t.idleTimeout * 1e9;
    this.activeNs = t.activeTimeout * 1e9;
    this.lingerNs = t.closeLinger * 1e9;
    this.cutNs = t.cutWindow * 1e9;
    this.withContext = contextCapacity !== false;
    this.context = new FlowContext(
      contextCapacity === false ? { hosts: 1, pairs: 1, services: 1, dstHosts: 1 } : contextCapacity,
    );
    // Without context, no per-flow context storage either (it would be most of the table's memory).
    this.links = new Int32Array(this.withContext ? initialCapacity * CONTEXT_LINKS : 0);
    this.contextValues = new Float64Array(this.withContext ? initialCapacity * CONTEXT_WIDTH : 0);
    this.capacity = initialCapacity;
    this.generations = new Uint32Array(initialCapacity);
    this.keys = new Uint32Array(initialCapacity * KEY_WORDS);
    this.hashes = new Uint32Array(initialCapacity);
    this.st = new Float64Array(initialCapacity * STRIDE);
    this.prev = new Int32Array(initialCapacity);
    this.next = new Int32Array(initialCapacity);
    for (let i = 0; i < initialCapacity; i++) this.next[i] = i + 1 < initialCapacity ? i + 1 : -1;
    this.buckets = new Int32Array(initialCapacity * 2);
    this.mask = initialCapacity * 2 - 1;
  }

  /**
   * Scores open flows at the scoring points (see FlowScoringPoints): `onScore(slot, SCORE_EARLY | SCORE_CLOSE)` is
   * called with the flow's packet just counted; `cursorAt(slot)` reads it. Set before the first packet.
   */
  scoreAt(points: FlowScoringPoints, onScore: (slot: number, point: number) => void): void {
    if (!(points.earlyPackets >= 1) || !(points.earlyAfter > 0)) {
      throw new RangeError("early scoring needs a packet count ≥ 1 and a positive age");
    }
    this.scoring = { packets: points.earlyPackets, ageNs: points.earlyAfter * 1e9 };
    this.onScore = onScore;
    this.timerSlot = new Int32Array(1024);
    this.timerGen = new Uint32Array(1024);
    this.timerDue = new Float64Array(1024);
  }

  /** Names the capture that the following packets come from (reported in Flow.capture). */
  setSource(name: string): void {
    this.source = this.sources.length;
    this.sources.push(name);
  }

  /**
   * Moves the clock to `sec`.`nsec` without a packet (a live capture gone quiet): flows idle or closed long enough
   * end, early scorings that came due run. No-op before the first packet or for a time not after the clock.
   */
  advanceTo(sec: number, nsec: number): void {
    if (Number.isNaN(this.baseSec)) return;
    const t = (sec - this.baseSec) * 1e9 + nsec;
    if (t <= this.now) return;
    this.now = t;
    this.expire();
    if (this.timerCount > 0) this.runTimers();
  }

  /** Adds one decoded packet (status DECODED) with its exact timestamp. */
  add(d: DecodedPacket, sec: number, nsec: number): void {
    if (Number.isNaN(this.baseSec)) this.baseSec = sec;
    const t = (sec - this.baseSec) * 1e9 + nsec;
    if (t > this.now) {
      this.now = t;
      this.expire();
      if (this.timerCount > 0) this.runTimers();
    }
    const key = this.key;
    const s = d.src;
    const r = d.dst;
    const sp = d.srcPort;
    const dp = d.dstPort;
    let cmp = 0;
    for (let i = 0; i < 4; i++) {
      if (s[i] !== r[i]) {
        cmp = s[i] < r[i] ? -1 : 1;
        break;
      }
    }
    if (cmp === 0) cmp = sp < dp ? -1 : sp > dp ? 1 : 0;
    const srcLower = cmp <= 0;
    key[0] = (d.ipVersion << 8) | d.protocol;
    if (srcLower) {
      key[1] = s[0];
      key[2] = s[1];
      key[3] = s[2];
      key[4] = s[3];
      key[5] = r[0];
      key[6] = r[1];
      key[7] = r[2];
      key[8] = r[3];
      key[9] = ((sp << 16) | dp) >>> 0;
    } else {
      key[1] = r[0];
      key[2] = r[1];
      key[3] = r[2];
      key[4] = r[3];
      key[5] = s[0];
      key[6] = s[1];
      key[7] = s[2];
      key[8] = s[3];
      key[9] = ((dp << 16) | sp) >>> 0;
    }
    const h = hashKey(key);
    let f = this.find(h);
    let created = f < 0;
    if (created) {
      f = this.create(h, srcLower, t, sec, nsec);
    } else {
      const st = this.st;
      const flags = st[f * STRIDE + F_FLAGS];
      if (flags & FLAG_CLOSED && d.protocol === PROTO_TCP && (d.tcpFlags & (TCP_SYN | TCP_ACK)) === TCP_SYN) {
        // A fresh SYN on a closed connection's ports is a new connection.
        this.retire(f, flags & FLAG_RST ? RST : FIN);
        f = this.create(h, srcLower, t, sec, nsec);
        created = true;
      } else if (t - st[f * STRIDE + F_FIRST_T] > this.activeNs) {
        this.retire(f, ACTIVE);
        f = this.create(h, (flags & FLAG_FWD_IS_LOWER) !== 0, t, sec, nsec);
        created = true;
      }
    }
    if (created && d.protocol === PROTO_TCP && (d.tcpFlags & (TCP_SYN | TCP_ACK)) === TCP_SYN && d.hasPorts)
      this.st[f * STRIDE + F_FLAGS] += FLAG_SYN_OPEN;
    const before = this.st[f * STRIDE + F_FLAGS];
    this.update(f, d, srcLower, t, sec, nsec);
    if (created && this.withContext) {
      this.context.snapshot(this.links, f * CONTEXT_LINKS, t / 1e9, this.contextValues, f * CONTEXT_WIDTH);
    }
    if (this.scoring !== null) {
      if (created) this.addTimer(f, t + this.scoring.ageNs);
      const b = f * STRIDE;
      const flags = this.st[b + F_FLAGS];
      if (flags & FLAG_CLOSED) {
        if (!(before & FLAG_CLOSED)) this.score(f, SCORE_CLOSE);
      } else if (
        !(flags & FLAG_EARLY_SCORED) &&
        this.st[b + F_FWD + D_COUNT] + this.st[b + F_BWD + D_COUNT] >= this.scoring.packets
      ) {
        this.score(f, SCORE_EARLY);
      }
    }
  }

  private score(f: number, point: number): void {
    const b = f * STRIDE;
    const st = this.st;
    if (point === SCORE_EARLY) st[b + F_FLAGS] += FLAG_EARLY_SCORED;
    st[b + F_SCORED] = st[b + F_FWD + D_COUNT] + st[b + F_BWD + D_COUNT];
    this.onScore(f, point);
  }

  private addTimer(f: number, due: number): void {
    if (this.timerCount === this.timerSlot.length) {
      const n = this.timerSlot.length * 2;
      const slot = new Int32Array(n);
      const gen = new Uint32Array(n);
      const dueAt = new Float64Array(n);
      for (let i = 0; i < this.timerCount; i++) {
        const j = (this.timerHead + i) & (this.timerSlot.length - 1);
        slot[i] = this.timerSlot[j];
        gen[i] = this.timerGen[j];
        dueAt[i] = this.timerDue[j];
      }
      this.timerSlot = slot;
      this.timerGen = gen;
      this.timerDue = dueAt;
      this.timerHead = 0;
    }
    const j = (this.timerHead + this.timerCount) & (this.timerSlot.length - 1);
    this.timerSlot[j] = f;
    this.timerGen[j] = this.generations[f];
    this.timerDue[j] = due;
    this.timerCount++;
  }

  /**
   * Early scorings that came due as the clock advanced: flows still open, not closed and not yet scored early. Timers
   * are in creation order, which is time order except for packets whose timestamps went backwards (those fire a little
   * late, at the next timer due after them).
   */
  private runTimers(): void {
    const st = this.st;
    const mask = this.timerSlot.length - 1;
    while (this.timerCount > 0 && this.timerDue[this.timerHead] <= this.now) {
      const f = this.timerSlot[this.timerHead];
      const gen = this.timerGen[this.timerHead];
      this.timerHead = (this.timerHead + 1) & mask;
      this.timerCount--;
      if (this.generations[f] !== gen) continue;
      const b = f * STRIDE;
      if (st[b + F_FLAGS] & (FLAG_EARLY_SCORED | FLAG_CLOSED)) continue;
      this.score(f, SCORE_EARLY);
    }
  }

  /**
   * The whole table for a checkpoint (finished flows must have been taken first): flows, their order, the clock,
   * timers and the context tables. Restored by `restore` into a table built with the same options.
   */
  toJSON(): FlowTableJSON {
    if (this.pending > 0) throw new Error("take the finished flows before saving the flow table");
    const timers = this.timerCount;
    const slot = new Int32Array(timers);
    const gen = new Uint32Array(timers);
    const due = new Float64Array(timers);
    for (let i = 0; i < timers; i++) {
      const j = (this.timerHead + i) & (this.timerSlot.length - 1);
      slot[i] = this.timerSlot[j];
      gen[i] = this.timerGen[j];
      due[i] = this.timerDue[j];
    }
    // The wide per-flow columns are saved up to the highest slot in use: a table that grew for a burst, or whose
    // capture ended, would otherwise write its whole capacity (about 1 KiB a slot) at every checkpoint. Slots above are
    // free, and a slot is fully rewritten when a flow takes it. The narrow columns (links of the free list,
    // generations that stale timers are checked against) stay whole.
    let used = 0;
    for (const head of [this.lruHead, this.closeHead])
      for (let f = head; f >= 0; f = this.next[f]) if (f >= used) used = f + 1;
    return {
      capacity: this.capacity,
      size: this.size,
      freeHead: this.freeHead,
      lru: [this.lruHead, this.lruTail],
      closed: [this.closeHead, this.closeTail],
      now: Number.isFinite(this.now) ? this.now : null,
      baseSec: Number.isNaN(this.baseSec) ? null : this.baseSec,
      sources: [...this.sources],
      source: this.source,
      keys: encodeTyped(this.keys, used * KEY_WORDS),
      hashes: encodeTyped(this.hashes),
      st: encodeTyped(this.st, used * STRIDE),
      prev: encodeTyped(this.prev),
      next: encodeTyped(this.next),
      generations: encodeTyped(this.generations),
      links: this.withContext ? encodeTyped(this.links, used * CONTEXT_LINKS) : null,
      contextValues: this.withContext ? encodeTyped(this.contextValues, used * CONTEXT_WIDTH) : null,
      context: this.withContext ? this.context.toJSON() : null,
      timers: { slot: encodeTyped(slot), gen: encodeTyped(gen), due: encodeTyped(due) },
    };
  }

  restore(json: FlowTableJSON): void {
    const cap = json.capacity;
    this.capacity = cap;
    this.size = json.size;
    this.freeHead = json.freeHead;
    [this.lruHead, this.lruTail] = json.lru;
    [this.closeHead, this.closeTail] = json.closed;
    this.doneHead = -1;
    this.doneTail = -1;
    this.pending = 0;
    this.now = json.now ?? Number.NEGATIVE_INFINITY;
    this.baseSec = json.baseSec ?? Number.NaN;
    this.sources.splice(0, this.sources.length, ...json.sources);
    this.source = json.source;
    const keys = decodeTyped(json.keys, "u32");
    const st = decodeTyped(json.st, "f64");
    this.hashes = decodeTyped(json.hashes, "u32");
    this.prev = decodeTyped(json.prev, "i32");
    this.next = decodeTyped(json.next, "i32");
    this.generations = decodeTyped(json.generations, "u32");
    const used = st.length / STRIDE;
    if (
      !Number.isInteger(used) ||
      used > cap ||
      keys.length !== used * KEY_WORDS ||
      [this.hashes, this.prev, this.next, this.generations].some((a) => a.length !== cap)
    ) {
      throw new Error("the checkpoint's flow table was written by another version of threatlens");
    }
    this.keys = new Uint32Array(cap * KEY_WORDS);
    this.keys.set(keys);
    this.st = new Float64Array(cap * STRIDE);
    this.st.set(st);
    if (this.withContext !== (json.context !== null)) {
      throw new Error("the checkpoint's flow table differs in whether it tracks context");
    }
    if (this.withContext) {
      const links = decodeTyped(json.links!, "i32");
      const values = decodeTyped(json.contextValues!, "f64");
      if (links.length !== used * CONTEXT_LINKS || values.length !== used * CONTEXT_WIDTH) {
        throw new Error("the checkpoint's flow table was written by another version of threatlens");
      }
      this.links = new Int32Array(cap * CONTEXT_LINKS);
      this.links.set(links);
      this.contextValues = new Float64Array(cap * CONTEXT_WIDTH);
      this.contextValues.set(values);
      this.context.restore(json.context!);
    }
    this.buckets = new Int32Array(cap * 2);
    this.mask = cap * 2 - 1;
    for (let f = this.lruHead; f >= 0; f = this.next[f]) this.insertBucket(f, this.hashes[f]);
    for (let f = this.closeHead; f >= 0; f = this.next[f]) this.insertBucket(f, this.hashes[f]);
    const slot = decodeTyped(json.timers.slot, "i32");
    const gen = decodeTyped(json.timers.gen, "u32");
    const due = decodeTyped(json.timers.due, "f64");
    const ring = 2 ** Math.ceil(Math.log2(Math.max(1024, slot.length + 1)));
    this.timerSlot = new Int32Array(ring);
    this.timerGen = new Uint32Array(ring);
    this.timerDue = new Float64Array(ring);
    this.timerSlot.set(slot);
    this.timerGen.set(gen);
    this.timerDue.set(due);
    this.timerHead = 0;
    this.timerCount = slot.length;
  }

  /** The table's clock (the latest packet time) in seconds since the first packet's second. */
  get clockSeconds(): number {
    return this.now / 1e9;
  }

  /** Reads the open or finished flow in `slot` (valid until the next packet). */
  cursorAt(slot: number): FlowCursor {
    this.cursor.load(slot);
    return this.cursor;
  }

  /** Finishes every remaining flow (end of input) and restarts the clock, so the next capture may be older. */
  flush(): void {
    while (this.closeHead >= 0) {
      const f = this.closeHead;
      this.retire(f, this.st[f * STRIDE + F_FLAGS] & FLAG_RST ? RST : FIN);
    }
    const now = this.now;
    const st = this.st;
    while (this.lruHead >= 0) {
      const f = this.lruHead;
      const b = f * STRIDE;
      const attempt = (st[b + F_FLAGS] & FLAG_SYN_OPEN) !== 0 && st[b + F_BWD + D_COUNT] === 0;
      this.retire(f, attempt && now - st[b + F_FIRST_T] < this.cutNs ? CUT : END);
    }
    this.now = Number.NEGATIVE_INFINITY;
    this.baseSec = Number.NaN;
    this.context.clear();
    this.timerHead = 0;
    this.timerCount = 0;
  }

  /** Up to `max` finished flows, in the order they finished; their slots are reused afterwards. */
  take(max = Number.POSITIVE_INFINITY): Flow[] {
    const out: Flow[] = [];
    this.drain(max, (c) => {
      out.push(c.toFlow(this.featureVector()));
    });
    return out;
  }

  /**
   * Hands up to `max` finished flows, in the order they finished, to `visit` through one reused cursor (no
   * allocation per flow: what bulk writers need), then frees their slots. Returns how many were visited.
   */
  drain(max: number, visit: (flow: FlowCursor) => void): number {
    const cursor = this.cursor;
    let n = 0;
    while (this.doneHead >= 0 && n < max) {
      const f = this.doneHead;
      cursor.load(f);
      visit(cursor);
      this.doneHead = this.next[f];
      if (this.doneHead < 0) this.doneTail = -1;
      this.next[f] = this.freeHead;
      this.freeHead = f;
      this.size--;
      this.pending--;
      n++;
    }
    return n;
  }

  /** Capture names by source index (FlowCursor.source). */
  sourceName(index: number): string {
    return this.sources[index] ?? "";
  }

  private expire(): void {
    const st = this.st;
    const now = this.now;
    while (this.lruHead >= 0 && st[this.lruHead * STRIDE + F_TOUCH] + this.idleNs < now)
      this.retire(this.lruHead, IDLE);
    while (this.closeHead >= 0 && st[this.closeHead * STRIDE + F_CLOSE_T] + this.lingerNs < now) {
      const f = this.closeHead;
      this.retire(f, st[f * STRIDE + F_FLAGS] & FLAG_RST ? RST : FIN);
    }
  }

  private find(h: number): number {
    const key = this.key;
    const keys = this.keys;
    const buckets = this.buckets;
    const mask = this.mask;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const e = buckets[i];
      if (e === 0) return -1;
      const f = e - 1;
      if (this.hashes[f] !== h) continue;
      const o = f * KEY_WORDS;
      if (
        keys[o] === key[0] &&
        keys[o + 1] === key[1] &&
        keys[o + 2] === key[2] &&
        keys[o + 3] === key[3] &&
        keys[o + 4] === key[4] &&
        keys[o + 5] === key[5] &&
        keys[o + 6] === key[6] &&
        keys[o + 7] === key[7] &&
        keys[o + 8] === key[8] &&
        keys[o + 9] === key[9]
      ) {
        return f;
      }
    }
  }

  private create(h: number, fwdIsLower: boolean, t: number, sec: number, nsec: number): number {
    if (this.size === this.capacity) this.grow();
    const f = this.freeHead;
    this.freeHead = this.next[f];
    this.keys.set(this.key, f * KEY_WORDS);
    this.hashes[f] = h;
    this.insertBucket(f, h);
    const st = this.st;
    const b = f * STRIDE;
    st.fill(0, b, b + STRIDE);
    st[b + F_FIRST_T] = t;
    st[b + F_LAST_T] = t;
    st[b + F_FIRST_SEC] = sec;
    st[b + F_FIRST_NSEC] = nsec;
    st[b + F_LAST_SEC] = sec;
    st[b + F_LAST_NSEC] = nsec;
    st[b + F_FLAGS] = fwdIsLower ? FLAG_FWD_IS_LOWER : 0;
    st[b + F_SOURCE] = this.source;
    st[b + F_FWD + D_INIT_WINDOW] = -1;
    st[b + F_BWD + D_INIT_WINDOW] = -1;
    st[b + F_TOUCH] = this.now;
    if (this.withContext) {
      const key = this.key;
      const lower = key.subarray(1, 5);
      const upper = key.subarray(5, 9);
      this.context.startFlow(
        this.links,
        f * CONTEXT_LINKS,
        key[0] >>> 8,
        key[0] & 0xff,
        fwdIsLower ? lower : upper,
        fwdIsLower ? upper : lower,
        fwdIsLower ? key[9] & 0xffff : key[9] >>> 16,
        t / 1e9,
      );
    }
    this.prev[f] = this.lruTail;
    this.next[f] = -1;
    if (this.lruTail >= 0) this.next[this.lruTail] = f;
    else this.lruHead = f;
    this.lruTail = f;
    this.size++;
    return f;
  }

  private update(f: number, d: DecodedPacket, srcLower: boolean, t: number, sec: number, nsec: number): void {
    const st = this.st;
    const b = f * STRIDE;
    const flags = st[b + F_FLAGS];
    const fwd = ((flags & FLAG_FWD_IS_LOWER) !== 0) === srcLower;
    const o = b + (fwd ? F_FWD : F_BWD);
    const size = d.ipLength;
    const before = st[b + F_FWD + D_COUNT] + st[b + F_BWD + D_COUNT];
    if (before > 0) {
      let gap = t - st[b + F_PREV_T];
      if (gap < 0) gap = 0;
      const delta = gap - st[b + F_IAT_MEAN];
      const mean = st[b + F_IAT_MEAN] + delta / before;
      st[b + F_IAT_MEAN] = mean;
      st[b + F_IAT_M2] += delta * (gap - mean);
      if (before === 1 || gap < st[b + F_IAT_MIN]) st[b + F_IAT_MIN] = gap;
      if (before === 1 || gap > st[b + F_IAT_MAX]) st[b + F_IAT_MAX] = gap;
    }
    st[b + F_PREV_T] = t;
    if (t > st[b + F_LAST_T]) {
      st[b + F_LAST_T] = t;
      st[b + F_LAST_SEC] = sec;
      st[b + F_LAST_NSEC] = nsec;
    } else if (t < st[b + F_FIRST_T]) {
      st[b + F_FIRST_T] = t;
      st[b + F_FIRST_SEC] = sec;
      st[b + F_FIRST_NSEC] = nsec;
    }
    let delta = size - st[b + F_SIZE_MEAN];
    let mean = st[b + F_SIZE_MEAN] + delta / (before + 1);
    st[b + F_SIZE_MEAN] = mean;
    st[b + F_SIZE_M2] += delta * (size - mean);

    const n = st[o + D_COUNT] + 1;
    st[o + D_COUNT] = n;
    st[o + D_SIZE_SUM] += size;
    delta = size - st[o + D_SIZE_MEAN];
    mean = st[o + D_SIZE_MEAN] + delta / n;
    st[o + D_SIZE_MEAN] = mean;
    st[o + D_SIZE_M2] += delta * (size - mean);
    if (n === 1 || size < st[o + D_SIZE_MIN]) st[o + D_SIZE_MIN] = size;
    if (n === 1 || size > st[o + D_SIZE_MAX]) st[o + D_SIZE_MAX] = size;
    if (n > 1) {
      let gap = t - st[o + D_PREV_T];
      if (gap < 0) gap = 0;
      const g = n - 1;
      st[o + D_IAT_SUM] += gap;
      delta = gap - st[o + D_IAT_MEAN];
      mean = st[o + D_IAT_MEAN] + delta / g;
      st[o + D_IAT_MEAN] = mean;
      st[o + D_IAT_M2] += delta * (gap - mean);
      if (g === 1 || gap < st[o + D_IAT_MIN]) st[o + D_IAT_MIN] = gap;
      if (g === 1 || gap > st[o + D_IAT_MAX]) st[o + D_IAT_MAX] = gap;
    }
    st[o + D_PREV_T] = t;
    if (d.payloadLength > 0) {
      st[o + D_PAYLOAD_BYTES] += d.payloadLength;
      st[o + D_PAYLOAD_PACKETS]++;
    }

    const tcp = d.protocol === PROTO_TCP && d.fragment !== LATER_FRAGMENT && d.hasPorts;
    if (this.withContext)
      this.context.packet(this.links, f * CONTEXT_LINKS, fwd, size, tcp ? d.tcpFlags : 0, t / 1e9);
    let newFlags = flags;
    if (tcp) {
      const tf = d.tcpFlags;
      if (tf !== 0) {
        for (let bit = 0; bit < 8; bit++) if (tf & (1 << bit)) st[b + F_TCP_FLAG_COUNTS + bit]++;
        if (tf & TCP_RST) newFlags |= FLAG_RST | FLAG_CLOSED;
        if (tf & TCP_FIN) newFlags |= fwd ? FLAG_FIN_FWD : FLAG_FIN_BWD;
        if ((newFlags & (FLAG_FIN_FWD | FLAG_FIN_BWD)) === (FLAG_FIN_FWD | FLAG_FIN_BWD))
          newFlags |= FLAG_CLOSED;
      }
      if (st[o + D_INIT_WINDOW] < 0) st[o + D_INIT_WINDOW] = d.tcpWindow;
    }
    if (newFlags !== flags) st[b + F_FLAGS] = newFlags;
    if (newFlags & FLAG_CLOSED) {
      if (!(flags & FLAG_CLOSED)) {
        this.unlink(f, false);
        st[b + F_CLOSE_T] = this.now;
        this.appendClosed(f);
      }
    } else {
      st[b + F_TOUCH] = this.now;
      if (this.lruTail !== f) {
        this.unlink(f, false);
        this.prev[f] = this.lruTail;
        this.next[f] = -1;
        if (this.lruTail >= 0) this.next[this.lruTail] = f;
        else this.lruHead = f;
        this.lruTail = f;
      }
    }
  }

  private appendClosed(f: number): void {
    this.prev[f] = this.closeTail;
    this.next[f] = -1;
    if (this.closeTail >= 0) this.next[this.closeTail] = f;
    else this.closeHead = f;
    this.closeTail = f;
  }

  /** Removes `f` from the open list, or from the closed list when `closed`. */
  private unlink(f: number, closed: boolean): void {
    const p = this.prev[f];
    const n = this.next[f];
    if (p >= 0) this.next[p] = n;
    else if (closed) this.closeHead = n;
    else this.lruHead = n;
    if (n >= 0) this.prev[n] = p;
    else if (closed) this.closeTail = p;
    else this.lruTail = p;
  }

  /** Ends flow `f`: out of the index and its list, into the finished list (its slot is freed by `take`). */
  private retire(f: number, reason: number): void {
    const st = this.st;
    this.unlink(f, (st[f * STRIDE + F_FLAGS] & FLAG_CLOSED) !== 0);
    this.deleteBucket(f);
    this.generations[f]++;
    st[f * STRIDE + F_END_REASON] = reason;
    this.prev[f] = this.doneTail;
    this.next[f] = -1;
    if (this.doneTail >= 0) this.next[this.doneTail] = f;
    else this.doneHead = f;
    this.doneTail = f;
    this.pending++;
  }

  /**
   * A feature vector carved from a shared slab: allocating a small Float64Array costs ~1 µs each (its own
   * ArrayBuffer), a view into a slab a quarter of that. A slab is freed once all its flows are.
   */
  private featureVector(): Float64Array {
    if (this.slabUsed === SLAB_FLOWS) {
      this.slab = new Float64Array(SLAB_FLOWS * FEATURES);
      this.slabUsed = 0;
    }
    const start = this.slabUsed++ * FEATURES;
    return this.slab.subarray(start, start + FEATURES);
  }

  /** Read access for FlowCursor (same module). */
  get state(): Float64Array {
    return this.st;
  }

  get keyWords(): Uint32Array {
    return this.keys;
  }

  /** Copies flow `f`'s context features into `out` from `offset`. */
  contextOf(f: number, out: Float64Array, offset: number): void {
    if (!this.withContext) {
      out.fill(0, offset, offset + CONTEXT_WIDTH);
      return;
    }
    out.set(this.contextValues.subarray(f * CONTEXT_WIDTH, (f + 1) * CONTEXT_WIDTH), offset);
  }

  private insertBucket(f: number, h: number): void {
    const mask = this.mask;
    let i = h & mask;
    while (this.buckets[i] !== 0) i = (i + 1) & mask;
    this.buckets[i] = f + 1;
  }

  /** Linear-probing deletion with backward shift, so lookups never need tombstones. */
  private deleteBucket(f: number): void {
    const buckets = this.buckets;
    const mask = this.mask;
    let i = this.hashes[f] & mask;
    while (buckets[i] !== f + 1) i = (i + 1) & mask;
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

  private grow(): void {
    const old = this.capacity;
    const cap = old * 2;
    const keys = new Uint32Array(cap * KEY_WORDS);
    keys.set(this.keys);
    this.keys = keys;
    const hashes = new Uint32Array(cap);
    hashes.set(this.hashes);
    this.hashes = hashes;
    const generations = new Uint32Array(cap);
    generations.set(this.generations);
    this.generations = generations;
    const st = new Float64Array(cap * STRIDE);
    st.set(this.st);
    this.st = st;
    if (this.withContext) {
      const links = new Int32Array(cap * CONTEXT_LINKS);
      links.set(this.links);
      this.links = links;
      const contextValues = new Float64Array(cap * CONTEXT_WIDTH);
      contextValues.set(this.contextValues);
      this.contextValues = contextValues;
    }
    const prev = new Int32Array(cap);
    prev.set(this.prev);
    this.prev = prev;
    const next = new Int32Array(cap);
    next.set(this.next);
    for (let i = old; i < cap; i++) next[i] = i + 1 < cap ? i + 1 : -1;
    this.next = next;
    this.freeHead = old; // the table was full, so the old free list was empty
    this.capacity = cap;
    this.buckets = new Int32Array(cap * 2);
    this.mask = cap * 2 - 1;
    for (let f = this.lruHead; f >= 0; f = next[f]) this.insertBucket(f, hashes[f]);
    for (let f = this.closeHead; f >= 0; f = next[f]) this.insertBucket(f, hashes[f]);
  }
}

export interface FlowTableJSON {
  capacity: number;
  size: number;
  freeHead: number;
  lru: [number, number];
  closed: [number, number];
  now: number | null;
  baseSec: number | null;
  sources: string[];
  source: number;
  keys: TypedJSON;
  hashes: TypedJSON;
  st: TypedJSON;
  prev: TypedJSON;
  next: TypedJSON;
  generations: TypedJSON;
  links: TypedJSON | null;
  contextValues: TypedJSON | null;
  context: FlowContextJSON | null;
  timers: { slot: TypedJSON; gen: TypedJSON; due: TypedJSON };
}

/** MurmurHash3 (x86, 32-bit) over the key words; IPv4 keys skip the address words that are always 0. */
function hashKey(key: Uint32Array): number {
  let h = 0x9747b28c;
  const v4 = key[0] >>> 8 === 4;
  for (let i = 0; i < KEY_WORDS; i++) {
    if (v4 && i !== 0 && i !== 1 && i !== 5 && i !== 9) continue;
    let k = Math.imul(key[i], 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, 0x1b873593);
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Where a FlowCursor reads flows: a FlowTable, or finished flows copied out of one (FlowRecords), in the same layout
 * (STRIDE doubles of state and KEY_WORDS key words per slot).
 */
export interface FlowStore {
  readonly state: Float64Array;
  readonly keyWords: Uint32Array;
  contextOf(slot: number, out: Float64Array, offset: number): void;
  sourceName(index: number): string;
}

/**
 * A finished flow still inside its table, read in place: valid only during FlowTable.drain's callback. Endpoints
 * are oriented by the flow's first packet ("src" sent it); addresses are big-endian words (IPv4: word 0 only).
 */
export class FlowCursor {
  ipVersion = 0;
  protocol = 0;
  srcPort = 0;
  dstPort = 0;
  readonly src = new Uint32Array(4);
  readonly dst = new Uint32Array(4);
  startSec = 0;
  startNsec = 0;
  endSec = 0;
  endNsec = 0;
  /** Index into END_REASONS. */
  endReasonIndex = 0;
  /** Capture index (FlowTable.sourceName). */
  source = 0;
  private slot = 0;

  constructor(readonly store: FlowStore) {}

  load(f: number): void {
    this.slot = f;
    const st = this.store.state;
    const keys = this.store.keyWords;
    const b = f * STRIDE;
    const o = f * KEY_WORDS;
    this.ipVersion = keys[o] >>> 8;
    this.protocol = keys[o] & 0xff;
    const fwdLower = (st[b + F_FLAGS] & FLAG_FWD_IS_LOWER) !== 0;
    const lower = fwdLower ? this.src : this.dst;
    const upper = fwdLower ? this.dst : this.src;
    for (let i = 0; i < 4; i++) {
      lower[i] = keys[o + 1 + i];
      upper[i] = keys[o + 5 + i];
    }
    const lowerPort = keys[o + 9] >>> 16;
    const upperPort = keys[o + 9] & 0xffff;
    this.srcPort = fwdLower ? lowerPort : upperPort;
    this.dstPort = fwdLower ? upperPort : lowerPort;
    this.startSec = st[b + F_FIRST_SEC];
    this.startNsec = st[b + F_FIRST_NSEC];
    this.endSec = st[b + F_LAST_SEC];
    this.endNsec = st[b + F_LAST_NSEC];
    this.endReasonIndex = st[b + F_END_REASON];
    this.source = st[b + F_SOURCE];
  }

  get endReason(): FlowEndReason {
    return END_REASONS[this.endReasonIndex];
  }

  /** Packets in the flow so far. */
  get packets(): number {
    const st = this.store.state;
    const b = this.slot * STRIDE;
    return st[b + F_FWD + D_COUNT] + st[b + F_BWD + D_COUNT];
  }

  /** Packets when the flow was last scored at a scoring point (0: never). */
  get scoredPackets(): number {
    return this.store.state[this.slot * STRIDE + F_SCORED];
  }

  /** Bytes (IP-layer) so far, both directions. */
  get bytes(): number {
    const st = this.store.state;
    const b = this.slot * STRIDE;
    return st[b + F_FWD + D_SIZE_SUM] + st[b + F_BWD + D_SIZE_SUM];
  }

  /** Slot of the flow in its table (its rows in the context tables, its timers). */
  get slotIndex(): number {
    return this.slot;
  }

  /** Capture file of the flow's first packet. */
  get capture(): string {
    return this.store.sourceName(this.source);
  }

  /** Fills `out` (flowFeatureNames order: the flow's own statistics, then its context). */
  features(out: Float64Array): Float64Array {
    computeFeatures(this.store.state, this.slot * STRIDE, this.protocol, out);
    this.store.contextOf(this.slot, out, OWN_FEATURES);
    return out;
  }

  /** The flow as a self-contained object, its features written into `features`. */
  toFlow(features: Float64Array): Flow {
    const v4 = this.ipVersion === 4;
    return {
      capture: this.capture,
      ipVersion: this.ipVersion,
      protocol: this.protocol,
      srcIp: v4 ? formatIpv4(this.src[0]) : formatIpv6(this.src),
      srcPort: this.srcPort,
      dstIp: v4 ? formatIpv4(this.dst[0]) : formatIpv6(this.dst),
      dstPort: this.dstPort,
      startSec: this.startSec,
      startNsec: this.startNsec,
      endSec: this.endSec,
      endNsec: this.endNsec,
      endReason: this.endReason,
      features: this.features(features),
    };
  }
}
