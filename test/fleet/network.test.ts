import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { NatsConnection } from "@nats-io/transport-node";
import { connectNats } from "../../src/fleet/connection.ts";
import { tempDir } from "../network/helpers/captures.ts";
import { freeBase, scan } from "../network/helpers/loopback.ts";
import { benignCapture, maliciousCapture } from "../network/helpers/traffic.ts";
import { runCli } from "../support/cli.ts";
import { checkpoints, cli, expectExactly, networkReference, type Proc, storedAlerts } from "./cluster.ts";
import { type NatsServer, natsServerMissing, startNats, waitFor } from "./helpers.ts";

/**
 * The network detector in fleet mode, against a real nats-server with agents and a scorer as real processes: agents
 * ship capture files as packet lines and the alert stream holds exactly what `network watch --hostname HOST` raises
 * on the same captures; an agent capturing lo with tcpdump (`--interface`) gets a port scan alerted while it runs.
 */
const missing = natsServerMissing();
const canCapture = spawnSync("tcpdump", ["--version"]).status === 0 && process.getuid?.() === 0;
const tmp = tempDir();
let server: NatsServer;
let nc: NatsConnection;
const procs: Proc[] = [];
let scorer: Proc;

function run(args: string[]): Proc {
  const p = cli(args, { THREATLENS_NATS: server.url });
  procs.push(p);
  return p;
}

async function finished(p: Proc): Promise<void> {
  const code = await p.exited;
  if (code !== 0) throw new Error(`exit ${code}: ${p.stderr().slice(-2000)}`);
}

describe("fleet mode: the network detector", { skip: missing ?? false }, () => {
  before(async () => {
    server = await startNats(join(tmp.dir, "nats"), { partitions: 4 });
    nc = await connectNats(server.url, { name: "test", persistent: true });
    for (const args of [
      ["fleet", "init"],
      ["fleet", "models", "push", "--detector", "network"],
    ]) {
      const r = runCli([...args, "--nats", server.url]);
      assert.equal(r.code, 0, r.stderr);
    }
    scorer = run(["fleet", "scorer", "--stats", "0.5", "--lease-ms", "3000"]);
  });

  after(async () => {
    scorer?.child.kill("SIGTERM");
    const code = await scorer?.exited;
    for (const p of procs) p.child.kill("SIGKILL");
    await nc?.close();
    await server?.stop();
    tmp.cleanup();
    assert.equal(code, 0);
  });

  test("agents ship captures; the alerts are exactly those of network watch on each host", async () => {
    const captures = {
      "edge-1": [
        tmp.write("scan-a.pcap", maliciousCapture(11)),
        tmp.write("benign-a.pcap", benignCapture(21)),
      ],
      "edge-2": [
        tmp.write("benign-b.pcap", benignCapture(22)),
        tmp.write("scan-b.pcap", maliciousCapture(12)),
      ],
    };
    const agents = Object.entries(captures).map(([host, files]) =>
      run([
        "fleet",
        "agent",
        "--host",
        host,
        "--detector",
        "network",
        "--state",
        join(tmp.dir, host),
        ...files,
      ]),
    );
    for (const a of agents) await finished(a);
    const references = await Promise.all(
      Object.entries(captures).map(([host, files]) => networkReference(host, files)),
    );
    const expected = references.flatMap((r) => r.alerts);
    assert.ok(expected.filter((a) => a.status === "new").length >= 2, "each scan raises an incident");
    const got = await expectExactly(nc, expected);
    for (const a of got) {
      assert.equal(a.detector, "network");
      assert.equal(a.model.version, "1");
      assert.ok(a.src && a.dst, "the alert names the flow");
    }
    // Every packet applied once: the hosts' engines counted the packets of their captures.
    const states = (await checkpoints(nc)).filter((c) => c.detector === "network");
    assert.deepEqual(
      states.map((s) => s.engine.counters.records).sort(),
      references.map((r) => r.packets).sort(),
    );
  });

  test("an edge agent scores its captures itself and ships the same alerts", async () => {
    const files = [tmp.write("scan-e.pcap", maliciousCapture(13))];
    const { alerts: expected } = await networkReference("edge-3", files);
    assert.ok(expected.length > 0);
    const agent = run([
      "fleet",
      "agent",
      "--host",
      "edge-3",
      "--detector",
      "network",
      "--edge",
      "--state",
      join(tmp.dir, "edge-3"),
      ...files,
    ]);
    await finished(agent);
    await waitFor(
      async () => (await storedAlerts(nc)).filter((a) => a.hostname === "edge-3").length >= expected.length,
      "the edge agent's alerts",
    );
    const got = (await storedAlerts(nc)).filter((a) => a.hostname === "edge-3");
    assert.deepEqual(got.map((a) => a.id).sort(), expected.map((a) => a.id).sort());
  });

  test("bad input is refused before anything is shipped", () => {
    const agent = (detector: string, ...rest: string[]) =>
      runCli(["fleet", "agent", "--nats", server.url, "--host", "h", "--detector", detector, ...rest]);
    const notes = tmp.write("notes.txt", Buffer.from("hello\n"));
    const r = agent("network", notes);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /notes\.txt \(byte offset 0\): not a pcap or pcapng file/);
    const follow = agent("network", "--follow", notes);
    assert.equal(follow.code, 2);
    assert.match(follow.stderr, /--follow reads a growing text log/);
    const wrong = agent("ransomware", "--interface", "lo");
    assert.equal(wrong.code, 2);
    assert.match(wrong.stderr, /--interface captures packets: it feeds the network detector/);
  });

  test("--interface lo: a port scan is alerted while the agent runs; SIGINT ships the rest and exits 0", {
    skip: canCapture ? false : "capturing on lo needs tcpdump and root",
  }, async () => {
    const base = await freeBase(23000);
    const agent = run([
      "fleet",
      "agent",
      "--host",
      "lo-host",
      "--detector",
      "network",
      "--interface",
      "lo",
      "--filter",
      `host 127.0.0.2 and portrange ${base}-${base + 300}`,
      "--state",
      join(tmp.dir, "lo-agent"),
      "--stats",
      "0",
      "--json",
    ]);
    try {
      await waitFor(() => /tcpdump listening on lo/.test(agent.stderr()), "tcpdump to listen", 20_000);
      const started = Date.now();
      const result = await scan(base + 1, base + 300);
      assert.ok(result.closed > 250, `${result.closed} closed ports`);
      await waitFor(
        async () =>
          (await storedAlerts(nc)).some((a) => a.hostname === "lo-host" && a.entity === "host 127.0.0.2"),
        "the scan's alert",
        20_000,
      );
      const alert = (await storedAlerts(nc)).find((a) => a.hostname === "lo-host")!;
      assert.equal(alert.status, "new");
      assert.ok(Date.now() - started < 20_000);
    } finally {
      agent.child.kill("SIGINT");
    }
    assert.equal(await agent.exited, 0, agent.stderr());
    const stats = JSON.parse(agent.stdout());
    assert.equal(stats.complete, true);
    assert.ok(stats.capture.captured >= 300, `${stats.capture.captured} packets captured`);
    assert.equal(stats.lines, stats.capture.captured + 1, "every captured packet shipped, after the header");
    assert.match(agent.stderr(), /tcpdump: [\d,]+ packets captured, \d+ dropped by the kernel/);
  });
});
