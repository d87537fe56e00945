import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import {
  attachStrace,
  attackPayload,
  buildService,
  hasStrace,
  normalTraffic,
  SERVICES,
  ShellListener,
  send,
  sleep,
  startService,
} from "../../bench/services/harness.ts";
import { CLI_MAIN } from "../support/cli.ts";

/**
 * Live: a real service is recorded with `strace -f -p PID` over normal sessions, a model is trained on them with
 * `threatlens syscalls train`, then a fresh instance is watched with `threatlens syscalls watch --model DIR --pid PID`
 * (real strace, real processes, loopback only). Normal requests must raise no alert; an injected command and a reverse
 * shell through the service's flaw must each be alerted within 5 seconds.
 */
const root = join(fileURLToPath(import.meta.url), "..", "..", "..");
const main = CLI_MAIN;
const work = mkdtempSync(join(tmpdir(), "threatlens-watch-live-"));
after(() => rmSync(work, { recursive: true, force: true }));

const SESSIONS = 8;
const REQUESTS = 150;
let port = 19300 + (process.pid % 400);

class Watcher {
  readonly alerts: { at: number; alert: Record<string, unknown> }[] = [];
  private readonly child: ChildProcess;
  private stderr = "";
  private readonly exited: Promise<void>;

  constructor(model: string, pid: number) {
    this.child = spawn(
      process.execPath,
      [main, "syscalls", "watch", "--model", model, "--pid", String(pid), "--stats", "0"],
      { cwd: root, stdio: ["ignore", "pipe", "pipe"] },
    );
    this.exited = new Promise((resolve) => this.child.on("exit", () => resolve()));
    let pending = "";
    this.child.stdout!.setEncoding("utf8");
    this.child.stdout!.on("data", (chunk: string) => {
      pending += chunk;
      for (let at = pending.indexOf("\n"); at >= 0; at = pending.indexOf("\n")) {
        this.alerts.push({ at: Date.now(), alert: JSON.parse(pending.slice(0, at)) });
        pending = pending.slice(at + 1);
      }
    });
    this.child.stderr!.setEncoding("utf8");
    this.child.stderr!.on("data", (chunk: string) => {
      this.stderr += chunk;
    });
  }

  async attached(): Promise<void> {
    for (let i = 0; i < 300 && !/attached/.test(this.stderr); i++) await sleep(100);
    assert.match(this.stderr, /attached/, this.stderr);
  }

  async stop(): Promise<string> {
    this.child.kill("SIGINT");
    await this.exited;
    return this.stderr;
  }
}

describe("syscalls watch --pid on real services", {
  skip: hasStrace() ? false : "strace is not installed",
}, () => {
  for (const service of SERVICES) {
    it(`${service.name} (${service.language}): quiet on normal requests, alerts on an injected command and a reverse shell within 5 s`, {
      skip: service.available() ? false : `${service.language} is not available here`,
    }, async () => {
      const dir = join(work, service.name);
      const build = join(dir, "build");
      const data = join(dir, "data");
      const train = join(dir, "train");
      mkdirSync(train, { recursive: true });
      buildService(service, build);
      for (let s = 0; s < SESSIONS; s++) {
        const running = await startService(service, ++port, data, build);
        await normalTraffic(service, running.port, 3, 1);
        const recording = await attachStrace(running.pid, join(train, `session-${s}.strace`));
        await normalTraffic(service, running.port, REQUESTS, 10 + s);
        await sleep(200);
        await recording.stop();
        await running.stop();
      }
      const model = join(dir, "model");
      const trained = spawnSync(process.execPath, [main, "syscalls", "train", train, "-o", model, "-q"], {
        cwd: root,
        encoding: "utf8",
      });
      assert.equal(trained.status, 0, trained.stderr);

      const listener = new ShellListener();
      const listenerPort = await listener.start();
      const running = await startService(service, ++port, data, build);
      await normalTraffic(service, running.port, 3, 1);
      const watcher = new Watcher(model, running.pid);
      try {
        await watcher.attached();
        await normalTraffic(service, running.port, 60, 777);
        await sleep(1500);
        // The evidence (the window that scored highest, the process's syscall counts) goes into the message: a
        // false alert here is rare, and what the thread did is what tells why.
        assert.deepEqual(
          watcher.alerts.map((a) => `${a.alert.output} ${JSON.stringify(a.alert.evidence)}`),
          [],
          "no alert during normal requests",
        );
        for (const attack of ["inject", "revshell"] as const) {
          const before = watcher.alerts.length;
          const sent = Date.now();
          await send(running.port, service.exploit(attackPayload(attack, { listenerPort, scratch: dir })));
          while (watcher.alerts.length === before && Date.now() - sent < 5000) await sleep(50);
          assert.ok(watcher.alerts.length > before, `${attack}: no alert within 5 s`);
          const { at, alert } = watcher.alerts[before];
          assert.ok(at - sent <= 5000, `${attack}: alerted after ${at - sent} ms`);
          assert.equal(alert.detector, "syscalls");
          assert.equal(typeof alert.pid, "number");
          assert.ok(Number(alert.score) >= Number(alert.threshold));
          assert.ok((alert.evidence as { syscalls: number }).syscalls > 0);
          await sleep(1000);
        }
        assert.ok(
          listener.sessions.some((s) => /uid=0/.test(s)),
          "the reverse shell really ran",
        );
      } finally {
        const stderr = await watcher.stop();
        assert.match(stderr, /threatlens summary: /);
        await running.stop();
        await listener.stop();
      }
    });
  }
});
