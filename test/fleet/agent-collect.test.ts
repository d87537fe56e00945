import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import type { NatsConnection } from "@nats-io/transport-node";
import { connectNats } from "../../src/fleet/connection.ts";
import { ebpfUnavailable, tempDir } from "../collector/helpers.ts";
import { runCli } from "../support/cli.ts";
import { cli, eventsOutstanding } from "./cluster.ts";
import { type NatsServer, natsServerMissing, startNats, waitFor } from "./helpers.ts";

/**
 * `fleet agent --collect` on the real kernel into a real nats-server: the agent runs the eBPF collector itself, ships
 * what a job does while it runs, and on SIGINT stops the collector, ships its last events and exits 0 once the server
 * has acknowledged everything.
 */
const skip = natsServerMissing() ?? ebpfUnavailable() ?? false;

describe("fleet agent --collect", { skip }, () => {
  const tmp = tempDir();
  let server: NatsServer | null = null;
  let nc: NatsConnection | null = null;
  after(async () => {
    await nc?.close();
    await server?.stop();
    tmp.cleanup();
  });

  test("ships a traced job's file events and exits 0 on SIGINT with everything acknowledged", async () => {
    server = await startNats(join(tmp.dir, "nats"));
    assert.equal(runCli(["fleet", "init", "--nats", server.url]).code, 0);
    nc = await connectNats(server.url, { name: "test", persistent: true });
    // A job with a name of its own, so that --comm selects it alone (not its mkdir and rm): 20 files written per run.
    const work = join(tmp.dir, "work");
    const job = join(tmp.dir, "tl-agent-job");
    writeFileSync(
      job,
      `#!/bin/sh\nmkdir -p ${work}\nfor i in $(seq 1 20); do echo x > ${work}/f$i; done\nrm -f ${work}/f*\n`,
    );
    chmodSync(job, 0o755);
    const agent = cli([
      "fleet",
      "agent",
      "--nats",
      server.url,
      "--host",
      "collect-host",
      "--detector",
      "ransomware",
      "--collect",
      "--comm",
      "tl-agent-job",
      "--state",
      join(tmp.dir, "agent"),
      "--stats",
      "0",
      "--json",
    ]);
    try {
      // Until the collector is attached the job's events are not seen: run it until a batch besides the first (the
      // collector's CSV header, shipped at once) reaches the stream.
      await waitFor(
        async () => {
          assert.equal(spawnSync(job).status, 0);
          await new Promise((r) => setTimeout(r, 500));
          return (await eventsOutstanding(nc!)) >= 2;
        },
        "the job's events in the events stream",
        60_000,
      );
    } finally {
      agent.child.kill("SIGINT");
    }
    assert.equal(await agent.exited, 0, agent.stderr());
    const stats = JSON.parse(agent.stdout());
    assert.equal(stats.complete, true, agent.stderr());
    assert.ok(stats.lines >= 20, `${stats.lines} lines shipped`);
    assert.equal(stats.droppedLines, 0);
    assert.match(agent.stderr(), /threatlens collector: [\d,]+ events in [\d.]+ s, 0 lost/);
  });
});
