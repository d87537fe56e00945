import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { DeliverPolicy, jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Alert } from "../../core/stream/alerts.ts";
import { readAlerts } from "../alerts.ts";
import { connectNats, errorText, sleep } from "../connection.ts";
import { SUMMARIES_PREFIX, SUMMARIES_STREAM } from "../names.ts";
import { PAGE } from "./page.ts";

/**
 * `threatlens ui`: one self-contained page (no CDN, no build step) served with the fleet's alerts. The server reads
 * the alerts stream once — every stored alert, then new ones as they are stored — keeps the latest `maxAlerts` in
 * memory, and pushes them to each open page over server-sent events. Agents' and scorers' summaries come the same way.
 */
export interface UiOptions {
  nats: string;
  port: number;
  host?: string;
  maxAlerts?: number;
  onInfo?: (message: string) => void;
}

export interface UiServer {
  port: number;
  close(): Promise<void>;
}

export async function serveUi(options: UiOptions): Promise<UiServer> {
  const nc = await connectNats(options.nats, { name: "threatlens ui", persistent: true });
  const maxAlerts = options.maxAlerts ?? 50_000;
  const alerts: Alert[] = [];
  const summaries = new Map<string, unknown>();
  const clients = new Set<ServerResponse>();
  const abort = new AbortController();
  let caughtUp = false;

  const send = (res: ServerResponse, event: string, data: unknown) => {
    res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  };
  const broadcast = (event: string, data: unknown) => {
    for (const res of clients) send(res, event, data);
  };

  const alertsDone = (async () => {
    while (!abort.signal.aborted) {
      try {
        alerts.length = 0;
        await readAlerts(
          nc,
          { follow: true },
          (a) => {
            alerts.push(a);
            if (alerts.length > maxAlerts) alerts.splice(0, alerts.length - maxAlerts);
            if (caughtUp) broadcast("alert", a);
          },
          abort.signal,
          () => {
            caughtUp = true;
            for (const res of clients) replay(res);
          },
        );
      } catch (error) {
        options.onInfo?.(`threatlens ui: reading alerts: ${errorText(error)} (retrying)`);
        await sleep(1000, abort.signal);
      }
    }
  })();
  const summariesDone = followSummaries(nc, summaries, broadcast, abort.signal);

  const replay = (res: ServerResponse) => {
    send(res, "reset", { alerts, summaries: Object.fromEntries(summaries) });
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://ui");
    if (url.pathname === "/") {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
      res.end(PAGE);
      return;
    }
    if (url.pathname === "/events") {
      res.writeHead(200, {
        "content-type": "text/event-stream",
        "cache-control": "no-store",
        connection: "keep-alive",
      });
      res.write("retry: 2000\n\n");
      clients.add(res);
      if (caughtUp) replay(res);
      req.on("close", () => clients.delete(res));
      return;
    }
    if (url.pathname === "/api/alerts") {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(alerts));
      return;
    }
    res.writeHead(404, { "content-type": "text/plain" });
    res.end("not found\n");
  });
  const keepAlive = setInterval(() => {
    for (const res of clients) res.write(": keep-alive\n\n");
  }, 15_000);
  keepAlive.unref();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host ?? "127.0.0.1", () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    async close() {
      clearInterval(keepAlive);
      abort.abort();
      for (const res of clients) res.end();
      await new Promise((r) => server.close(r));
      await Promise.allSettled([alertsDone, summariesDone]);
      await nc.close();
    },
  };
}

/** The latest summary of every agent and scorer, then each new one. */
async function followSummaries(
  nc: NatsConnection,
  latest: Map<string, unknown>,
  broadcast: (event: string, data: unknown) => void,
  signal: AbortSignal,
): Promise<void> {
  while (!signal.aborted) {
    try {
      const consumer = await jetstream(nc).consumers.get(SUMMARIES_STREAM, {
        filter_subjects: `${SUMMARIES_PREFIX}.>`,
        deliver_policy: DeliverPolicy.LastPerSubject,
      });
      const messages = await consumer.consume({ max_messages: 256 });
      signal.addEventListener("abort", () => messages.stop(), { once: true });
      for await (const m of messages) {
        const subject = m.subject.slice(SUMMARIES_PREFIX.length + 1);
        try {
          latest.set(subject, m.json());
          broadcast("summary", { subject, summary: m.json() });
        } catch {
          // Not JSON: not ours.
        }
      }
    } catch {
      await sleep(1000, signal);
    }
  }
}
