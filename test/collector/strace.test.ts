import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type FileActivity, FileEventType, type SyscallActivity } from "../../src/collector/events.ts";
import { StraceConverter } from "../../src/collector/strace/convert.ts";
import {
  decodeStraceString,
  parseRawInteger,
  parseStraceLine,
  StraceLineError,
  splitArgs,
  structField,
} from "../../src/collector/strace/parse.ts";
import { EventWriter } from "../../src/collector/writer.ts";
import { randomInt, seededRandom } from "../../src/core/random.ts";

/** strace -xx: every byte of a string as \xHH. */
function hex(bytes: string): string {
  return `"${[...bytes].map((c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`).join("")}"`;
}

describe("strace line parser", () => {
  it("reads complete, unfinished and resumed calls, exits and signals (real strace 6.1 output)", () => {
    assert.deepEqual(
      parseStraceLine(`3738  1795838373.247896033 openat(-100, ${hex("/etc/hostname")}, 0) = 3`),
      {
        kind: "call",
        tid: 3738,
        ts: "1795838373247896033",
        name: "openat",
        args: `-100, ${hex("/etc/hostname")}, 0`,
        result: "3",
      },
    );
    const unfinished = parseStraceLine(`12 1700000000.5 openat(-100, ${hex("/a")}, 0x80000 <unfinished ...>`);
    assert.deepEqual(unfinished, {
      kind: "call",
      tid: 12,
      ts: "1700000000500000000",
      name: "openat",
      args: `-100, ${hex("/a")}, 0x80000`,
      result: null,
    });
    assert.deepEqual(
      parseStraceLine("12 1700000000.600000000 <... openat resumed>) = -1 ENOENT (No such file)"),
      {
        kind: "resumed",
        tid: 12,
        ts: "1700000000600000000",
        name: "openat",
        result: "-1 ENOENT (No such file)",
      },
    );
    assert.equal(parseStraceLine("3738  1795838373.248333996 +++ exited with 0 +++").kind, "exit");
    assert.equal(parseStraceLine("5 1.000000001 +++ killed by SIGKILL +++").kind, "exit");
    assert.equal(parseStraceLine("3737  1.2 --- SIGCHLD {si_signo=17, si_code=0x1} ---").kind, "other");
    const clone3 = parseStraceLine(
      "3737  1795838373.247174801 clone3({flags=0x3d0f00, child_tid=0x7f59afe62990, exit_signal=0} => {parent_tid=[3738]}, 88) = 3738",
    );
    assert.equal(clone3.kind === "call" && clone3.result, "3738");
    assert.equal(clone3.kind === "call" && structField(splitArgs(clone3.args)[0], "flags"), "0x3d0f00");
    assert.equal(parseStraceLine("3739  1.5 exit_group(0) = ?").kind, "call");
  });

  it("rejects lines strace -f -o does not write", () => {
    for (const bad of [
      "",
      "openat(1) = 3",
      "12 notatime openat() = 1",
      "12 1.5 no call here",
      '12 1.5 open("a = 3',
    ]) {
      assert.throws(() => parseStraceLine(bad), StraceLineError, JSON.stringify(bad));
    }
  });

  it("splits arguments at top-level commas only", () => {
    assert.deepEqual(splitArgs('-100, "a,b\\"c", {flags=0x1, mode=0}, [1, 2], 0x7ffd /* 39 vars */'), [
      "-100",
      '"a,b\\"c"',
      "{flags=0x1, mode=0}",
      "[1, 2]",
      "0x7ffd /* 39 vars */",
    ]);
    assert.deepEqual(splitArgs(""), []);
  });

  it("decodes -xx strings byte for byte, and strace's other escapes (property, 1,000 byte strings)", () => {
    const random = seededRandom(3);
    for (let i = 0; i < 1000; i++) {
      let bytes = "";
      const n = randomInt(random, 64);
      for (let k = 0; k < n; k++) bytes += String.fromCharCode(randomInt(random, 256));
      assert.equal(decodeStraceString(hex(bytes)), bytes);
      assert.equal(decodeStraceString(`${hex(bytes)}...`), bytes);
    }
    assert.equal(decodeStraceString('"a\\nb\\t\\"\\\\\\303\\251"'), 'a\nb\t"\\\xc3\xa9');
    assert.equal(decodeStraceString("NULL"), null);
  });

  it("reads raw (-X raw) integers", () => {
    assert.equal(parseRawInteger("0x80000"), 0x80000);
    assert.equal(parseRawInteger("0x1200000|17"), 0x1200000);
    assert.equal(parseRawInteger("0600"), 0o600);
    assert.equal(parseRawInteger("-100"), -100);
    assert.equal(parseRawInteger("O_RDONLY"), null);
  });
});

