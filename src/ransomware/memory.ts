import { UsageError } from "../core/errors.ts";
import type { Alert } from "../core/stream/alerts.ts";
import { StreamEngine } from "../core/stream/engine.ts";
import { MemorySink } from "../core/stream/sinks.ts";
import { type ProcessEntity, RANSOMWARE_SCHEDULE, RansomwareDetector } from "./detector.ts";
import { EventType, type FileEvent, newEvent } from "./events.ts";
import { featureRow } from "./extract.ts";
import type { ProcessFeatures } from "./features.ts";
import type { RansomwareModel } from "./model.ts";
import { RansomwareScorer } from "./scorer.ts";
import { RANSOMWARE_RULE } from "./watch.ts";

/**
 * File events from memory (a program's own telemetry, not a CSV log): the same detector and engine as files go
 * through, so features, verdicts and alerts are those `features`, `predict` and `watch` give for the same events.
 */
export interface EventInput {
  /** Nanoseconds since boot (or any monotonic origin): a bigint, a decimal string or a safe integer. */
  ts: bigint | string | number;
  pid: number;
  type: "open" | "create" | "delete" | "encrypt" | "exec" | "exit";
  /** The path (or, for encrypt, the libcrypto function). */
  path?: string;
  ppid?: number;
  comm?: string;
  /** The event is half of a rename (a delete of the old name or a create of the new one). */
  rename?: boolean;
  /** The call failed (a delete of a path that did not exist): it destroyed nothing. */
  failed?: boolean;
  /** The call's flags: open flags, or unlinkat's (AT_REMOVEDIR, 0x200, for a directory). */
  flags?: number;
  pattern?: number;
}

const TYPES: Record<EventInput["type"], number> = {
  open: EventType.Open,
  create: EventType.Create,
  delete: EventType.Delete,
  encrypt: EventType.Encrypt,
  exec: EventType.Exec,
  exit: EventType.Exit,
};
const encoder = new TextEncoder();

/** Fills `into` (or a new event) from a plain object; throws a UsageError naming the field that is wrong. */
export function toFileEvent(input: EventInput, into: FileEvent = newEvent()): FileEvent {
  const ts = BigInt(input.ts);
  if (ts < 0n) throw new UsageError(`event ts must be ≥ 0, got ${input.ts}`);
  const type = TYPES[input.type];
  if (type === undefined) throw new UsageError(`event type must be one of ${Object.keys(TYPES).join(", ")}`);
  if (!Number.isInteger(input.pid) || input.pid < 0) throw new UsageError(`event pid must be an integer ≥ 0`);
  into.tsSec = Number(ts / 1_000_000_000n);
  into.tsNsec = Number(ts % 1_000_000_000n);
  into.pid = input.pid;
  into.type = type;
  into.flag = 0;
  into.pattern = input.pattern ?? 0;
  into.thresholds = 0;
  into.bytes = encoder.encode(input.path ?? "");
  into.nameStart = 0;
  into.nameEnd = into.bytes.length;
  into.tid = input.pid;
  into.ppid = input.ppid ?? -1;
  into.uid = -1;
  into.flags = input.flags ?? 0;
  into.rename = input.rename ?? false;
  into.failed = input.failed ?? false;
  into.commBytes = encoder.encode(input.comm ?? "");
  into.commStart = 0;
  into.commEnd = into.commBytes.length;
  return into;
}

/** Feature rows of the processes in `events` (in event-time order), as `ransomware features` computes them. */
export function featuresFromEvents(
  events: Iterable<EventInput>,
  options: { windowMs?: number; log?: string } = {},
): ProcessFeatures[] {
  const detector = new RansomwareDetector({ windowMs: options.windowMs, groupChildren: false });
  detector.beginSource(options.log ?? "memory");
  const rows: ProcessFeatures[] = [];
  const engine = new StreamEngine<FileEvent, ProcessEntity>(detector, {
    rule: "features",
    idleNs: detector.idleNs,
    onEnded: (e) => rows.push(featureRow(e)),
  });
  const event = newEvent();
  for (const input of events) engine.push(toFileEvent(input, event));
  engine.finish();
  return rows.sort((a, b) => a.pid - b.pid || a.firstTs.localeCompare(b.firstTs));
}

/**
 * Scores the processes in `events` as `ransomware watch` does: each process re-scored as its events arrive; returns
 * the alerts it would print and, per process, its highest score and verdict.
 */
export function detectInEvents(
  model: RansomwareModel,
  events: Iterable<EventInput>,
  options: { hostname?: string; log?: string; modelName?: string } = {},
): { alerts: Alert[]; processes: { pid: number; score: number; ransomware: boolean; events: number }[] } {
  const detector = new RansomwareDetector({ windowMs: model.windowMs });
  detector.beginSource(options.log ?? "memory");
  const sink = new MemorySink();
  const processes: { pid: number; score: number; ransomware: boolean; events: number }[] = [];
  const engine = new StreamEngine<FileEvent, ProcessEntity>(detector, {
    rule: RANSOMWARE_RULE,
    hostname: options.hostname,
    scorer: new RansomwareScorer(model, { name: options.modelName ?? "model", version: "", hash: "" }),
    schedule: RANSOMWARE_SCHEDULE,
    idleNs: detector.idleNs,
    sinks: [sink],
    onEnded: (e) => {
      if (!e.group) {
        processes.push({
          pid: e.pid,
          score: e.maxScore,
          ransomware: e.maxScore >= model.threshold,
          events: e.state.events,
        });
      }
    },
  });
  const event = newEvent();
  for (const input of events) engine.push(toFileEvent(input, event));
  engine.finish();
  return { alerts: sink.alerts, processes: processes.sort((a, b) => a.pid - b.pid) };
}
