import { EVENTS_PREFIX, INGEST_PREFIX } from "./names.ts";

/**
 * The nats-server configuration fleet mode needs. nats-server 2.9 (Debian's) has no stream subject transforms, so the
 * partitioning lives in the server's account-wide subject mapping: `tl.in.<detector>.<host>` is rewritten to
 * `tl.ev.<detector>.<partition(host)>.<host>` before any stream sees it. The partition count is fixed here and
 * recorded by `fleet init`; changing it later moves hosts between partitions, so it is chosen once per deployment.
 */
export interface ServerConfigOptions {
  /** Listen address (default 127.0.0.1: fleet traffic stays on the machine unless you open it up). */
  host?: string;
  port: number;
  /** JetStream's storage directory. */
  storeDir: string;
  partitions: number;
  /** Largest message (bytes): event batches and checkpoints are up to a few MiB. */
  maxPayload?: number;
  serverName?: string;
}

export const DEFAULT_PARTITIONS = 8;
export const DEFAULT_MAX_PAYLOAD = 8 << 20;

export function serverConfig(options: ServerConfigOptions): string {
  if (!Number.isInteger(options.partitions) || options.partitions < 1 || options.partitions > 1024) {
    throw new RangeError("the partition count must be an integer in 1..1024");
  }
  const lines = [
    "# nats-server configuration for threatlens fleet mode (threatlens fleet server-config).",
    `server_name: ${JSON.stringify(options.serverName ?? "threatlens")}`,
    `listen: ${JSON.stringify(`${options.host ?? "127.0.0.1"}:${options.port}`)}`,
    `max_payload: ${options.maxPayload ?? DEFAULT_MAX_PAYLOAD}`,
    "jetstream {",
    `  store_dir: ${JSON.stringify(options.storeDir)}`,
    "}",
    "# Partitioning: every host's events go to one partition (FNV-1a of the host token modulo the count).",
    "mappings {",
    `  "${INGEST_PREFIX}.*.*": "${EVENTS_PREFIX}.{{wildcard(1)}}.{{partition(${options.partitions},2)}}.{{wildcard(2)}}"`,
    "}",
    "",
  ];
  return lines.join("\n");
}