describe("strace converter", () => {
  function convert(lines: string[], mode: "files" | "syscalls" = "files") {
    const files: FileActivity[] = [];
    const calls: SyscallActivity[] = [];
    const writer = new EventWriter(() => {}, mode === "files" ? "extended" : "syscalls");
    writer.file = (e) => void files.push({ ...e });
    writer.syscall = (s) => void calls.push({ ...s });
    // A /proc without these pids: everything comes from the trace itself.
    const converter = new StraceConverter(writer, mode, 1_000_000_000n, "/nonexistent-proc");
    for (const line of lines) converter.line(parseStraceLine(line));
    return { files, calls, converter };
  }

  it("turns file calls into events with ebpfangel's types, renames into a delete and a create, links and bound Unix sockets into creates, failed deletes marked", () => {
    const { files } = convert([
      `100 5.000000000 openat(-100, ${hex("/d/a")}, 0) = 3`,
      `100 5.000000001 openat(-100, ${hex("/d/b")}, 0x241, 0600) = 4`,
      `100 5.000000002 creat(${hex("/d/c")}, 0600) = 5`,
      `100 5.000000003 unlinkat(-100, ${hex("/d/dir")}, 0x200) = 0`,
      `100 5.000000004 renameat2(-100, ${hex("/d/x")}, -100, ${hex("/d/x.locked")}, 0) = 0`,
      `100 5.000000005 openat2(-100, ${hex("/d/e")}, {flags=0x80000, mode=0, resolve=0}, 24) = 6`,
      `100 5.000000006 unlink(${hex("/d/f")} <unfinished ...>`,
      `100 5.000000007 linkat(-100, ${hex("/d/t")}, -100, ${hex("/d/t.lock")}, 0) = 0`,
      `100 5.000000008 symlinkat(${hex("/d/t")}, -100, ${hex("/d/s")}) = 0`,
      `100 5.000000009 <... unlink resumed>) = -1 ENOENT (No such file or directory)`,
      `100 5.000000010 unlinkat(-100, ${hex("/d/g")}, 0) = -1 EACCES (Permission denied)`,
      `100 5.000000011 bind(3, {sa_family=0x1, sun_path=${hex("/d/S.agent")}}, 17) = 0`,
      `100 5.000000012 bind(4, {sa_family=0x1, sun_path=@${hex("abstract")}}, 11) = 0`,
      `100 5.000000013 bind(5, {sa_family=0x2, sin_port="\\x00\\x00", sin_addr="\\x7f\\x00\\x00\\x01"}, 16) = 0`,
    ]);
    assert.deepEqual(
      files.map((e) => [e.type, e.op, e.flags, e.filename, e.ts]),
      [
        [FileEventType.Open, "openat", "0", "/d/a", "4000000000"],
        [FileEventType.Create, "openat", "577", "/d/b", "4000000001"],
        [FileEventType.Create, "creat", "577", "/d/c", "4000000002"],
        [FileEventType.Delete, "unlinkat", "512", "/d/dir", "4000000003"],
        [FileEventType.Delete, "renameat2", "0", "/d/x", "4000000004"],
        [FileEventType.Create, "renameat2", "0", "/d/x.locked", "4000000004"],
        [FileEventType.Open, "openat2", "524288", "/d/e", "4000000005"],
        // A delete is written once its result is known, with the time it was called and its error.
        [FileEventType.Create, "linkat", "0", "/d/t.lock", "4000000007"],
        [FileEventType.Create, "symlinkat", "0", "/d/s", "4000000008"],
        [FileEventType.Delete, "unlink:ENOENT", "0", "/d/f", "4000000006"],
        [FileEventType.Delete, "unlinkat:EACCES", "0", "/d/g", "4000000010"],
        [FileEventType.Create, "bind", "0", "/d/S.agent", "4000000011"],
      ],
    );
  });

  it("follows threads and processes through clone, names through exec and prctl, and ends processes", () => {
    const { files } = convert([
      `100 5.0 execve(${hex("/usr/bin/worker")}, [], 0x1 /* 1 var */) = 0`,
      "100 5.1 clone3({flags=0x3d0f00, child_tid=0x1} => {parent_tid=[101]}, 88) = 101",
      `101 5.2 openat(-100, ${hex("/t")}, 0) = 3`,
      "100 5.3 clone(child_stack=NULL, flags=0x1200000|17, child_tidptr=0x2) = 200",
      `100 5.4 prctl(0xf, ${hex("renamed,x")}) = 0`,
      `200 5.5 openat(-100, ${hex("/c")}, 0) = 3`,
      `100 5.6 openat(-100, ${hex("/p")}, 0) = 3`,
      "101 5.7 +++ exited with 0 +++",
      "200 5.8 +++ exited with 0 +++",
      "100 5.9 +++ exited with 0 +++",
    ]);
    const rows = files.map((e) => [e.type, e.pid, e.tid, e.ppid, e.comm, e.filename]);
    assert.deepEqual(rows, [
      [FileEventType.Exec, 100, 100, 0, "worker", "/usr/bin/worker"],
      [FileEventType.Open, 100, 101, 0, "worker", "/t"],
      [FileEventType.Open, 200, 200, 100, "worker", "/c"],
      [FileEventType.Open, 100, 100, 0, "renamed,x", "/p"],
      [FileEventType.Exit, 200, 200, 100, "worker", ""],
      [FileEventType.Exit, 100, 100, 0, "renamed,x", ""],
    ]);
  });

  it("a thread seen before its creator's clone returned belongs to the one clone in flight (gone from /proc by then)", () => {
    const { files } = convert([
      `100 5.0 execve(${hex("/usr/bin/worker")}, [], 0x1 /* 1 var */) = 0`,
      "100 5.1 clone3({flags=0x3d0f00, child_tid=0x1} <unfinished ...>",
      `101 5.2 openat(-100, ${hex("/t")}, 0) = 3`,
      "100 5.3 <... clone3 resumed> => {parent_tid=[101]}, 88) = 101",
      "100 5.4 clone(child_stack=NULL, flags=0x1200000|17, child_tidptr=0x2 <unfinished ...>",
      `200 5.5 openat(-100, ${hex("/c")}, 0) = 3`,
      "100 5.6 <... clone resumed>) = 200",
      // Two clones in flight: which one made thread 301 is unknown, so it is a process of its own.
      "100 6.0 clone3({flags=0x3d0f00, child_tid=0x1} <unfinished ...>",
      "102 6.1 clone3({flags=0x3d0f00, child_tid=0x1} <unfinished ...>",
      `301 6.2 openat(-100, ${hex("/u")}, 0) = 3`,
    ]);
    assert.deepEqual(
      files.map((e) => [e.pid, e.tid, e.ppid, e.comm, e.filename]),
      [
        [100, 100, 0, "worker", "/usr/bin/worker"],
        [100, 101, 0, "worker", "/t"],
        [200, 200, 100, "worker", "/c"],
        [301, 301, 0, "", "/u"],
      ],
    );
  });

  it("emits an exec only when it succeeded, with its entry time, also when strace split the line", () => {
    const { files } = convert([
      `7 1.0 execve(${hex("/bin/nope")}, [], 0x1 /* 1 var */) = -1 ENOENT (No such file or directory)`,
      `7 1.1 execve(${hex("/bin/yes")}, [], 0x1 /* 1 var */ <unfinished ...>`,
      "7 1.2 <... execve resumed>) = 0",
    ]);
    assert.deepEqual(
      files.map((e) => [e.type, e.filename, e.ts]),
      [[FileEventType.Exec, "/bin/yes", "100000000"]],
    );
  });

  it("writes one syscall row per call entry, with the process and name it has then", () => {
    const { calls } = convert(
      [
        "9 1.0 getppid() = 1",
        "9 1.1 read(0,  <unfinished ...>",
        '9 1.2 <... read resumed>"", 1) = 0',
        "9 1.3 clone(child_stack=NULL, flags=0x10000|17) = 10",
        "10 1.4 getppid() = 1",
      ],
      "syscalls",
    );
    assert.deepEqual(
      calls.map((c) => [c.pid, c.tid, c.syscall]),
      [
        [9, 9, "getppid"],
        [9, 9, "read"],
        [9, 9, "clone"],
        [9, 10, "getppid"],
      ],
    );
  });
});
