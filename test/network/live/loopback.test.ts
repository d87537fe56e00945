import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import http from "node:http";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import type { Alert } from "../../../src/core/stream/alerts.ts";
import { CLI_MAIN } from "../../support/cli.ts";
import { tempDir } from "../helpers/captures.ts";
import { freeBase, scan } from "../helpers/loopback.ts";

/**
 * End to end with real packets: `threatlens network watch --interface lo` (tcpdump underneath) while this process
 * makes benign HTTP requests from 127.0.0.3 and then port-scans 127.0.0.1 from 127.0.0.2 (connect() to 300 ports,
 * nearly all closed, answered by RST). The default model shipped in the package decides; then the same with an
 * anomaly model (KitNET) trained on normal traffic recorded on lo with tcpdump just before.
 */
const root = join(fileURLToPath(import.meta.url), "..", "..", "..", "..");
const main = CLI_MAIN;
const hasTcpdump = spawnSync("tcpdump", ["--version"]).status === 0;
const isRoot = process.getuid?.() === 0;
const skip = !hasTcpdump ? "tcpdump is not installed" : !isRoot ? "capturing on lo needs root" : false;

const SCANNED = 300;

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

/** Ordinary API use: `n` requests from 127.0.0.3, each on a new connection (no keep-alive), 20 ms apart. */
async function requests(port: number, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    await new Promise<void>((resolve, reject) => {
      http
        .get(
          { host: "127.0.0.1", port, path: `/api/${i}`, agent: false, localAddress: "127.0.0.3" },
          (res) => {
            res.resume();
            res.on("end", () => resolve());
          },
        )
        .on("error", reject);
    });
    await sleep(20);
  }
}

