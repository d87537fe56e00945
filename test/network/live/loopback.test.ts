import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import http from "node:http";
import net from "node:net";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import type { Alert } from "../../../src/core/stream/alerts.ts";
import { CLI_MAIN } from "../../support/cli.ts";

/**
 * End to end with real packets: `threatlens network watch --interface lo` (tcpdump underneath) while this process
 * makes benign HTTP requests from 127.0.0.3 and then port-scans 127.0.0.1 from 127.0.0.2 (connect() to 300 ports,
 * nearly all closed, answered by RST). The default model shipped in the package decides.
 */
const root = join(fileURLToPath(import.meta.url), "..", "..", "..", "..");
const main = CLI_MAIN;
const hasTcpdump = spawnSync("tcpdump", ["--version"]).status === 0;
const isRoot = process.getuid?.() === 0;
const skip = !hasTcpdump ? "tcpdump is not installed" : !isRoot ? "capturing on lo needs root" : false;

const SCANNED = 300;

/** The first port from `from` where a server can listen, with the scan range after it mostly free. */
async function freeBase(from: number): Promise<number> {
  for (let base = from; base < from + 5000; base += 500) {
    const ok = await new Promise<boolean>((resolve) => {
      const probe = net.createServer();
      probe.once("error", () => resolve(false));
      probe.listen(base, "127.0.0.1", () => probe.close(() => resolve(true)));
    });
    if (ok) return base;
  }
  throw new Error("no free port range on loopback");
}

function scan(from: number, to: number): Promise<{ open: number; closed: number }> {
  let open = 0;
  let closed = 0;
  const one = (port: number) =>
    new Promise<void>((resolve) => {
      const s = net.connect({ host: "127.0.0.1", port, localAddress: "127.0.0.2" });
      s.once("connect", () => {
        open++;
        s.destroy();
        resolve();
      });
      s.once("error", () => {
        closed++;
        resolve();
      });
    });
  return (async () => {
    for (let p = from; p <= to; p += 20) {
      await Promise.all(Array.from({ length: Math.min(20, to - p + 1) }, (_, i) => one(p + i)));
    }
    return { open, closed };
  })();
}

/** Ordinary web use: a keep-alive client (two connections) fetching 40 pages, 50 ms apart. */
async function browse(port: number): Promise<void> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
  for (let i = 0; i < 40; i++) {
    await new Promise<void>((resolve, reject) => {
      http
        .get({ host: "127.0.0.1", port, path: `/page/${i}`, agent, localAddress: "127.0.0.3" }, (res) => {
          res.resume();
          res.on("end", () => resolve());
        })
        .on("error", reject);
    });
    await new Promise((r) => setTimeout(r, 50));
  }
  agent.destroy();
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("network watch on a live interface", { skip }, () => {
  let watcher: ChildProcess | null = null;
  let server: http.Server | null = null;
  after(async () => {
    if (watcher && watcher.exitCode === null) watcher.kill("SIGKILL");
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  });

  test("a port scan raises one incident naming the scanner; benign web traffic raises none", async (t) => {
    const base = await freeBase(21000);
    server = http.createServer((_req, res) => res.end("x".repeat(2000)));
    await new Promise<void>((r) => server!.listen(base, "127.0.0.1", () => r()));
    const filter = `tcp and net 127.0.0.0/8 and portrange ${base}-${base + SCANNED}`;
    const child = spawn(
      process.execPath,
      [main, "network", "watch", "--interface", "lo", "--filter", filter, "--stats", "1"],
      { cwd: root, stdio: ["ignore", "pipe", "pipe"] },
    );
    watcher = child;
    let stdout = "";
    let stderr = "";
    child.stdout!.setEncoding("utf8").on("data", (c: string) => {
      stdout += c;
    });
    child.stderr!.setEncoding("utf8").on("data", (c: string) => {
      stderr += c;
    });
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    const until = async (what: () => boolean, ms: number, label: string) => {
      const end = Date.now() + ms;
      while (!what()) {
        if (Date.now() > end || child.exitCode !== null) throw new Error(`${label}; stderr:\n${stderr}`);
        await sleep(20);
      }
    };
    await until(() => stderr.includes("tcpdump listening"), 20_000, "tcpdump did not start");

    await browse(base);
    // Connections closed, then idle: the flows end (close linger 2 s) and are scored on the wall clock.
    await until(
      () => /flows scored [1-9]/.test(stderr) && /flows active 0,/.test(stderr.slice(-400)),
      10_000,
      "benign flows were not scored",
    );
    assert.equal(stdout, "", "benign traffic raised an alert");

    const started = Date.now();
    const result = await scan(base + 1, base + SCANNED);
    assert.ok(result.closed >= SCANNED - 5, JSON.stringify(result));
    await until(() => stdout.includes("\n"), 10_000, "the scan raised no alert");
    const latencyMs = Date.now() - started;
    await sleep(4000); // let the scan's flows end, so the incident's later lines are in
    child.kill("SIGINT");
    assert.equal(await exited, 0, stderr);

    const alerts = stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Alert);
    assert.equal(new Set(alerts.map((a) => a.incident)).size, 1, stdout);
    for (const a of alerts) {
      assert.equal(a.entity, "host 127.0.0.2");
      assert.equal(a.src, "127.0.0.2");
      assert.equal(a.dst, "127.0.0.1");
      assert.equal(a.detector, "network");
    }
    assert.equal(alerts[0].status, "new");
    const last = alerts.at(-1)!.evidence as { flowsFlagged: number; flaggedServices: number };
    assert.ok(last.flowsFlagged >= 100, `${last.flowsFlagged} flagged flows`);
    assert.match(stderr, /threatlens summary: packets [\d,]+/);
    assert.match(stderr, /tcpdump: \d+ captured, 0 dropped by the kernel/);
    // For the record (not a timed assertion): how long from the scan's start to its first alert line.
    t.diagnostic(`first alert ${latencyMs} ms after the scan started (${alerts.length} alert lines)`);
  });
});
