import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { InputError } from "../../../src/core/errors.ts";
import { randomInt, seededRandom } from "../../../src/core/random.ts";
import { forEachTrace, readTraces } from "../../../src/syscalls/traces/read.ts";
import type { Trace } from "../../../src/syscalls/traces/trace.ts";
import { i386Names, pick, randomTrace, withTempDir } from "./helpers.ts";

const FIXTURES = new URL("../fixtures/strace/", import.meta.url).pathname;

async function readStrace(text: string, name = "log.strace", skipInvalid = false) {
  return withTempDir(async (dir) => {
    const file = join(dir, name);
    await writeFile(file, text);
    return readTraces(file, { format: "strace", skipInvalid });
  });
}

function byId(traces: Trace[]): Record<string, string[]> {
  return Object.fromEntries(traces.map((t) => [t.id, t.names]));
}

// ---- a writer of strace output in its various layouts, for round trips ----

interface StraceStyle {
  prefix: "o" | "bracket" | "none";
  timestamp: "none" | "t" | "tt" | "ttt" | "r";
  ip: boolean;
  durations: boolean;
}

const ARGS = [
  "",
  "NULL",
  '3, "abc", 4096',
  'AT_FDCWD, "/etc/passwd", O_RDONLY|O_CLOEXEC',
  '3, "", {st_mode=S_IFREG|0644, st_size=52999, ...}, AT_EMPTY_PATH',
  '"/usr/bin/sh", ["sh", "-c", "x"], 0x7ffd3dfcb688 /* 39 vars */',
  '1, "a) = 5 (b\\n", 9',
  "-1, [{WIFEXITED(s) && WEXITSTATUS(s) == 0}], 0, NULL",
  "<... resuming interrupted read ...>",
];
const RETURNS = [
  "0",
  "3",
  "-1 ENOENT (No such file or directory)",
  "0x55d8bc3eb000",
  "?",
  "? ERESTARTSYS (To be restarted if SA_RESTART is set)",
  "3</etc/passwd>",
];

function randomStyle(random: () => number, multiProcess: boolean): StraceStyle {
  return {
    prefix: multiProcess
      ? pick(random, ["o", "bracket"] as const)
      : pick(random, ["o", "bracket", "none"] as const),
    timestamp: pick(random, ["none", "t", "tt", "ttt", "r"] as const),
    ip: random() < 0.3,
    durations: random() < 0.3,
  };
}

function lineFor(random: () => number, style: StraceStyle, pid: number, body: string): string {
  let prefix = "";
  if (style.prefix === "o") prefix = `${String(pid).padEnd(5)} `;
  if (style.prefix === "bracket") prefix = `[pid ${String(pid).padStart(5)}] `;
  const stamps = {
    none: "",
    t: "12:34:56 ",
    tt: "12:34:56.123456 ",
    ttt: "1700000000.123456 ",
    r: `${(random() * 3).toFixed(6).padStart(12)} `,
  };
  const ip = style.ip ? "[00007f367c5d5ad7] " : "";
  return prefix + stamps[style.timestamp] + ip + body;
}

function completion(random: () => number, style: StraceStyle, before: string): string {
  const padded = random() < 0.5 ? before.padEnd(39) : before;
  return `${padded} = ${pick(random, RETURNS)}${style.durations ? " <0.000012>" : ""}`;
}

/**
 * Interleaves the processes' syscalls at random, splitting some into `<unfinished ...>` / `<... resumed>` pairs and
 * scattering signal and exit lines, as strace -f does.
 */
function writeStrace(
  random: () => number,
  processes: { pid: number; names: string[] }[],
  style: StraceStyle,
) {
  const lines: string[] = [];
  const state = processes.map(() => ({ next: 0, pending: undefined as string | undefined, done: false }));
  for (;;) {
    const active = state.map((s, i) => (s.done ? -1 : i)).filter((i) => i >= 0);
    if (active.length === 0) break;
    const i = pick(random, active);
    const { pid, names } = processes[i];
    const s = state[i];
    const emit = (body: string) => lines.push(lineFor(random, style, pid, body));
    if (random() < 0.05)
      emit("--- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=42, si_status=0} ---");
    if (s.pending !== undefined) {
      emit(completion(random, style, `<... ${s.pending} resumed>${pick(random, ARGS)})`));
      s.pending = undefined;
    } else if (s.next < names.length) {
      const name = names[s.next++];
      if (random() < 0.3) {
        emit(`${name}(${pick(random, ARGS)} <unfinished ...>`);
        s.pending = name;
      } else {
        emit(completion(random, style, `${name}(${pick(random, ARGS)})`));
      }
    } else {
      if (random() < 0.8) emit(pick(random, ["+++ exited with 0 +++", "+++ killed by SIGKILL +++"]));
      s.done = true;
    }
  }
  return lines;
}

