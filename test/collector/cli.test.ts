import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { CLI_MAIN, runCli } from "../support/cli.ts";
import { compile, countedArgs, ebpfUnavailable, prepareCounted, root, rows, tempDir } from "./helpers.ts";

/** `threatlens collect` as a user runs it. Error paths run anywhere; live ones need root and eBPF. */
const main = CLI_MAIN;
const tmp = tempDir();
after(tmp.cleanup);

const cli = (args: string[], options: { env?: NodeJS.ProcessEnv; uid?: number } = {}) =>
  runCli(args, { ...options, timeout: 120_000 });

/** One line on stderr, no stack trace. */
function assertCleanError(r: { stderr: string }, pattern: RegExp) {
  assert.match(r.stderr, pattern);
  assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
}

describe("threatlens collect: errors", () => {
  it("bad usage exits 2 with the reason (the other usage errors: collector setup tests)", () => {
    const r = cli(["collect", "--pid", "2147483647"]);
    assert.equal(r.code, 2, r.stderr);
    assertCleanError(r, /--pid 2147483647: no such process/);
  });

  it("exits 1 with one line when bpftrace is missing", {
    skip: process.getuid?.() !== 0 && "needs root",
  }, () => {
    const r = cli(["collect", "--comm", "x"], { env: { ...process.env, PATH: "/nonexistent" } });
    assert.equal(r.code, 1);
    assertCleanError(
      r,
      /bpftrace not found on PATH: install it \(apt-get install bpftrace\), or use --backend strace/,
    );
  });

  it("exits 1 with one line when not root", {
    skip: process.getuid?.() !== 0 && "needs root to run as another user",
  }, () => {
    const r = cli(["collect", "--comm", "x"], { uid: 65534 });
    assert.equal(r.code, 1);
    assertCleanError(r, /needs root .* or use --backend strace/);
  });
});

const unavailable = ebpfUnavailable();

describe("threatlens collect on the real kernel", { skip: unavailable ?? false }, () => {
  let counted = "";
  before(() => {
    counted = compile("counted", tmp.dir);
  });

  it("writes ebpfangel's format that `ransomware features` reads, and a --json summary", () => {
    const c = { opens: 60, creates: 30, deletes: 30, renames: 10, encrypts: 20 };
    const dir = join(tmp.dir, "cli-a");
    prepareCounted(dir, c);
    const log = join(tmp.dir, "events.csv");
    const r = cli([
      "collect",
      "-o",
      log,
      "--format",
      "ebpfangel",
      "--json",
      "--",
      counted,
      ...countedArgs(dir, c, 2),
    ]);
    assert.equal(r.code, 0, r.stderr);
    const summary = JSON.parse(r.stdout);
    assert.equal(summary.format, "ebpfangel");
    assert.equal(summary.lost, 0);
    assert.equal(summary.kernelRecords, summary.records);
    assert.deepEqual(summary.command, { exitCode: 0, signal: null });
    assert.ok(summary.byType.encrypt >= c.encrypts && summary.byType.exec === 1);
    const text = readFileSync(log, "latin1");
    assert.equal(text.split("\n")[0], "TS,PID,TYPE,FLAG,PATTERN,OPEN,CREATE,DELETE,ENCRYPT,FILENAME");
    const all = rows(text);
    assert.ok(
      all.every((row) => Number(row.TYPE) <= 3),
      "no exec/exit rows in ebpfangel's format",
    );
    assert.equal(all.length, summary.events);
    const features = join(tmp.dir, "features.csv");
    const f = cli(["ransomware", "features", log, "-o", features, "-q"]);
    assert.equal(f.code, 0, f.stderr);
    const table = rows(readFileSync(features, "utf8"));
    const pids = new Set(all.filter((row) => row.FILENAME.startsWith(dir)).map((row) => row.PID));
    assert.equal(pids.size, 1);
    const process = table.find((row) => row.pid === [...pids][0]);
    assert.ok(process !== undefined, "the traced process has a feature row");
    assert.equal(Number(process.E_sum), c.encrypts);
  });

  it("keeps stdout for the events: a started command's output goes to stderr", () => {
    const r = cli([
      "collect",
      "-q",
      "--",
      "sh",
      "-c",
      "echo hello-from-the-command; cat /etc/hostname > /dev/null",
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /hello-from-the-command/);
    assert.doesNotMatch(r.stdout, /hello-from-the-command/);
    const all = rows(r.stdout);
    assert.ok(all.some((row) => row.FILENAME === "/etc/hostname" && row.COMM === "cat"));
  });

  it("stops cleanly on SIGINT: complete CSV, summary on stderr, exit 0", async () => {
    const sleeper = spawn("sleep", ["60"], { stdio: "ignore" });
    const out = join(tmp.dir, "sigint.csv");
    const child = spawn(process.execPath, [main, "collect", "-o", out, "--pid", String(sleeper.pid)], {
      cwd: root,
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.setEncoding("utf8");
    const tracing = new Promise<void>((resolve) =>
      child.stderr.on("data", (d: string) => {
        stderr += d;
        if (stderr.includes("collect: tracing")) resolve();
      }),
    );
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    await tracing;
    child.kill("SIGINT");
    const code = await exited;
    sleeper.kill();
    assert.equal(code, 0, stderr);
    assert.match(stderr, /collected 0 events in .* s \(bpftrace, pid \d+ and descendants/);
    assert.match(stderr, /lost 0 \(kernel emitted 0 records, received 0/);
    assert.equal(
      readFileSync(out, "utf8"),
      "TS,PID,TYPE,FLAG,PATTERN,OPEN,CREATE,DELETE,ENCRYPT,FILENAME,TID,PPID,UID,COMM,FLAGS,OP\n",
    );
  });
});
