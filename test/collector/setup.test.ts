import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { renderScript, scopePredicate } from "../../src/collector/bpftrace/script.ts";
import {
  CollectorError,
  ensureTracefs,
  findExecutable,
  findLibcrypto,
  onlineCpus,
} from "../../src/collector/environment.ts";
import { startCollector, validateOptions } from "../../src/collector/index.ts";
import { cgroup2Mount, processTree, validateComm } from "../../src/collector/scope.ts";
import { UsageError } from "../../src/core/errors.ts";
import { tempDir } from "./helpers.ts";

const tmp = tempDir();
after(tmp.cleanup);

describe("bpftrace script", () => {
  it("fills every placeholder and seeds the scope maps", () => {
    const script = renderScript({
      mode: "files",
      collectorPid: 4242,
      scope: { kind: "tree", pids: [10, 11] },
      excludePids: [77],
      libcrypto: ["/usr/lib/x86_64-linux-gnu/libcrypto.so.3", "/opt/ssl/lib/libcrypto.so.1.1"],
    });
    assert.doesNotMatch(script, /\{\{/);
    assert.match(script, /@excl\[4242\] = 1;/);
    assert.match(script, /@excl\[77\] = 1;/);
    assert.match(script, /@tree\[10\] = 1;\s+@tree\[11\] = 1;/);
    assert.match(script, /pid == 4242 && args->sig == 0/);
    assert.equal(script.match(/uprobe:\/opt\/ssl\/lib\/libcrypto\.so\.1\.1:EVP_\w+/g)?.length, 3);
    assert.equal(script.match(/uprobe:[^\n]*:EVP_CipherInit_ex/g)?.length, 2);
    // Tree maintenance comes after the probes that emit exit records (same tracepoint: they run first).
    assert.ok(script.lastIndexOf("@tree[args->child_pid] = 1") > script.indexOf('printf("Z '));
    assert.match(script, /tracepoint:syscalls:sys_enter_renameat2/);
    assert.doesNotMatch(script, /raw_syscalls/);
  });

  it("traces raw_syscalls in syscall mode and clears the cgroup map it uses", () => {
    const script = renderScript({
      mode: "syscalls",
      collectorPid: 1,
      scope: { kind: "cgroup", ids: [123n] },
      excludePids: [],
      libcrypto: [],
    });
    assert.match(script, /tracepoint:raw_syscalls:sys_enter/);
    assert.match(script, /@cg\[123\] = 1;/);
    assert.match(script, /clear\(@cg\);/);
    assert.doesNotMatch(script, /sys_enter_openat/);
  });

  it("puts the scope test first and never forgets the stop flag and the exclusions", () => {
    for (const scope of [
      { kind: "host" as const },
      { kind: "tree" as const, pids: [1] },
      { kind: "cgroup" as const, ids: [1n] },
      { kind: "comm" as const, name: "a b" },
    ]) {
      assert.match(scopePredicate(scope), /@stop == 0 && @excl\[pid\] == 0$/);
    }
    assert.match(scopePredicate({ kind: "comm", name: "a b" }), /^comm == "a b" && /);
  });

  it("refuses library paths that would not parse as a probe", () => {
    assert.throws(() =>
      renderScript({
        mode: "files",
        collectorPid: 1,
        scope: { kind: "host" },
        excludePids: [],
        libcrypto: ["/a b/libcrypto.so.3"],
      }),
    );
  });
});

describe("collector options and environment", () => {
  it("rejects contradictory options as usage errors", () => {
    assert.throws(() => validateOptions({ format: "csv" }), UsageError);
    assert.throws(() => validateOptions({ syscalls: true, format: "extended" }), UsageError);
    assert.throws(() => validateOptions({ syscalls: true, format: "strace" }), /needs --backend strace/);
    assert.throws(() => validateOptions({ backend: "strace" }), /--pid PID or -- COMMAND/);
    assert.throws(
      () => validateOptions({ backend: "strace", scope: { kind: "comm", name: "x" } }),
      UsageError,
    );
    assert.throws(() => validateOptions({ excludePids: [0] }), UsageError);
    validateOptions({ backend: "strace", syscalls: true, format: "strace", scope: { kind: "pid", pid: 1 } });
  });

  it("rejects a scope that does not exist, whatever the host (before any environment check)", () => {
    const cases: [Parameters<typeof startCollector>[0], RegExp][] = [
      [{ scope: { kind: "pid", pid: 2147483647 } }, /--pid 2147483647: no such process/],
      [{ scope: { kind: "comm", name: "a-name-longer-than-15" } }, /--comm .*1 to 15/],
      [{ scope: { kind: "cgroup", path: "/no/such/cgroup" } }, /--cgroup/],
      [{ scope: { kind: "command", argv: ["/no/such/command"] } }, /command not found/],
      [{ scope: { kind: "command", argv: [] } }, /expected a command/],
      [{ backend: "strace", scope: { kind: "command", argv: ["/no/such/command"] } }, /command not found/],
      [{ perfRingPages: 3 }, /power of 2/],
    ];
    for (const [options, pattern] of cases) {
      assert.throws(
        () => startCollector(options),
        (e: unknown) => e instanceof UsageError && pattern.test((e as Error).message),
      );
    }
  });

  it("says when strace is missing", () => {
    assert.throws(
      () =>
        startCollector({
          backend: "strace",
          path: "/nonexistent",
          scope: { kind: "command", argv: ["/bin/true"] },
        }),
      (e: unknown) => e instanceof CollectorError && /strace not found on PATH/.test((e as Error).message),
    );
  });

  it("validates command names as bpftrace can compare them (1–15 printable bytes, no quotes)", () => {
    assert.equal(validateComm("kworker/0:1"), "kworker/0:1");
    for (const bad of ["", "a".repeat(16), 'a"b', "a\\b", "tab\there"])
      assert.throws(() => validateComm(bad), UsageError);
  });

  it("finds a process tree in /proc: the root and its descendants only", async () => {
    const child = spawn("sh", ["-c", "sleep 30 & sleep 30 & wait"], { stdio: "ignore" });
    try {
      let tree = new Set<number>();
      for (let i = 0; i < 50 && tree.size < 3; i++) {
        await new Promise((r) => setTimeout(r, 20));
        tree = processTree(child.pid!);
      }
      assert.equal(tree.size, 3);
      assert.ok(tree.has(child.pid!) && !tree.has(process.pid));
    } finally {
      // The sleeps outlive a killed shell: end them by pid.
      for (const pid of processTree(child.pid!)) if (pid !== child.pid) process.kill(pid);
      child.kill();
    }
  });

  it("finds libcrypto files once each, through symlinked directories", () => {
    const lib = join(tmp.dir, "usr", "lib", "x86_64");
    mkdirSync(lib, { recursive: true });
    writeFileSync(join(lib, "libcrypto.so.3"), "");
    writeFileSync(join(lib, "libcrypto.so.1.1"), "");
    writeFileSync(join(lib, "libcrypto.so"), "");
    writeFileSync(join(lib, "libcrypto-abc.so.3"), "");
    symlinkSync(join(tmp.dir, "usr", "lib"), join(tmp.dir, "lib"));
    symlinkSync("libcrypto.so.3", join(lib, "libcrypto.so.3.0"));
    const found = findLibcrypto([join(tmp.dir, "usr", "lib"), join(tmp.dir, "lib")]);
    assert.deepEqual(found, [join(lib, "libcrypto.so.1.1"), join(lib, "libcrypto.so.3")]);
  });

  it("reads the online CPU list and the cgroup v2 mount", () => {
    const cpus = join(tmp.dir, "online");
    writeFileSync(cpus, "0-2,4\n");
    assert.deepEqual(onlineCpus(cpus), [0, 1, 2, 4]);
    const mountinfo = join(tmp.dir, "mountinfo");
    writeFileSync(
      mountinfo,
      "30 25 0:26 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n36 25 0:31 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n",
    );
    assert.equal(cgroup2Mount(mountinfo), "/sys/fs/cgroup/unified");
  });

  it("finds executables on a PATH, and says when tracefs cannot be mounted", () => {
    assert.equal(findExecutable("sh", "/nonexistent:/bin"), "/bin/sh");
    assert.equal(findExecutable("sh", "/nonexistent"), null);
    assert.throws(
      () => ensureTracefs(join(tmp.dir, "no", "such", "dir")),
      (e: unknown) => {
        assert.ok(e instanceof CollectorError);
        assert.match((e as Error).message, /tracefs is not mounted at .* and mounting it failed/);
        return true;
      },
    );
  });
});
