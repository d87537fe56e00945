import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { serverConfig } from "../../src/fleet/server-config.ts";

/**
 * A real nats-server for the fleet tests and benchmark: Debian's, started on a free loopback port with the config
 * `fleet server-config` writes, stopped (or killed, and restarted on the same port and store) on demand.
 */
export const NATS_SERVER = process.env.NATS_SERVER ?? "nats-server";

export function natsServerMissing(): string | null {
  const r = spawnSync(NATS_SERVER, ["--version"], { encoding: "utf8" });
  if (r.error || r.status !== 0)
    return `${NATS_SERVER} is not installed (apt-get install nats-server; .ci/run does)`;
  return null;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as { port: number }).port;
  await new Promise((r) => server.close(r));
  return port;
}

export interface NatsServer {
  url: string;
  port: number;
  /** Stops gracefully (SIGTERM) or hard (SIGKILL), and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Starts again on the same port and store. */
  start(): Promise<void>;
  readonly log: string;
  /** The running server's process id (null while stopped). */
  readonly pid: number | null;
}

export async function startNats(
  dir: string,
  options: { partitions?: number; mapping?: boolean } = {},
): Promise<NatsServer> {
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const conf = join(dir, "nats.conf");
  let text = serverConfig({ port, storeDir: join(dir, "store"), partitions: options.partitions ?? 4 });
  if (options.mapping === false) text = text.replace(/mappings \{\n.*\n\}/, "");
  writeFileSync(conf, text);
  let child: ChildProcess | null = null;
  let log = "";
  const server: NatsServer = {
    url: `nats://127.0.0.1:${port}`,
    port,
    get log() {
      return log;
    },
    get pid() {
      return (child as ChildProcess | null)?.pid ?? null;
    },
    async start() {
      const proc = spawn(NATS_SERVER, ["-c", conf], { stdio: ["ignore", "pipe", "pipe"] });
      child = proc;
      await new Promise<void>((resolve, reject) => {
        const onData = (d: Buffer) => {
          log += d;
          if (log.includes("Server is ready")) resolve();
        };
        proc.stdout!.on("data", onData);
        proc.stderr!.on("data", onData);
        proc.once("exit", (code) => reject(new Error(`nats-server exited (${code}): ${log.slice(-500)}`)));
        setTimeout(() => reject(new Error(`nats-server did not start: ${log.slice(-500)}`)), 15000);
      });
      log = "";
    },
    async stop(signal: NodeJS.Signals = "SIGTERM") {
      const proc = child;
      if (!proc || proc.exitCode !== null) return;
      const exited = new Promise((r) => proc.once("exit", r));
      proc.kill(signal);
      await exited;
      child = null;
    },
  };
  await server.start();
  return server;
}

/** A TCP proxy in front of the server, to cut an agent off the network and let it back. */
export interface Proxy {
  url: string;
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

export async function startProxy(targetPort: number): Promise<Proxy> {
  const port = await freePort();
  const sockets = new Set<Socket>();
  let open = true;
  const { connect } = await import("node:net");
  const server: Server = createServer((client) => {
    if (!open) {
      client.destroy();
      return;
    }
    const upstream = connect(targetPort, "127.0.0.1");
    sockets.add(client);
    sockets.add(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    const close = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on("error", close);
    upstream.on("error", close);
    client.on("close", close);
    upstream.on("close", close);
  });
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", () => r()));
  const cut = () => {
    open = false;
    for (const s of sockets) s.destroy();
    sockets.clear();
  };
  return {
    url: `nats://127.0.0.1:${port}`,
    cut,
    restore() {
      open = true;
    },
    async close() {
      cut();
      await new Promise((r) => server.close(r));
    },
  };
}

export async function waitFor(
  check: () => boolean | Promise<boolean>,
  what: string,
  ms = 30000,
  explain?: () => string | Promise<string>,
): Promise<void> {
  const start = Date.now();
  let last = "";
  for (;;) {
    try {
      if (await check()) return;
    } catch (error) {
      // The server may be restarting: ask again.
      last = ` (last error: ${(error as Error).message})`;
    }
    if (Date.now() - start > ms) {
      const state = explain ? `\n${await Promise.resolve(explain()).catch((e: Error) => e.message)}` : "";
      throw new Error(`timed out waiting for ${what}${last}${state}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}
