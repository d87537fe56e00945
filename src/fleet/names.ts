import { UsageError } from "../core/errors.ts";

/**
 * Every name the fleet uses on the NATS server: subjects, streams, consumers, buckets and keys (docs/fleet.md draws
 * them). Agents publish to `tl.in.<detector>.<host>`; the server's subject mapping (server-config.ts) rewrites that to
 * `tl.ev.<detector>.<partition>.<host>`, where the partition is a hash of the host token, so every event of one host
 * lands in one partition and is scored by the one scorer that holds it.
 */
export const EVENTS_STREAM = "TL_EVENTS";
export const ALERTS_STREAM = "TL_ALERTS";
export const SUMMARIES_STREAM = "TL_SUMMARIES";
/** Checkpoints of the scorers' per-host engines. */
export const STATE_BUCKET = "TL_STATE";
/** Leases, scorer heartbeats, model pointers and the topology. */
export const FLEET_BUCKET = "TL_FLEET";
export const MODELS_BUCKET = "TL_MODELS";

export const INGEST_PREFIX = "tl.in";
export const EVENTS_PREFIX = "tl.ev";
export const ALERTS_PREFIX = "tl.alerts";
export const SUMMARIES_PREFIX = "tl.summary";

/** Where an agent publishes one host's event batches (before the server maps it onto a partition). */
export function ingestSubject(detector: string, host: string): string {
  return `${INGEST_PREFIX}.${detector}.${hostToken(host)}`;
}

/** What a partition's consumer reads. */
export function partitionFilter(detector: string, partition: number): string {
  return `${EVENTS_PREFIX}.${detector}.${partition}.*`;
}

export function alertSubject(detector: string, host: string): string {
  return `${ALERTS_PREFIX}.${detector}.${hostToken(host)}`;
}

export function alertFilter(detector?: string, host?: string): string {
  return `${ALERTS_PREFIX}.${detector ?? "*"}.${host === undefined ? "*" : hostToken(host)}`;
}

/** Agents report on `tl.summary.agent.<detector>.<host>`, scorers on `tl.summary.scorer.<id>`. */
export function agentSummarySubject(detector: string, host: string): string {
  return `${SUMMARIES_PREFIX}.agent.${detector}.${hostToken(host)}`;
}

export function scorerSummarySubject(id: string): string {
  return `${SUMMARIES_PREFIX}.scorer.${hostToken(id)}`;
}

export function consumerName(detector: string, partition: number): string {
  return `score-${detector}-p${partition}`;
}

export function leaseKey(detector: string, partition: number): string {
  return `lease.${detector}.${partition}`;
}

export function scorerKey(id: string): string {
  return `scorer.${id}`;
}

export function modelPointerKey(detector: string): string {
  return `model.${detector}`;
}

export const TOPOLOGY_KEY = "topology";

/** Checkpoint key of one agent session's engine (a host's events from one agent state directory). */
export function checkpointKey(detector: string, host: string, session: string): string {
  return `${detector}.${hostToken(host)}.${session}`;
}

export function modelObjectName(detector: string, version: number): string {
  return `${detector}/${version}`;
}

/**
 * Host names as one subject token and key segment: letters, digits, `_` and `-` stay; every other byte (the dots of a
 * domain name above all) becomes `=XX`. Injective, so two hosts never share a subject, and valid both in subjects and
 * in key-value keys (which allow `=` but not `%`).
 */
export function hostToken(host: string): string {
  let out = "";
  for (const byte of new TextEncoder().encode(host)) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9_-]/.test(c) ? c : `=${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

export function hostFromToken(token: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < token.length; i++) {
    if (token[i] === "=") {
      bytes.push(Number.parseInt(token.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(token.charCodeAt(i));
  }
  return new TextDecoder().decode(Uint8Array.from(bytes));
}

/** A host name agents may use: printable, no spaces, at most 253 bytes (DNS's limit). */
export function checkHostName(host: string): string {
  if (host.length === 0 || host.length > 253 || !/^[\x21-\x7e]+$/.test(host)) {
    throw new UsageError(
      `--host must be 1–253 printable characters without spaces, got ${JSON.stringify(host)}`,
    );
  }
  return host;
}

/**
 * The partition nats-server's `partition(n, 2)` mapping assigns to a host token: FNV-1a (32-bit) of the token, modulo
 * n. `fleet init` checks the server's mapping against this, so a config with another partition count is caught.
 */
export function partitionOf(token: string, partitions: number): number {
  let h = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(token)) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % partitions;
}