/** Records what `traffic` sends on lo (matching `filter`) to `path` with tcpdump. */
async function record(path: string, filter: string, traffic: () => Promise<void>): Promise<void> {
  const child = spawn("tcpdump", ["-i", "lo", "-w", path, "-U", "--immediate-mode", filter], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr!.setEncoding("utf8").on("data", (c: string) => {
    stderr += c;
  });
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const end = Date.now() + 20_000;
  while (!stderr.includes("listening")) {
    if (Date.now() > end || child.exitCode !== null) throw new Error(`tcpdump did not start: ${stderr}`);
    await sleep(20);
  }
  await traffic();
  await sleep(300);
  child.kill("SIGINT");
  await exited;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `threatlens network watch --interface lo` as a child process, its output collected as it comes. */
function startWatch(filter: string, extra: string[] = []) {
  const child = spawn(
    process.execPath,
    [main, "network", "watch", "--interface", "lo", "--filter", filter, "--stats", "1", ...extra],
    { cwd: root, stdio: ["ignore", "pipe", "pipe"] },
  );
  const out = { stdout: "", stderr: "" };
  child.stdout!.setEncoding("utf8").on("data", (c: string) => {
    out.stdout += c;
  });
  child.stderr!.setEncoding("utf8").on("data", (c: string) => {
    out.stderr += c;
  });
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  const until = async (what: () => boolean, ms: number, label: string) => {
    const end = Date.now() + ms;
    while (!what()) {
      if (Date.now() > end || child.exitCode !== null) throw new Error(`${label}; stderr:\n${out.stderr}`);
      await sleep(20);
    }
  };
  return { child, out, exited, until };
}

describe("network watch on a live interface", { skip }, () => {
  const watchers: ChildProcess[] = [];
  const servers: http.Server[] = [];
  const tmp = tempDir();
  after(async () => {
    for (const w of watchers) if (w.exitCode === null) w.kill("SIGKILL");
    for (const server of servers) await new Promise<void>((r) => server.close(() => r()));
    tmp.cleanup();
  });

  async function serve(from: number): Promise<number> {
    const base = await freeBase(from);
    const server = http.createServer((_req, res) => res.end("x".repeat(2000)));
    servers.push(server);
    await new Promise<void>((r) => server.listen(base, "127.0.0.1", () => r()));
    return base;
  }

  /** Benign traffic first (no alert allowed), then the scan: one incident naming 127.0.0.2. */
  async function benignThenScan(
    w: ReturnType<typeof startWatch>,
    base: number,
    benign: () => Promise<void>,
  ): Promise<{ alerts: Alert[]; latencyMs: number }> {
    const { out, until } = w;
    await until(() => out.stderr.includes("tcpdump listening"), 20_000, "tcpdump did not start");
    await benign();
    // Connections closed, then idle: the flows end (close linger 2 s) and are scored on the wall clock.
    await until(
      () => /flows scored [1-9]/.test(out.stderr) && /flows active 0,/.test(out.stderr.slice(-400)),
      10_000,
      "benign flows were not scored",
    );
    assert.equal(out.stdout, "", "benign traffic raised an alert");

    const started = Date.now();
    const result = await scan(base + 1, base + SCANNED);
    assert.ok(result.closed >= SCANNED - 5, JSON.stringify(result));
    await until(() => out.stdout.includes("\n"), 10_000, "the scan raised no alert");
    const latencyMs = Date.now() - started;
    await sleep(4000); // let the scan's flows end, so the incident's later lines are in
    w.child.kill("SIGINT");
    assert.equal(await w.exited, 0, out.stderr);

    const alerts = out.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Alert);
    assert.equal(new Set(alerts.map((a) => a.incident)).size, 1, out.stdout);
    for (const a of alerts) {
      assert.equal(a.entity, "host 127.0.0.2");
      assert.equal(a.src, "127.0.0.2");
      assert.equal(a.dst, "127.0.0.1");
      assert.equal(a.detector, "network");
    }
    assert.equal(alerts[0].status, "new");
    assert.match(out.stderr, /threatlens summary: packets [\d,]+/);
    assert.match(out.stderr, /tcpdump: \d+ captured, 0 dropped by the kernel/);
    return { alerts, latencyMs };
  }

  test("a port scan raises one incident naming the scanner; benign web traffic raises none", async (t) => {
    const base = await serve(21000);
    const w = startWatch(`tcp and net 127.0.0.0/8 and portrange ${base}-${base + SCANNED}`);
    watchers.push(w.child);
    const { alerts, latencyMs } = await benignThenScan(w, base, () => browse(base));
    const last = alerts.at(-1)!.evidence as { flowsFlagged: number; flaggedServices: number };
    assert.ok(last.flowsFlagged >= 100, `${last.flowsFlagged} flagged flows`);
    // For the record (not a timed assertion): how long from the scan's start to its first alert line.
    t.diagnostic(`first alert ${latencyMs} ms after the scan started (${alerts.length} alert lines)`);
  });

  test("anomaly mode: trained on recorded normal traffic only, the live scan is one incident, normal traffic none", async (t) => {
    const base = await serve(24000);
    const filter = `tcp and net 127.0.0.0/8 and portrange ${base}-${base + SCANNED}`;
    // The user's own normal traffic, recorded with tcpdump: three captures of API calls, one connection each.
    const recorded = [0, 1, 2].map((k) => join(tmp.dir, `normal-${k}.pcap`));
    for (const path of recorded) await record(path, filter, () => requests(base, 30));
    const config = join(tmp.dir, "kitnet.json");
    const shipped = JSON.parse(readFileSync(join(root, "config", "network-kitnet.json"), "utf8"));
    writeFileSync(config, JSON.stringify({ ...shipped, folds: 3 }));
    const model = join(tmp.dir, "normal.json");
    const train = spawnSync(
      process.execPath,
      [main, "network", "train", ...recorded, "--label", "benign", "--config", config, "-o", model],
      { cwd: root, encoding: "utf8" },
    );
    assert.equal(train.status, 0, train.stderr);

    const w = startWatch(filter, ["--model", model]);
    watchers.push(w.child);
    const { alerts, latencyMs } = await benignThenScan(w, base, () => requests(base, 30));
    assert.equal(alerts[0].model.name, "normal");
    t.diagnostic(`first alert ${latencyMs} ms after the scan started (${alerts.length} alert lines)`);
  });
});
