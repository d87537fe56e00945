import type { TrainedAutoencoder } from "../models/autoencoder.ts";
import type { WindowScorer } from "./scorer.ts";
import { type ScoringState, scoreWindows } from "./scoring.ts";
import { windows } from "./windows.ts";

/**
 * The autoencoder as a window scorer for ProcessScorer: one window's loss, cached by content (traces repeat windows
 * heavily). Batch scoring first `prefetch`es every window of the traces it will score in large forward passes, so
 * the per-syscall code path finds them in the cache; a live process scores a new window on its own. The cache is
 * bounded: when full it starts over, which costs recomputation, never a wrong score.
 */
const CACHE_LIMIT = 500_000;

export class AutoencoderSignal implements WindowScorer {
  private readonly cache = new Map<string, number>();

  constructor(
    readonly network: TrainedAutoencoder,
    readonly state: ScoringState,
  ) {}

  get length(): number {
    return this.network.config.windowLength;
  }

  score(window: Int32Array): number {
    const key = window.join(",");
    let value = this.cache.get(key);
    if (value === undefined) {
      value = scoreWindows(this.network, this.state, window)[0];
      this.remember(key, value);
    }
    return value;
  }

  /** Scores every window of the encoded traces in batches and caches the results. */
  prefetch(traces: Iterable<Int32Array>): void {
    const L = this.length;
    const pending = new Map<string, Int32Array>();
    for (const trace of traces) {
      const all = windows(trace, L, 1);
      for (let i = 0; i < all.length; i += L) {
        const w = all.subarray(i, i + L);
        const key = w.join(",");
        if (!this.cache.has(key) && !pending.has(key)) pending.set(key, w);
      }
    }
    if (pending.size === 0) return;
    const flat = new Int32Array(pending.size * L);
    let at = 0;
    for (const w of pending.values()) {
      flat.set(w, at);
      at += L;
    }
    const scores = scoreWindows(this.network, this.state, flat);
    let i = 0;
    for (const key of pending.keys()) this.remember(key, scores[i++]);
  }

  private remember(key: string, value: number): void {
    if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
    this.cache.set(key, value);
  }
}
