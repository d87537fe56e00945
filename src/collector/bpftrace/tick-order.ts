const STALE_NS = 1e9;

/**
 * Restores event-time order across bpftrace's per-CPU rings. Records are held until every CPU has ticked past
 * their time (a CPU's ring is first in, first out, and each CPU ticks every ~10 ms), then released sorted by
 * time, ties in arrival order. A CPU that stops ticking (taken offline) is left out of the watermark once the
 * others are a second ahead. A record older than what was already released (a preempted uprobe program can write
 * its record after a later tick) is released at once and counted in `late`.
 */
export class TickOrder<T extends { ts: string }> {
  private pending: T[] = [];
  private readonly ticks = new Map<number, string>();
  private released = "0";
  private firstTick: number | null = null;
  /** Records released out of time order. */
  late = 0;

  constructor(
    private readonly cpus: readonly number[],
    private readonly release: (record: T) => void,
  ) {}

  add(record: T): void {
    if (compareTs(record.ts, this.released) < 0) {
      this.late++;
      this.release(record);
    } else this.pending.push(record);
  }

  tick(cpu: number, ts: string): void {
    const last = this.ticks.get(cpu);
    if (last === undefined || compareTs(ts, last) > 0) this.ticks.set(cpu, ts);
    if (this.firstTick === null) this.firstTick = Number(ts);
  }

  /** Every CPU has ticked past `ts`: all records from before `ts` have arrived. */
  passed(ts: string): boolean {
    const mark = this.watermark();
    return mark !== null && compareTs(mark, ts) > 0;
  }

  /** The time up to which every record has arrived, or null while a CPU has not ticked yet. */
  watermark(): string | null {
    if (this.firstTick === null) return null;
    // Number() is within a few microseconds of exact here: enough to tell a second.
    let newest = 0;
    for (const ts of this.ticks.values()) newest = Math.max(newest, Number(ts));
    let mark: string | null = null;
    for (const cpu of this.cpus) {
      const ts = this.ticks.get(cpu);
      if (ts === undefined) {
        if (newest - this.firstTick > STALE_NS) continue; // never ticked in a second: offline
        return null;
      }
      if (Number(ts) < newest - STALE_NS) continue; // stopped ticking: went offline
      if (mark === null || compareTs(ts, mark) < 0) mark = ts;
    }
    return mark;
  }

  /** Releases, in time order, every held record up to the watermark. */
  flush(): void {
    const mark = this.watermark();
    if (mark !== null) this.releaseUpTo(mark);
  }

  /** Releases everything held (the tracer has ended). */
  flushAll(): void {
    this.releaseUpTo(null);
  }

  get held(): number {
    return this.pending.length;
  }

  private releaseUpTo(mark: string | null): void {
    if (this.pending.length === 0) return;
    this.pending.sort((a, b) => compareTs(a.ts, b.ts));
    let cut = this.pending.length;
    if (mark !== null) {
      cut = 0;
      while (cut < this.pending.length && compareTs(this.pending[cut].ts, mark) <= 0) cut++;
    }
    if (cut === 0) return;
    const out = this.pending.slice(0, cut);
    this.pending = this.pending.slice(cut);
    for (const record of out) this.release(record);
    this.released = out[out.length - 1].ts;
  }
}

/** Compares two non-negative decimal integers given as strings without leading zeros. */
export function compareTs(a: string, b: string): number {
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}
