import { connect, type NatsConnection } from "@nats-io/transport-node";
import { ThreatlensError, UsageError } from "../core/errors.ts";

/** Connecting to the NATS server: `--nats URL`, or THREATLENS_NATS. */
export const NATS_ENV = "THREATLENS_NATS";

export function natsUrl(option: string | undefined): string {
  const url = option ?? process.env[NATS_ENV];
  if (!url) throw new UsageError(`give the NATS server with --nats URL (or set ${NATS_ENV})`);
  return url;
}

/** The server cannot be reached, or refused an operation: exit 1 with what to check. */
export class FleetError extends ThreatlensError {}

export interface ConnectOptions {
  /** Client name the server shows (monitoring). */
  name: string;
  /**
   * Keep trying until the server answers, and reconnect forever after a loss: agents and scorers ride out a server
   * restart. Without it, the first failure is an error (commands that do one thing and exit).
   */
  persistent?: boolean;
}

export async function connectNats(url: string, options: ConnectOptions): Promise<NatsConnection> {
  try {
    return await connect({
      servers: url,
      name: options.name,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      reconnectJitter: 100,
      waitOnFirstConnect: options.persistent ?? false,
      timeout: 5000,
      pingInterval: 5000,
    });
  } catch (error) {
    throw new FleetError(
      `cannot reach the NATS server at ${url}: ${(error as Error).message} (is nats-server running with the config from \`threatlens fleet server-config\`?)`,
    );
  }
}

/** Sleeps `ms`, or less when `signal` fires. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
