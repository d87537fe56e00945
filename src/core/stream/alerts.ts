/**
 * Alerts and incidents. Falco's alert format is the anchor (time, priority, rule, output, fields); what its users ask
 * for most shapes the policy: no flood of repeated alerts (one incident per entity episode, later lines are updates
 * of that incident, rate-limited), bounded delay (an alert is raised at the scoring that crosses the threshold), and
 * no silent loss (every line carries a unique id, so a restarted watch or the fleet's alert stream can de-duplicate).
 */
import { createHash } from "node:crypto";
import type { DetectorKind, ModelRef, Priority } from "./detector.ts";
import { PRIORITIES } from "./detector.ts";

export interface Alert {
  /** Unique per alert line: the incident id and the update number. */
  id: string;
  /** Stable for one entity's incident: every update repeats it. */
  incident: string;
  /** 0 for the line that opens the incident, then 1, 2, … */
  update: number;
  /** "new" opens an incident; "escalated" raises its priority; "update" adds evidence; "ended" is the last word on an
   * entity that ended while its incident was open. */
  status: "new" | "escalated" | "update" | "ended";
  /** When the alert was raised (ISO-8601 UTC, wall clock). */
  time: string;
  /** Event time of the record that decided the alert, as the source wrote it (ns since boot for the collector). */
  eventTime: string;
  hostname: string;
  detector: DetectorKind;
  rule: string;
  priority: Priority;
  /** One line for people, like Falco's `output`. */
  output: string;
  score: number;
  threshold: number;
  model: ModelRef;
  /** Stable identifier of the entity within its source. */
  entity: string;
  pid?: number;
  ppid?: number;
  comm?: string;
  log?: string;
  src?: string;
  sport?: number;
  dst?: string;
  dport?: number;
  proto?: string;
  evidence: Record<string, unknown>;
  /** What `--respond` did, when it acted. */
  response?: ResponseRecord;
}

export interface ResponseRecord {
  action: "stop" | "kill";
  /** Processes signalled. */
  pids: number[];
  ok: boolean;
  error?: string;
}

/** An open incident, kept on its entity (and in checkpoints). */
export interface IncidentState {
  id: string;
  /** Event time (ns) of the crossing that opened it. */
  openedAt: number;
  updates: number;
  priority: Priority;
  /** Event time and entity event count at the last alert line. */
  lastAlertAt: number;
  lastAlertEvents: number;
  peak: number;
  /** Event time from which the score has stayed below the release level, or null. */
  belowSince: number | null;
}

export interface AlertPolicyOptions {
  /** The score must fall this far below the threshold before an incident can close (hysteresis). */
  hysteresis: number;
  /** …and stay there this long (event time, ns) before it closes; a later crossing then opens a new incident. */
  releaseNs: number;
  /** At most one evidence update per incident per this much event time (escalations are never held back). */
  updateEveryNs: number;
}

export const DEFAULT_ALERT_POLICY: AlertPolicyOptions = {
  hysteresis: 0.25,
  releaseNs: 30e9,
  updateEveryNs: 60e9,
};

/** What the policy decided for one scoring: an alert line to raise, or nothing. */
export type Decision = { status: Alert["status"]; incident: IncidentState } | null;

/**
 * Decides, for each scoring of an entity, whether an alert line is due. Pure bookkeeping on the entity's incident
 * state, so that replaying a log gives the same decisions as watching it live.
 */
export class AlertPolicy {
  readonly options: AlertPolicyOptions;

  constructor(
    private readonly subjectKey: string,
    options: Partial<AlertPolicyOptions> = {},
  ) {
    this.options = { ...DEFAULT_ALERT_POLICY, ...options };
  }

  /**
   * `current` is the entity's open incident (or null); returns the decision and the incident to keep on the entity
   * afterwards (null once it closes).
   */
  decide(
    current: IncidentState | null,
    entityId: string,
    entityEvents: number,
    score: number,
    threshold: number,
    priority: Priority,
    time: number,
    final: boolean,
  ): { decision: Decision; next: IncidentState | null } {
    const above = score >= threshold;
    if (current === null) {
      if (!above) return { decision: null, next: null };
      const incident: IncidentState = {
        id: incidentId(this.subjectKey, entityId, time),
        openedAt: time,
        updates: 0,
        priority,
        lastAlertAt: time,
        lastAlertEvents: entityEvents,
        peak: score,
        belowSince: null,
      };
      return { decision: { status: "new", incident }, next: incident };
    }
    const incident = { ...current };
    if (score > incident.peak) incident.peak = score;
    if (above && rank(priority) > rank(incident.priority)) {
      incident.priority = priority;
      return { decision: this.line("escalated", incident, time, entityEvents), next: incident };
    }
    if (final) {
      const news = entityEvents > incident.lastAlertEvents;
      return { decision: news ? this.line("ended", incident, time, entityEvents) : null, next: null };
    }
    if (score < threshold - this.options.hysteresis) {
      if (incident.belowSince === null) incident.belowSince = time;
      else if (time - incident.belowSince >= this.options.releaseNs) return { decision: null, next: null };
      return { decision: null, next: incident };
    }
    incident.belowSince = null;
    if (
      above &&
      time - incident.lastAlertAt >= this.options.updateEveryNs &&
      entityEvents > incident.lastAlertEvents
    ) {
      return { decision: this.line("update", incident, time, entityEvents), next: incident };
    }
    return { decision: null, next: incident };
  }

  private line(status: Alert["status"], incident: IncidentState, time: number, events: number): Decision {
    incident.updates++;
    incident.lastAlertAt = time;
    incident.lastAlertEvents = events;
    return { status, incident };
  }
}

function rank(p: Priority): number {
  return PRIORITIES.indexOf(p);
}

/**
 * Incident ids are derived, not random: the same entity crossing at the same event time gives the same id, so a watch
 * restarted from a checkpoint re-derives the incident it had raised and its journal suppresses the repeat.
 */
export function incidentId(subjectKey: string, entityId: string, time: number): string {
  return createHash("sha256")
    .update(`${subjectKey}\u0000${entityId}\u0000${time}`)
    .digest("base64url")
    .slice(0, 16);
}

export function alertId(incident: string, update: number): string {
  return `${incident}-${update}`;
}

/** The alert as one line of text for people (`--format text`). */
export function formatAlertText(a: Alert): string {
  const status = a.status === "new" ? "" : ` [${a.status} #${a.update}]`;
  const response = a.response
    ? ` — ${a.response.action} ${a.response.ok ? "done" : "FAILED"} (pids ${a.response.pids.join(", ")})${a.response.error ? `: ${a.response.error}` : ""}`
    : "";
  return `${a.time} ${a.priority.toUpperCase()} ${a.detector}${status}: ${a.output}${response} (incident ${a.incident})`;
}