function randomProcesses(random: () => number, pool: string[], count: number) {
  const pids = new Set<number>();
  while (pids.size < count) pids.add(1 + randomInt(random, 99999));
  return [...pids].map((pid) => ({ pid, names: randomTrace(random, pool, 40) }));
}

describe("strace reader: real strace 6.1 output", () => {
  it("reads strace -f -o with -tt: one trace per pid, counts matching an independent line count", async () => {
    const file = join(FIXTURES, "f-o-tt.strace");
    const { traces, stats } = await readTraces(file);
    const expected = new Map<number, number>();
    for (const line of (await readFile(file, "utf8")).split("\n")) {
      const m = /^(\d+) +\d\d:\d\d:\d\d\.\d+ [a-z_0-9]+\(/.exec(line);
      if (m) expected.set(Number(m[1]), (expected.get(Number(m[1])) ?? 0) + 1);
    }
    assert.deepEqual(new Map(traces.map((t) => [t.pid!, t.names.length])), expected);
    assert.deepEqual(
      traces.map((t) => t.id),
      traces.map((t) => `f-o-tt.strace#${t.pid}`),
    );
    assert.equal(stats.formats.strace, 1);
    assert.equal(stats.invalidLines, 0);
    const shell = traces.find((t) => t.names.length === 62)!;
    assert.equal(shell.names[0], "execve");
    assert.equal(shell.names.at(-1), "exit_group");
    assert.equal(shell.names.filter((n) => n === "vfork").length, 1, "unfinished vfork counted once");
  });

  it("reads -f -o, -f to stderr and -ff -o of the same program into the same traces", async () => {
    const layouts = ["f-o-tt.strace", "f-stderr.strace", "ff"];
    const results = await Promise.all(layouts.map((name) => readTraces(join(FIXTURES, name))));
    const sequences = results.map(({ traces }) => traces.map((t) => t.names.join(" ")).sort());
    assert.deepEqual(sequences[1], sequences[0]);
    assert.deepEqual(sequences[2], sequences[0]);
    assert.deepEqual(
      results[0].traces.map((t) => t.names.length).sort((a, b) => a - b),
      [31, 57, 62],
    );
  });

  it("gives the stderr log's unprefixed first process its pid once it shows up as [pid N]", async () => {
    const { traces } = await readTraces(join(FIXTURES, "f-stderr.strace"));
    // The shell (62 calls) printed without prefix until its child was attached, then as [pid 23412].
    assert.deepEqual(
      traces.map((t) => [t.id, t.pid, t.names.length]),
      [
        ["f-stderr.strace#23413", 23413, 31],
        ["f-stderr.strace#23414", 23414, 57],
        ["f-stderr.strace#23412", 23412, 62],
      ],
    );
  });

  it("takes the pid of an -ff file from its name", async () => {
    const { traces } = await readTraces(join(FIXTURES, "ff"));
    assert.deepEqual(
      traces.map((t) => [t.id, t.pid]),
      [
        ["ff/trace.23419#23419", 23419],
        ["ff/trace.23420#23420", 23420],
        ["ff/trace.23421#23421", 23421],
      ],
    );
  });

  it("reads plain strace (no -f) with -ttt and -i as one trace without pid", async () => {
    const { traces } = await readTraces(join(FIXTURES, "plain-ttt-i.strace"));
    assert.equal(traces.length, 1);
    assert.equal(traces[0].id, "plain-ttt-i.strace");
    assert.equal(traces[0].pid, undefined);
    assert.equal(traces[0].names.length, 45);
    assert.equal(traces[0].names[0], "execve");
    assert.ok(traces[0].names.includes("openat"));
  });
});

/** Real strace 6.1 recordings with -C: strace's own per-syscall call counts close each file (record-c.sh). */
const REAL_LOGS = ["f-C-tt.strace", "f-C-ttt-T.strace", "f-C-r.strace", "f-C-p-detach.strace"];

/**
 * What each recording should read as, from strace itself: the -C summary counts calls that returned, so calls that
 * never did (exit_group, a thread's exit, a call interrupted by a fatal signal, the call strace detached in) are
 * added from the lines — found here by plain string tests, not by the reader's patterns.
 */
function expectedCounts(text: string): Map<string, number> {
  const counts = new Map<string, number>();
  const add = (name: string, n = 1) => counts.set(name, (counts.get(name) ?? 0) + n);
  const lines = text.split("\n");
  const summary = lines.findIndex((l) => l.startsWith("% time"));
  for (const row of lines.slice(summary + 2)) {
    const cells = row.trim().split(/\s+/);
    if (cells.length < 5 || row.startsWith("-") || cells.at(-1) === "total") continue;
    add(cells.at(-1)!, Number(cells[3]));
  }
  const open = new Map<string, string>();
  for (const line of lines.slice(0, summary)) {
    const pid = line.split(" ")[0];
    const body = line
      .slice(line.indexOf(" "))
      .trim()
      .replace(/^[\d:.]+\s+/, "");
    const name = body.slice(0, body.indexOf("("));
    if (body.endsWith("<unfinished ...>")) open.set(pid, name);
    else if (body.startsWith("<...")) {
      const resumed = body.slice(5, body.indexOf(" resumed>"));
      open.delete(pid);
      if (body.endsWith("= ?")) add(resumed);
    } else if (body.endsWith("<detached ...>")) add(name);
    else if (/^[a-z_0-9]+\(/.test(body) && body.endsWith("= ?")) add(name);
    else if (body.startsWith("+++")) {
      const interrupted = open.get(pid);
      if (interrupted !== undefined) add(interrupted);
      open.delete(pid);
    }
  }
  for (const name of open.values()) add(name);
  return counts;
}

describe("strace reader: strace 6 output checked against strace's own counts (-C)", () => {
  for (const fixture of REAL_LOGS) {
    it(`${fixture}: every call once, per syscall as strace counted it`, async () => {
      const text = await readFile(join(FIXTURES, fixture), "utf8");
      const { traces, stats } = await readTraces(join(FIXTURES, fixture));
      const got = new Map<string, number>();
      for (const t of traces) for (const n of t.names) got.set(n, (got.get(n) ?? 0) + 1);
      assert.deepEqual(new Map([...got].sort()), new Map([...expectedCounts(text)].sort()));
      assert.equal(stats.invalidLines, 0);
      assert.equal(stats.unrecognisedNames, 0);
    });
  }

  it("attached with -p: the call strace detached in counts and ends the trace", async () => {
    const { traces } = await readTraces(join(FIXTURES, "f-C-p-detach.strace"));
    const text = await readFile(join(FIXTURES, "f-C-p-detach.strace"), "utf8");
    const detachedPid = Number(
      text
        .split("\n")
        .find((l) => l.endsWith("<detached ...>"))!
        .split(" ")[0],
    );
    const main = traces.find((t) => t.pid === detachedPid)!;
    assert.equal(main.names.at(-1), "poll");
    assert.ok(traces.length >= 2, "the request thread is a trace of its own");
  });

  it("names programs: execve's executable, inherited by children that do not execute one", async () => {
    const { traces } = await readTraces(join(FIXTURES, "f-C-tt.strace"));
    const programs = traces.map((t) => t.program ?? "-").sort();
    // sh runs /bin/true, cat and sleep, and forks two subshells that stay sh.
    assert.deepEqual(programs, ["cat", "sh", "sh", "sleep", "sleep", "true"]);
  });
});

describe("strace reader: line forms", () => {
  it("counts an unfinished call once, at its start, even when other processes interleave", async () => {
    const { traces, stats } = await readStrace(
      [
        "100   read(3,  <unfinished ...>",
        '200   write(1, "x", 1 <unfinished ...>',
        '100   <... read resumed>"abc", 4096) = 3',
        "200   <... write resumed>)        = 1",
        "100   close(3)                    = 0",
        "200   exit_group(0)               = ?",
        "200   +++ exited with 0 +++",
      ].join("\n"),
    );
    assert.deepEqual(byId(traces), {
      "log.strace#200": ["write", "exit_group"],
      "log.strace#100": ["read", "close"],
    });
    assert.equal(stats.otherLines, 3);
  });

  it("skips signals, exits, strace messages, stack frames and personality notes; counts ??? apart", async () => {
    const { traces, stats } = await readStrace(
      [
        "strace: Process 7 attached",
        "[pid     7] restart_syscall(<... resuming interrupted nanosleep ...>) = 0",
        "[pid     7] --- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=8, si_uid=0} ---",
        "[pid     7] --- stopped by SIGSTOP ---",
        " > /usr/lib/x86_64-linux-gnu/libc.so.6(__read+0x12) [0x10f7a2]",
        "[ Process PID=7 runs in 32 bit mode. ]",
        "[pid     7] ???( <unfinished ...>",
        "[pid     7] <... ??? resumed>) = -1 ENOSYS (Function not implemented)",
        "[pid     7] syscall_0x1b3(0x1, 0x2) = -1 ENOSYS (Function not implemented)",
        "[pid     7] exit_group(0)           = ?",
        "[pid     7] +++ killed by SIGSEGV (core dumped) +++",
        "strace: Process 7 detached",
      ].join("\n"),
    );
    assert.deepEqual(byId(traces), { "log.strace#7": ["restart_syscall", "syscall_0x1b3", "exit_group"] });
    assert.equal(stats.unknownSyscalls, 1);
    assert.equal(stats.otherLines, 8);
    assert.equal(stats.invalidLines, 0);
  });

  it("starts a new trace when a pid is reused after its process exited", async () => {
    const { traces } = await readStrace(
      ["5 getpid() = 5", "5 +++ exited with 0 +++", "6 getpid() = 6", "5 getppid() = 1"].join("\n"),
    );
    assert.deepEqual(
      traces.map((t) => [t.id, t.pid, t.names]),
      [
        ["log.strace#5", 5, ["getpid"]],
        ["log.strace#6", 6, ["getpid"]],
        ["log.strace#5.2", 5, ["getppid"]],
      ],
    );
  });

  it("hands a trace to the visitor when its process exits, before the log ends", async () => {
    await withTempDir(async (dir) => {
      const file = join(dir, "x.strace");
      await writeFile(
        file,
        ["1 brk(NULL) = 0x1", "2 brk(NULL) = 0x2", "2 +++ exited with 0 +++", "1 getpid() = 1"].join("\n"),
      );
      const order: string[] = [];
      await forEachTrace(file, (t) => order.push(`${t.pid}:${t.names.length}`));
      assert.deepEqual(order, ["2:1", "1:2"]);
    });
  });

  it("reports an unrecognised line with its line number, or counts it under skipInvalid", async () => {
    const text = ["1 brk(NULL) = 0x1", "Hello from the traced program!", "1 getpid() = 1"].join("\n");
    await assert.rejects(readStrace(text), (error: unknown) => {
      assert.ok(error instanceof InputError);
      assert.equal(error.location.line, 2);
      assert.match(error.message, /log\.strace:2: unrecognised strace line "Hello from the traced program!"/);
      return true;
    });
    const { traces, stats } = await readStrace(text, "log.strace", true);
    assert.deepEqual(byId(traces), { "log.strace#1": ["brk", "getpid"] });
    assert.equal(stats.invalidLines, 1);
  });

  it("treats a call without result or <unfinished ...> (a cut line) as invalid", async () => {
    await assert.rejects(readStrace('1 openat(AT_FDCWD, "/etc/pass'), /log\.strace:1: unrecognised/);
  });
});

describe("strace reader: properties", () => {
  it("reads back random multi-process traces written in every strace layout", async () => {
    const pool = await i386Names();
    for (let seed = 1; seed <= 60; seed++) {
      const random = seededRandom(seed);
      const processes = randomProcesses(random, pool, 1 + randomInt(random, 4));
      const style = randomStyle(random, processes.length > 1);
      const text = writeStrace(random, processes, style).join("\n") + (random() < 0.5 ? "\n" : "");
      const { traces } = await readStrace(text);
      const expected = Object.fromEntries(
        processes
          .filter((p) => p.names.length > 0)
          .map((p) => [style.prefix === "none" ? "log.strace" : `log.strace#${p.pid}`, p.names]),
      );
      assert.deepEqual(byId(traces), expected, `seed ${seed}, style ${JSON.stringify(style)}`);
    }
  });

  it("reads back random -ff files (one per pid, no prefix)", async () => {
    const pool = await i386Names();
    const random = seededRandom(7);
    const processes = randomProcesses(random, pool, 4).filter((p) => p.names.length > 0);
    await withTempDir(async (dir) => {
      for (const p of processes) {
        const style = randomStyle(random, false);
        const lines = writeStrace(random, [p], { ...style, prefix: "none" });
        await writeFile(join(dir, `trace.${p.pid}`), lines.join("\n"));
      }
      const { traces } = await readTraces(dir);
      const base = dir.split("/").at(-1);
      assert.deepEqual(
        byId(traces),
        Object.fromEntries(processes.map((p) => [`${base}/trace.${p.pid}#${p.pid}`, p.names])),
      );
      assert.ok(traces.every((t) => t.pid === Number(t.id.split("#")[1])));
    });
  });

  it("skips interleaved program output under skipInvalid and stops at its first line otherwise", async () => {
    const pool = await i386Names();
    const noise = [
      "Segmentation fault (core dumped)",
      "hello world!",
      "12 apples and 3 pears",
      "  [ok]",
      "x = (1, 2)",
    ];
    for (let seed = 100; seed < 130; seed++) {
      const random = seededRandom(seed);
      const processes = randomProcesses(random, pool, 1 + randomInt(random, 3));
      const lines = writeStrace(random, processes, randomStyle(random, true));
      const inserted = 1 + randomInt(random, 4);
      for (let k = 0; k < inserted; k++)
        lines.splice(randomInt(random, lines.length + 1), 0, pick(random, noise));
      const first = lines.findIndex((line) => noise.includes(line));
      const text = lines.join("\n");
      const { traces, stats } = await readStrace(text, "log.strace", true);
      assert.equal(stats.invalidLines, inserted);
      assert.deepEqual(
        byId(traces),
        Object.fromEntries(
          processes.filter((p) => p.names.length > 0).map((p) => [`log.strace#${p.pid}`, p.names]),
        ),
      );
      await assert.rejects(readStrace(text), (error: unknown) => {
        assert.ok(error instanceof InputError);
        assert.equal(error.location.line, first + 1, `seed ${seed}`);
        return true;
      });
    }
  });

  it("fuzzing real strace output: every line accounted once, only mutated lines lost, only InputErrors", async () => {
    // Ground truth comes from the clean real recordings, whose counts the -C test checks against strace's own.
    const alphabet = 'abcz_09 ()=<>[]{}+-#.:?"\\\t/|,~\u00e9\u{1f600}';
    const mutate = (random: () => number, line: string): string => {
      const at = randomInt(random, line.length + 1);
      switch (randomInt(random, 4)) {
        case 0:
          return line.slice(0, at);
        case 1:
          return line.slice(0, at) + pick(random, [...alphabet]) + line.slice(at);
        case 2:
          return line.slice(0, at) + line.slice(at + 1);
        default:
          return Array.from({ length: randomInt(random, 30) }, () => pick(random, [...alphabet])).join("");
      }
    };
    for (const fixture of REAL_LOGS) {
      const lines = (await readFile(join(FIXTURES, fixture), "utf8")).split("\n");
      const clean = (await readStrace(lines.join("\n"))).stats;
      for (let seed = 1; seed <= 40; seed++) {
        const random = seededRandom(seed);
        let mutated = 0;
        const fuzzed = lines.map((line) => {
          if (line.trim() === "" || random() >= 0.1) return line;
          const changed = mutate(random, line);
          if (changed !== line) mutated++;
          return changed;
        });
        const text = fuzzed.join("\n");
        const nonBlank = fuzzed.filter((line) => line.trim() !== "").length;
        const { stats } = await readStrace(text, "log.strace", true);
        const what = `${fixture} seed ${seed}`;
        assert.equal(
          stats.syscalls + stats.unknownSyscalls + stats.otherLines + stats.invalidLines,
          nonBlank,
          what,
        );
        assert.ok(
          stats.invalidLines <= mutated,
          `${what}: ${stats.invalidLines} invalid lines from ${mutated} mutated`,
        );
        assert.ok(
          Math.abs(stats.syscalls - clean.syscalls) <= mutated,
          `${what}: ${stats.syscalls} vs ${clean.syscalls}`,
        );
        try {
          await readStrace(text);
          assert.equal(stats.invalidLines, 0, `${what}: accepted a file with invalid lines`);
        } catch (error) {
          assert.ok(error instanceof InputError, `${what}: ${error}`);
          const line = error.location.line!;
          assert.ok(
            line >= 1 && line <= fuzzed.length && fuzzed[line - 1] !== lines[line - 1],
            `${what}: line ${line} was not mutated`,
          );
        }
      }
    }
  });
});
