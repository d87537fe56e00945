import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { resolveModelConfig } from "../../src/syscalls/config.ts";
import { type TraceSet, toTraceSet, traceCount } from "../../src/syscalls/dataset.ts";
import {
  combine,
  type Detector,
  disposeCores,
  type FittedCore,
  fitDetector,
  liveMaximum,
  scoreInput,
  scoreTrace,
  Tails,
} from "../../src/syscalls/detector.ts";
import { sessionsOf } from "../../src/syscalls/sessions.ts";
import { readTraces } from "../../src/syscalls/traces/index.ts";
import { TINY_CONFIG, writeSyntheticTraces } from "./synthetic.ts";
import { withTempDir } from "./traces/helpers.ts";

/** Calibration: cross-fitting over whole sessions, the threshold at the target rate, its interval and warnings. */
let normal: TraceSet;
let attack: TraceSet;
let fitted: { detector: Detector; folds: FittedCore[]; foldOf: Int32Array };

before(async () => {
  await withTempDir(async (dir) => {
    const data = await writeSyntheticTraces(dir, 9, { train: 80, validation: 0, attack: 12 });
    normal = toTraceSet((await readTraces(data.train)).traces);
    attack = toTraceSet((await readTraces(data.attack)).traces);
  });
  fitted = await fitDetector(normal, resolveModelConfig({ ...TINY_CONFIG, targetFpr: 0.05 }));
});
after(() => disposeCores(fitted.folds));

describe("detector calibration", () => {
  test("each fold holds out whole sessions; its detector was fitted on the other folds only", () => {
    const sessions = sessionsOf(normal.sources, TINY_CONFIG.sessionLength);
    const foldOfSession = new Map<string, number>();
    sessions.forEach((s, i) => {
      const f = foldOfSession.get(s);
      if (f !== undefined) assert.equal(f, fitted.foldOf[i], `session ${s} split across folds`);
      foldOfSession.set(s, fitted.foldOf[i]);
    });
    assert.equal(foldOfSession.size, 20);
    fitted.folds.forEach((core, f) => {
      const held = fitted.foldOf.filter((x) => x === f).length;
      assert.equal(core.global.traces, traceCount(normal) - held);
    });
    assert.match(
      fitted.detector.calibration.method.description,
      /5-fold cross-fitting over 20 sessions \(runs of up to 4 consecutive/,
    );
  });

  test("threshold: at most the target share of calibration traces at or above it, the lowest such, with its interval", () => {
    const c = fitted.detector.calibration;
    const scores = c.scores;
    const flagged = scores.filter((s) => s >= c.threshold).length;
    assert.equal(c.expectedFpr.flagged, flagged);
    assert.equal(c.expectedFpr.traces, 80);
    assert.ok(flagged / 80 <= 0.05);
    const next = Math.max(...scores.filter((s) => s < c.threshold));
    assert.ok(
      scores.filter((s) => s >= next).length / 80 > 0.05,
      "a lower threshold would exceed the target",
    );
    assert.ok(c.expectedFpr.lower <= c.expectedFpr.rate && c.expectedFpr.rate <= c.expectedFpr.upper);
    assert.ok(c.expectedFpr.upper > 0.03, "80 traces cannot pin a 5 % rate down tightly");
  });

  test("warns when calibration data is thin", () => {
    assert.ok(fitted.detector.calibration.warnings.some((w) => /calibration data is thin/.test(w)));
  });

  test("the live threshold is calibrated on each process's highest running score, so it is at least the batch one", () => {
    const c = fitted.detector.calibration;
    assert.ok(c.liveThreshold >= c.threshold);
    const tails = new Tails(c);
    for (let i = 0; i < traceCount(attack); i++) {
      const final = combine(tails, scoreInput(scoreTrace(fitted.detector, attack, i))).score;
      assert.ok(liveMaximum(fitted.detector, tails, attack, i) >= final);
    }
  });

  test("the order signals (n-gram, novelty) count once, as their Šidák-corrected minimum; the repertoire on its own", () => {
    const tails = new Tails(fitted.detector.calibration);
    for (let i = 0; i < traceCount(attack); i++) {
      const input = scoreInput(scoreTrace(fitted.detector, attack, i));
      const { score, probabilities: p } = combine(tails, input);
      const order = 1 - (1 - Math.min(p.ngram as number, p.novelty as number)) ** 2;
      const expected = -Math.log(order) - Math.log(p.repertoire as number) + input.cost;
      assert.ok(Math.abs(score - expected) < 1e-9, `${score} vs ${expected}`);
    }
  });

  test("the live threshold is never below one family beyond every calibration trace, the other at its median", () => {
    const c = fitted.detector.calibration;
    assert.ok(c.liveThreshold >= Math.log(traceCount(normal) + 1) + Math.LN2 - 1e-12);
  });

  test("a live target beyond the sample: one rank step (ln 2) per family above the highest calibration process", () => {
    const c = fitted.detector.calibration;
    const n = traceCount(normal);
    assert.ok(c.liveExpectedFpr.traces * fitted.detector.config.liveTargetFpr < 1);
    const tails = new Tails(c);
    let highest = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < n; i++) {
      const core = fitted.folds[fitted.foldOf[i]];
      const own = scoreInput(scoreTrace(core, normal, i)).signals;
      highest = Math.max(highest, liveMaximum(core, tails, normal, i, own));
    }
    const expected = Math.max(highest + 2 * Math.LN2, Math.log(n + 1) + Math.LN2);
    assert.ok(Math.abs(c.liveThreshold - expected) < 1e-9, `${c.liveThreshold} vs ${expected}`);
    assert.equal(c.liveExpectedFpr.flagged, 0);
  });

  test("attack traces (a reverse shell or adduser motif spliced into normal activity) score above the threshold", () => {
    const tails = new Tails(fitted.detector.calibration);
    let detected = 0;
    for (let i = 0; i < traceCount(attack); i++) {
      const { score } = combine(tails, scoreInput(scoreTrace(fitted.detector, attack, i)));
      if (score >= fitted.detector.calibration.threshold) detected++;
    }
    assert.ok(detected >= 10, `${detected} of 12`);
  });
});

describe("calibration folds profile the programs the final fit profiles", () => {
  const DF = [3, 21, 42, 63, 77];
  test("a program with five traces in five sessions: every fold that trains on any of them has its profile", async () => {
    const base = normal;
    const traces = Array.from({ length: traceCount(base) }, (_, i) => ({
      id: base.ids[i],
      source: base.sources[i],
      names: Array.from(base.tokens.subarray(base.offsets[i], base.offsets[i + 1]), (t) => base.names[t]),
      // Five traces of "df" in different sessions: the final fit profiles it; a fold that holds any out keeps fewer.
      program: DF.includes(i) ? "df" : undefined,
    }));
    const set = toTraceSet(traces);
    const fit = await fitDetector(set, resolveModelConfig({ ...TINY_CONFIG, minProgramTraces: 5 }));
    try {
      assert.ok(fit.detector.programs.has("df"));
      let thin = 0;
      fit.folds.forEach((core, f) => {
        let inTraining = 0;
        for (const i of DF) if (fit.foldOf[i] !== f) inTraining++;
        if (inTraining > 0) assert.ok(core.programs.has("df"), `fold ${f}: ${inTraining} df traces`);
        if (inTraining > 0 && inTraining < 5) thin++;
      });
      assert.ok(thin > 0, "some fold holds fewer than 5 df traces for training");
    } finally {
      disposeCores(fit.folds);
    }
  });
});
