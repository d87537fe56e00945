import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { resolveModelConfig } from "../../src/syscalls/config.ts";
import { toTraceSet, traceCount } from "../../src/syscalls/dataset.ts";
import { liveMaximum, Tails } from "../../src/syscalls/detector.ts";
import { disposeModel, type SyscallModel, saveSyscallModel } from "../../src/syscalls/model.ts";
import { SyscallStreamDetector } from "../../src/syscalls/stream.ts";
import { readTraces } from "../../src/syscalls/traces/index.ts";
import { trainSyscallModel } from "../../src/syscalls/train.ts";
import { watchSyscalls } from "../../src/syscalls/watch.ts";
import { CLI_MAIN } from "../support/cli.ts";
import { withTempDir } from "./traces/helpers.ts";

/**
 * `syscalls watch` on strace logs: the streaming engine drives the same per-process scorer as batch scoring and scores
 * exactly at the points the live threshold was calibrated on, so each process's highest score equals liveMaximum's.
 */
const root = join(fileURLToPath(import.meta.url), "..", "..", "..");
const FIXTURES = join(root, "test", "syscalls", "fixtures", "strace");
const LOGS = [
  "f-C-tt.strace",
  "f-C-ttt-T.strace",
  "f-C-r.strace",
  "f-C-p-detach.strace",
  "f-o-tt.strace",
].map((f) => join(FIXTURES, f));
let model: SyscallModel;
let dir: string;
let cleanup: () => void;

before(async () => {
  const set = toTraceSet((await readTraces(LOGS)).traces);
  model = await trainSyscallModel(
    set,
    resolveModelConfig({ minProgramTraces: 1, calibrationFolds: 3, targetFpr: 0.2, liveTargetFpr: 0.2 }),
    LOGS,
  );
  await new Promise<void>((ready) => {
    cleanup = () => undefined;
    void withTempDir(async (d) => {
      dir = d;
      await saveSyscallModel(d, model);
      ready();
      await new Promise<void>((done) => {
        cleanup = done;
      });
    });
  });
});
after(() => {
  disposeModel(model);
  cleanup();
});

describe("syscalls watch on logs", () => {
  test("each process's highest score is liveMaximum's; alerts carry the engine's fields", async () => {
    const tails = new Tails(model.calibration);
    for (const log of LOGS) {
      const live = new Map<string, number>();
      const alerts: Record<string, unknown>[] = [];
      await watchSyscalls({
        model: dir,
        input: { kind: "logs", paths: [log] },
        stdout: null,
        onEnded: (p) => live.set(p.trace, p.maxScore),
        onAlert: (a) => alerts.push(a as unknown as Record<string, unknown>),
      });
      const batch = toTraceSet((await readTraces(log)).traces);
      for (let i = 0; i < traceCount(batch); i++) {
        const expected = liveMaximum(model, tails, batch, i);
        assert.ok(
          Math.abs((live.get(batch.ids[i]) ?? Number.NaN) - expected) < 1e-9,
          `${batch.ids[i]}: ${live.get(batch.ids[i])} vs ${expected}, ${batch.programs[i]}`,
        );
      }
      for (const alert of alerts) {
        assert.equal(alert.detector, "syscalls");
        assert.ok(Number(alert.score) >= model.calibration.liveThreshold);
        assert.ok(typeof alert.entity === "string" && /^pid \d+$/.test(alert.entity));
      }
    }
  });

  test("the CLI reads logs to their end and prints its summary; usage errors exit 2", () => {
    const run = (args: string[]) =>
      spawnSync(process.execPath, [CLI_MAIN, "syscalls", "watch", ...args], {
        cwd: root,
        encoding: "utf8",
      });
    const r = run(["--model", dir, LOGS[0], "--stats", "0"]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /threatlens summary: events \d+/);
    for (const line of r.stdout.split("\n").filter(Boolean))
      assert.equal(JSON.parse(line).detector, "syscalls");
    assert.equal(run(["--model", dir]).status, 2);
    assert.equal(run(["--model", dir, "--pid", "1", LOGS[0]]).status, 2);
  });
});

describe("processes running before the trace (--pid): named from /proc as training saw them", () => {
  test("a program the model has a profile for is used; one it has none for is left unnamed, with no unseen-program cost", () => {
    const profiled = [...model.programs.keys()][0];
    const detector = new SyscallStreamDetector(model, (pid) => (pid === 1 ? profiled : "python3"));
    const known = detector.open("live", 1);
    const other = detector.open("live", 2);
    for (const p of [known, other]) {
      p.scorer.push("read");
      p.scorer.finish();
    }
    assert.equal(known.scorer.program, profiled);
    // A recording attached to a running service never sees its program: training scored it with the global profile.
    assert.equal(other.scorer.program, null);
    assert.equal(other.scorer.namedProgram, null);
    assert.equal(other.scorer.extraCost, 0);
  });
});
