import assert from "node:assert/strict";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import type { Alert } from "../../src/core/stream/alerts.ts";
import { ebpfUnavailable, tempDir } from "../collector/helpers.ts";
import { runCli } from "../support/cli.ts";

/**
 * `syscalls watch --collect` on the real kernel: a model trained on `collect --syscalls` recordings of a small shell
 * job, then the same job watched live through the eBPF collector (no alert), and the job with an injected `id` and
 * an interpreter reading /etc/shadow (alerted).
 */
const unavailable = ebpfUnavailable();
const tmp = tempDir("threatlens-syscalls-collect-");
after(tmp.cleanup);

const NORMAL_JOB = "for i in $(seq 20); do cat /etc/hostname; ls / ; date; done > /dev/null";
const ATTACKED_JOB = `${NORMAL_JOB}; id > /dev/null; python3 -c 'print(len(open("/etc/shadow").read()))' > /dev/null`;

const cli = (args: string[]) => runCli(args, { timeout: 180_000 });

const alertsOf = (stdout: string): Alert[] =>
  stdout
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Alert);

describe("syscalls watch --collect (eBPF) on the real kernel", { skip: unavailable ?? false }, () => {
  const model = join(tmp.dir, "model");

  test("trains on collect --syscalls recordings of a job", () => {
    const recordings: string[] = [];
    for (let run = 1; run <= 6; run++) {
      const out = join(tmp.dir, `normal-${run}.csv`);
      const r = cli(["collect", "--syscalls", "-q", "-o", out, "--", "sh", "-c", NORMAL_JOB]);
      assert.equal(r.code, 0, r.stderr);
      recordings.push(out);
    }
    const trained = cli(["syscalls", "train", ...recordings, "-o", model, "--json", "-q"]);
    assert.equal(trained.code, 0, trained.stderr);
  });

  test("the same job watched live raises no alert; with an injected command it is alerted", () => {
    const watchJob = (job: string) =>
      cli(["syscalls", "watch", "--model", model, "--collect", "--stats", "0", "--", "sh", "-c", job]);
    const normal = watchJob(NORMAL_JOB);
    assert.equal(normal.code, 0, normal.stderr);
    assert.match(normal.stderr, /probes attached/);
    assert.deepEqual(
      alertsOf(normal.stdout).map((a) => a.output),
      [],
    );
    const attacked = watchJob(ATTACKED_JOB);
    assert.equal(attacked.code, 0, attacked.stderr);
    const alerts = alertsOf(attacked.stdout);
    assert.ok(alerts.length > 0, `no alert:\n${attacked.stderr}`);
    for (const alert of alerts) assert.equal(alert.detector, "syscalls");
    const opened = alerts.filter((a) => a.status === "new");
    assert.ok(opened.length > 0);
    for (const alert of opened) assert.ok(alert.score >= alert.threshold, JSON.stringify(alert));
    assert.match(attacked.stderr, /dropped 0/);
  });
});
