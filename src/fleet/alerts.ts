import { DeliverPolicy, type JsMsg, jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Alert } from "../core/stream/alerts.ts";
import { PRIORITIES, type Priority } from "../core/stream/detector.ts";
import { ALERTS_STREAM, alertFilter } from "./names.ts";

/**
 * Reading the fleet's alert stream: every stored alert in order, then (follow) new ones as they are stored. Filters on
 * host and detector become the consumer's subject filter (the server sends nothing else); priority and time are
 * checked here. Alerts are de-duplicated by id once more on the way out, whatever the stream's window did.
 */
export interface AlertQuery {
  host?: string;
  detector?: string;
  /** Lowest priority shown. */
  priority?: Priority;
  /** Alerts raised at or after / before these times (the alert's `time`). */
  since?: Date;
  until?: Date;
  follow?: boolean;
}

export function matches(a: Alert, q: AlertQuery): boolean {
  if (q.priority && PRIORITIES.indexOf(a.priority) < PRIORITIES.indexOf(q.priority)) return false;
  if (q.since || q.until) {
    const t = Date.parse(a.time);
    if (q.since && t < q.since.getTime()) return false;
    if (q.until && t >= q.until.getTime()) return false;
  }
  if (q.host !== undefined && a.hostname !== q.host) return false;
  if (q.detector !== undefined && a.detector !== q.detector) return false;
  return true;
}

/**
 * Calls `visit` for every matching alert; without `follow` it returns once the alerts stored when it started have
 * been read, with `follow` it runs until `signal` aborts.
 */
export async function readAlerts(
  nc: NatsConnection,
  query: AlertQuery,
  visit: (alert: Alert) => void,
  signal?: AbortSignal,
  /** Called once the alerts stored at the start have been visited (follow: before the new ones). */
  onCaughtUp?: () => void,
): Promise<number> {
  const filter = alertFilter(query.detector, query.host);
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(ALERTS_STREAM, { subjects_filter: filter });
  const stored = Object.values(info.state.subjects ?? {}).reduce((a, b) => a + b, 0);
  if (stored === 0) onCaughtUp?.();
  if (stored === 0 && !query.follow) return 0;
  let caughtUp = stored === 0;
  const consumer = await jetstream(nc).consumers.get(ALERTS_STREAM, {
    filter_subjects: filter,
    ...(query.since
      ? { deliver_policy: DeliverPolicy.StartTime, opt_start_time: query.since.toISOString() }
      : { deliver_policy: DeliverPolicy.All }),
  });
  const messages = await consumer.consume({ max_messages: 512 });
  signal?.addEventListener("abort", () => messages.stop(), { once: true });
  const seen = new Set<string>();
  let shown = 0;
  const take = (m: JsMsg) => {
    let alert: Alert;
    try {
      alert = m.json<Alert>();
    } catch {
      return;
    }
    if (seen.has(alert.id)) return;
    seen.add(alert.id);
    if (!matches(alert, query)) return;
    shown++;
    visit(alert);
  };
  // Without follow, stop at the last alert stored (or, when none matches the start time, after a quiet moment).
  let idle: NodeJS.Timeout | null = null;
  const quiet = () => {
    if (query.follow) return;
    if (idle) clearTimeout(idle);
    idle = setTimeout(() => messages.stop(), 2000);
  };
  quiet();
  try {
    for await (const m of messages) {
      take(m);
      if (!caughtUp && m.info.pending === 0) {
        caughtUp = true;
        onCaughtUp?.();
      }
      if (!query.follow && m.info.pending === 0) break;
      quiet();
    }
  } finally {
    if (idle) clearTimeout(idle);
    messages.stop();
  }
  return shown;
}

/** One alert as a line of text for people, host first (the fleet's text format). */
export function formatFleetAlert(a: Alert): string {
  const status = a.status === "new" ? "" : ` [${a.status} #${a.update}]`;
  const pid = a.pid !== undefined ? ` pid ${a.pid}` : "";
  return `${a.time} ${a.priority.toUpperCase()} ${a.hostname} ${a.detector}${status}:${pid} ${a.output} (model ${a.model.name} v${a.model.version}, incident ${a.incident}, id ${a.id})`;
}
