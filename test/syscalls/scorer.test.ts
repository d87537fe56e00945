import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { seededRandom } from "../../src/core/random.ts";
import { resolveModelConfig } from "../../src/syscalls/config.ts";
import { type TraceSet, toTraceSet, traceCount } from "../../src/syscalls/dataset.ts";
import {
  combine,
  type Detector,
  disposeCores,
  type FittedCore,
  fitDetector,
  scoreInput,
  scoreTrace,
  Tails,
} from "../../src/syscalls/detector.ts";
import {
  MAX_UNKNOWN,
  PROGRAM_GRACE,
  ProcessScorer,
  type SignalValues,
  UNKNOWN_COST,
} from "../../src/syscalls/scorer.ts";
import { knownSyscallNames } from "../../src/syscalls/tables.ts";
import { makeParser, readTraces } from "../../src/syscalls/traces/index.ts";
import { emptyStats, TraceCollector } from "../../src/syscalls/traces/trace.ts";
import { normalTrace, TINY_CONFIG, writeSyntheticTraces } from "./synthetic.ts";
import { withTempDir } from "./traces/helpers.ts";

const FIXTURES = new URL("./fixtures/strace/", import.meta.url).pathname;
const LOGS = ["f-C-tt.strace", "f-C-ttt-T.strace", "f-C-r.strace", "f-C-p-detach.strace", "f-o-tt.strace"];

/** Feeds a strace log line by line to scorers, as `syscalls watch` does: signals per trace id. */
async function scoreLive(detector: Detector, file: string): Promise<Map<string, SignalValues>> {
  const out = new Map<string, SignalValues>();
  const stats = emptyStats();
  const context = {
    file,
    id: file.split("/").at(-1)!,
    skipInvalid: false,
    stats,
    knownNames: await knownSyscallNames(),
    open: () => {
      const scorer = new ProcessScorer(detector);
      return {
        push: (name: string) => scorer.push(name),
        inherit: (program: string | null) => scorer.inherit(program),
        exec: (program: string) => scorer.exec(program),
        end: (id: string) => {
          scorer.finish();
          out.set(id, scorer.signals());
        },
      };
    },
  };
  const parser = makeParser("strace", context, undefined, stats);
  const lines = (await readFile(file, "utf8")).split("\n");
  for (const [i, line] of lines.entries()) parser.line(line, 0, line.length, i + 1);
  parser.end();
  return out;
}

describe("one scoring code path: live (line by line, programs learnt as they show) = batch (finished traces)", () => {
  let fitted: { detector: Detector; folds: FittedCore[] };
  let traces: TraceSet;
  before(async () => {
    traces = toTraceSet((await readTraces(LOGS.map((l) => join(FIXTURES, l)))).traces);
    // Every program with a trace gets a profile, so the program each process settles on changes its scores.
    fitted = await fitDetector(
      traces,
      resolveModelConfig({ minProgramTraces: 1, sessionLength: 2, calibrationFolds: 3 }),
    );
  });
  after(() => disposeCores(fitted.folds));

  test("same signals for every process of real strace logs, per-program profiles included", async () => {
    assert.ok(fitted.detector.programs.size >= 4, [...fitted.detector.programs.keys()].join(","));
    let compared = 0;
    for (const log of LOGS) {
      const live = await scoreLive(fitted.detector, join(FIXTURES, log));
      const batch = toTraceSet((await readTraces(join(FIXTURES, log))).traces);
      for (let i = 0; i < traceCount(batch); i++) {
        assert.deepEqual(
          live.get(batch.ids[i]),
          scoreTrace(fitted.detector, batch, i).signals(),
          batch.ids[i],
        );
        compared++;
      }
    }
    assert.ok(compared >= 12);
  });
});

describe("programs: an execve within the first PROGRAM_GRACE syscalls names the process, a later one does not", () => {
  for (const at of [PROGRAM_GRACE - 1, PROGRAM_GRACE]) {
    test(`execve after ${at} syscalls`, () => {
      let emitted: string | undefined;
      const collector = new TraceCollector(
        (t) => {
          emitted = t.program;
        },
        { file: "x" },
      );
      collector.inherit("bash");
      for (let i = 0; i < at; i++) collector.push("read");
      collector.push("execve");
      collector.exec("cat");
      collector.end("x");
      assert.equal(emitted, at < PROGRAM_GRACE ? "cat" : "bash");
    });
  }
});

