import type { EngineCounters } from "./engine.ts";

/** What the stats line and the final summary report. */
export interface StatsSnapshot extends EngineCounters {
  activeEntities: number;
  /** Input written but not yet read (bytes). */
  behindBytes: number;
  /** Wall-clock delay between an event happening and the detector applying it, when measurable. */
  lagMs: number | null;
  /** Detector-specific gauges, printed after the common ones (camelCase names, shown as words). */
  extra?: Record<string, number>;
  /** What the records are called on the stats line ("packets"; default "events"). */
  noun?: string;
}

/**
 * Prints a stats line every few seconds: events in and their rate, what was dropped, alerts, and how far behind the
 * input the detector is — the numbers an operator needs to trust a live detector (Falco's users ask for them most).
 */
export class StatsReporter {
  private timer: NodeJS.Timeout | null = null;
  private lastRecords = 0;
  private lastAt = 0;

  constructor(
    private readonly read: () => StatsSnapshot,
    private readonly stream: NodeJS.WritableStream,
    private readonly intervalMs: number,
    private readonly format: "text" | "json",
  ) {}

  start(): void {
    const first = this.read();
    this.lastRecords = first.records;
    this.lastAt = Date.now();
    this.timer = setInterval(() => this.print(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  print(): void {
    const s = this.read();
    const now = Date.now();
    const rate = now > this.lastAt ? ((s.records - this.lastRecords) * 1000) / (now - this.lastAt) : 0;
    this.lastRecords = s.records;
    this.lastAt = now;
    if (this.format === "json") {
      this.stream.write(`${JSON.stringify({ stats: { ...s, eventsPerSecond: Math.round(rate) } })}\n`);
      return;
    }
    this.stream.write(`${formatStatsLine(s, rate)}\n`);
  }
}

export function formatStatsLine(s: StatsSnapshot, rate?: number): string {
  const parts = [
    `${s.noun ?? "events"} ${s.records.toLocaleString("en-US")}${rate !== undefined ? ` (${Math.round(rate).toLocaleString("en-US")}/s)` : ""}`,
    `entities ${s.activeEntities}`,
    `dropped ${s.dropped}`,
    `alerts ${s.alerts} (incidents ${s.incidents})`,
    `lag ${s.lagMs === null ? "n/a" : `${Math.max(0, Math.round(s.lagMs))} ms`}`,
    `behind ${formatBytes(s.behindBytes)}`,
  ];
  for (const [name, value] of Object.entries(s.extra ?? {})) {
    parts.push(`${name.replace(/[A-Z]/g, (c) => ` ${c.toLowerCase()}`)} ${value.toLocaleString("en-US")}`);
  }
  return `threatlens: ${parts.join(", ")}`;
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1 << 20) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1048576).toFixed(1)} MiB`;
}
