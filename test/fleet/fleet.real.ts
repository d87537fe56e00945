import assert from "node:assert/strict";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { NatsConnection } from "@nats-io/transport-node";
import { createProgress } from "../../src/core/progress.ts";
import { connectNats } from "../../src/fleet/connection.ts";
import { pushModel } from "../../src/fleet/models.ts";
import { FLEET_DETECTORS } from "../../src/fleet/registry.ts";
import { initFleet } from "../../src/fleet/setup.ts";
import { trainCommand } from "../../src/ransomware/pipeline.ts";
import { tempDir } from "../ransomware/helpers.ts";
import { checkpoints, cli, eventsOutstanding, referenceAlerts, storedAlerts } from "./cluster.ts";
import { type NatsServer, natsServerMissing, startNats, waitFor } from "./helpers.ts";

/**
 * The 11 shared ransomware logs through fleet mode — a thin agent and an edge agent, one scorer — against
 * `ransomware watch --hostname` on the same logs with a model trained on them: the same alert ids, every event once.
 */
const data = join(import.meta.dirname, "..", "..", "..", "shared", "data", "ransomware");
const skip = !existsSync(data) ? `${data} is absent` : natsServerMissing();
const tmp = tempDir("threatlens-fleet-real-");
let server: NatsServer;
let nc: NatsConnection;
let model = "";
let logs: string[] = [];

describe("fleet mode on the shared ransomware logs", { skip: skip ?? false }, () => {
  before(async () => {
    server = await startNats(join(tmp.dir, "nats"));
    nc = await connectNats(server.url, { name: "real test", persistent: true });
    logs = readdirSync(join(data, "logs"))
      .filter((f) => f.endsWith(".csv"))
      .sort()
      .map((f) => join(data, "logs", f));
    const grid = join(tmp.dir, "grid.json");
    writeFileSync(
      grid,
      JSON.stringify({
        space: { kernel: ["linear"], C: [0.1, 1], gamma: ["scale"], classWeight: [1], transform: ["log1p"] },
        folds: 5,
        cv: "grouped",
        selection: ["recall", "mcc"],
        seed: 7,
      }),
    );
    model = join(tmp.dir, "model.json");
    await trainCommand(
      logs,
      { output: model, labels: join(data, "labels.csv"), config: grid, workers: 1 },
      createProgress({ quiet: true }),
    );
    await initFleet(nc, FLEET_DETECTORS);
    await pushModel(nc, "ransomware", model);
  });

  after(async () => {
    await nc?.close();
    await server?.stop();
    tmp.cleanup();
  });

  test("thin and edge agents raise exactly the alerts of ransomware watch", async () => {
    const env = { THREATLENS_NATS: server.url };
    const scorer = cli(["fleet", "scorer", "--stats", "2"], env);
    try {
      const thin = cli(
        [
          "fleet",
          "agent",
          "--host",
          "real-thin",
          "--detector",
          "ransomware",
          "--state",
          join(tmp.dir, "t"),
          ...logs,
        ],
        env,
      );
      const edge = cli(
        [
          "fleet",
          "agent",
          "--edge",
          "--host",
          "real-edge",
          "--detector",
          "ransomware",
          "--state",
          join(tmp.dir, "e"),
          ...logs,
        ],
        env,
      );
      assert.equal(await thin.exited, 0, thin.stderr());
      assert.equal(await edge.exited, 0, edge.stderr());
      const expected = [
        ...(await referenceAlerts(model, "real-thin", logs)),
        ...(await referenceAlerts(model, "real-edge", logs)),
      ];
      // The 28 labelled ransomware processes of the shared logs are alerted on (with this model, as by watch).
      assert.ok(
        new Set(expected.filter((a) => a.status === "new").map((a) => `${a.hostname} ${a.log} ${a.pid}`))
          .size >= 56,
      );
      await waitFor(
        async () => (await storedAlerts(nc)).length >= expected.length && (await eventsOutstanding(nc)) === 0,
        "every alert",
        120_000,
      );
      const got = await storedAlerts(nc);
      assert.deepEqual(got.map((a) => a.id).sort(), expected.map((a) => a.id).sort());
      const [state] = await checkpoints(nc);
      assert.equal(state.engine.counters.records, 253_842);
    } finally {
      scorer.child.kill("SIGTERM");
      await scorer.exited;
    }
  });
});