describe("a syscall never seen in training adds a fixed, bounded amount", () => {
  let fitted: { detector: Detector; folds: FittedCore[] };
  let normal: TraceSet;
  before(async () => {
    await withTempDir(async (dir) => {
      const data = await writeSyntheticTraces(dir, 31, { train: 60, validation: 30, attack: 0 });
      fitted = await fitDetector(
        toTraceSet((await readTraces(data.train)).traces),
        resolveModelConfig(TINY_CONFIG),
      );
      normal = toTraceSet((await readTraces(data.validation)).traces);
    });
  });
  after(() => disposeCores(fitted.folds));

  test("ln 2 per distinct unknown name, at most 3; the signals leave them out; normal traces stay normal", () => {
    const tails = new Tails(fitted.detector.calibration);
    let normalBefore = 0;
    let normalAfter = 0;
    for (let i = 0; i < traceCount(normal); i++) {
      const names = Array.from(
        normal.tokens.subarray(normal.offsets[i], normal.offsets[i + 1]),
        (t) => normal.names[t],
      );
      const before = scoreTrace(fitted.detector, normal, i);
      const at = Math.floor(names.length / 2);
      for (const unknown of [
        ["kexec_file_load"],
        ["kexec_file_load", "kexec_file_load"],
        ["a1", "a2", "a3", "a4", "a5"],
      ]) {
        const set = toTraceSet([
          { id: "x", source: "x", names: [...names.slice(0, at), ...unknown, ...names.slice(at)] },
        ]);
        const after = scoreTrace(fitted.detector, set, 0);
        assert.deepEqual(after.signals(), before.signals());
        const distinct = Math.min(new Set(unknown).size, MAX_UNKNOWN);
        const rise = combine(tails, scoreInput(after)).score - combine(tails, scoreInput(before)).score;
        assert.ok(Math.abs(rise - distinct * UNKNOWN_COST) < 1e-12, `rise ${rise}`);
        assert.equal(after.unknown, unknown.length);
        assert.deepEqual(after.evidence().unknownSyscalls, [...new Set(unknown)]);
      }
      const threshold = fitted.detector.calibration.threshold;
      if (combine(tails, scoreInput(before)).score < threshold) normalBefore++;
      if (combine(tails, scoreInput(before)).score + UNKNOWN_COST < threshold) normalAfter++;
    }
    assert.ok(
      normalAfter > 0 && normalAfter >= normalBefore / 2,
      `${normalAfter} of ${normalBefore} stay normal`,
    );
  });
});

describe("timing syscalls: where a lock or a signal lands does not change the order signals", () => {
  /** `names` with futex and rt_sigreturn inserted at random places, as contention and signals put them. */
  const jitter = (names: readonly string[], random: () => number) => {
    const out: string[] = [];
    for (const name of names) {
      if (random() < 0.2) out.push(random() < 0.7 ? "futex" : "rt_sigreturn");
      out.push(name);
    }
    return out;
  };
  const fitted: Record<string, { detector: Detector; folds: FittedCore[] }> = {};
  const random = seededRandom(5);
  const train = Array.from({ length: 40 }, (_, i) => ({
    id: `n${i}`,
    source: `s${i % 8}`,
    names: jitter(normalTrace(random), random),
  }));
  const probe = normalTrace(random);
  before(async () => {
    for (const timingSyscalls of [["futex", "rt_sigreturn"], []])
      fitted[timingSyscalls.length] = await fitDetector(
        toTraceSet(train),
        resolveModelConfig({ ...TINY_CONFIG, timingSyscalls }),
      );
  });
  after(() => {
    for (const f of Object.values(fitted)) disposeCores(f.folds);
  });

  const signalsOf = (detector: Detector, names: string[]) =>
    scoreTrace(detector, toTraceSet([{ id: "p", source: "p", names }]), 0).signals();

  test("the same trace jittered five ways: n-gram and novelty unchanged, the repertoire still sees them", () => {
    const { detector } = fitted[2];
    const base = signalsOf(detector, jitter(probe, seededRandom(100)));
    const without = signalsOf(detector, probe);
    assert.equal(without.ngram, base.ngram);
    assert.equal(without.novelty, base.novelty);
    for (let seed = 101; seed < 105; seed++) {
      const other = signalsOf(detector, jitter(probe, seededRandom(seed)));
      assert.equal(other.ngram, base.ngram);
      assert.equal(other.novelty, base.novelty);
    }
    // Using futex at all is part of the repertoire: a trace without it is farther from training traces, all of which
    // took a lock or a signal somewhere.
    assert.ok((without.repertoire as number) > (base.repertoire as number));
  });

  test("without timing syscalls configured, the same jitter moves the order signals", () => {
    const { detector } = fitted[0];
    const a = signalsOf(detector, jitter(probe, seededRandom(100)));
    const b = signalsOf(detector, jitter(probe, seededRandom(101)));
    assert.notEqual(a.ngram, b.ngram);
  });
});
