import { InputError } from "../core/errors.ts";
import { thresholdAtFpr } from "../core/metrics.ts";
import { clopperPearson, EmpiricalTail, fisherStatistic, sidakMinimum } from "../core/tail.ts";
import type { EpochReport, TrainedAutoencoder } from "../models/autoencoder.ts";
import { autoencoderModule, loadAutoencoder } from "./autoencoder-module.ts";
import { AutoencoderSignal } from "./autoencoder-signal.ts";
import { familyCount, type ModelConfig, SIGNAL_FAMILY, type SignalName } from "./config.ts";
import {
  encodeTrace,
  encodeWindows,
  namesPerTrace,
  splitByTrace,
  subset,
  type TraceSet,
  traceCount,
  vocabularyMap,
  withoutTiming,
} from "./dataset.ts";
import { fitProfile, type Profile } from "./profile.ts";
import { type DetectorCore, PROGRAM_GRACE, ProcessScorer, type SignalValues, timingFlags } from "./scorer.ts";
import { autoencoderConfigFor, fitScoring } from "./scoring.ts";
import { sessionFolds, sessionsOf } from "./sessions.ts";
import { Vocabulary } from "./vocabulary.ts";

/**
 * Fitting the detector on normal traces and calibrating it.
 *
 * Each signal's score is turned into a tail probability against normal traces the fitted parts have not seen: the
 * training traces are cut into sessions (see sessions.ts), the sessions into `calibrationFolds` folds, and each fold
 * is scored by a detector fitted on the other folds (cross-fitting). Every training trace thus gets an out-of-fold
 * score per signal; these are the calibration scores. The shipped detector is then fitted on all traces. A new
 * trace's signal s gets p = (1 + #{calibration ≥ s}) / (n + 1). Signals that read the same aspect of a process (see
 * SIGNAL_FAMILY: the order of its syscalls, or their set) become one p-value, the smallest of them Šidák-corrected,
 * so that an unusual order is not counted once per order signal; the anomaly score is Fisher's Σ −log p over these,
 * so each family adds at most about log(n + 1) and none dominates without bound. The threshold is the score that
 * `targetFpr` of the calibration traces reach (each scored against the others), and the false-positive rate it
 * promises is reported with its exact binomial 95 % interval.
 *
 * The calibration scores come from detectors fitted on (k − 1)/k of the traces, while new traces meet the detector
 * fitted on all of them: if anything, the stated false-positive rate errs high.
 */
export interface TrainHooks {
  onStage?: (message: string) => void;
  /** Progress in work units (see progressUnits): each fit counts 1 once its traces are scored, and each autoencoder
   * epoch 1, in fractions as its batches run. */
  onProgress?: (done: number, total: number) => void;
  onEpoch?: (fit: string, report: EpochReport) => void;
}

export interface Calibration {
  /** Out-of-fold scores per signal, ascending, of the calibration traces scored with the global profile (all of
   * them when none was). */
  normal: Partial<Record<SignalName, number[]>>;
  /** The same for each program profile with at least minProgramTraces calibration traces: a trace scored with a
   * program's profile is compared with that program's normal traces. */
  profiles: Record<string, Partial<Record<SignalName, number[]>>>;
  /** Each calibration trace's anomaly score against the other calibration traces, ascending. */
  scores: number[];
  threshold: number;
  /** Calibration traces at or above the threshold: the false-positive rate to expect, with its 95 % interval. */
  expectedFpr: { flagged: number; traces: number; rate: number; lower: number; upper: number };
  /** The running score's threshold for live watching (see liveMaximum). */
  liveThreshold: number;
  liveExpectedFpr: { flagged: number; traces: number; rate: number; lower: number; upper: number };
  method: {
    folds: number;
    sessions: number;
    sessionLength: number;
    grouping: "sessions";
    description: string;
  };
  warnings: string[];
}

export interface Detector extends DetectorCore {
  calibration: Calibration;
  /** The network behind the autoencoder signal, when it is one (to save and dispose). */
  network: TrainedAutoencoder | null;
}

export interface FittedCore extends DetectorCore {
  network: TrainedAutoencoder | null;
  /** Epochs of the autoencoder, when trained. */
  history: EpochReport[];
  bestEpoch: number | null;
}

/** Live checks start once a process has made this many syscalls (and happen again at its exit). */
export const LIVE_FROM = PROGRAM_GRACE + 1;

/**
 * Fits vocabulary, profiles and (if a signal) the autoencoder on traces `indexes` of `set`. A program gets a profile
 * when it has minProgramTraces traces there, or, for a calibration fold, when the final fit profiles it (`profiled`)
 * and the fold has any of its traces.
 */
export async function fitCore(
  set: TraceSet,
  indexes: readonly number[],
  config: ModelConfig,
  label: string,
  hooks: TrainHooks = {},
  onEpochProgress: (epochs: number) => void = () => undefined,
  profiled?: ReadonlySet<string>,
): Promise<FittedCore> {
  const part = subset(set, indexes);
  const vocabulary = Vocabulary.fit(namesPerTrace(part), { minCount: config.minCount });
  const toModel = vocabularyMap(part, vocabulary);
  const encoded = Array.from({ length: traceCount(part) }, (_, i) => encodeTrace(part, i, toModel));
  const timing = vocabulary.flags(config.timingSyscalls);
  const global = fitProfile(null, encoded, vocabulary.size, config, timing);
  const programs = new Map<string, Profile>();
  if (config.minProgramTraces > 0) {
    const byProgram = new Map<string, Int32Array[]>();
    part.programs.forEach((program, i) => {
      if (program === null) return;
      let list = byProgram.get(program);
      if (list === undefined) byProgram.set(program, (list = []));
      list.push(encoded[i]);
    });
    for (const [program, traces] of byProgram) {
      if (traces.length >= config.minProgramTraces || profiled?.has(program))
        programs.set(program, fitProfile(program, traces, vocabulary.size, config, timing));
    }
  }
  let network: TrainedAutoencoder | null = null;
  let autoencoder: AutoencoderSignal | null = null;
  if (config.signals.includes("autoencoder")) {
    const split = splitByTrace(traceCount(part), config.heldOutFraction, config.seed);
    const fitWindows = encodeWindows(
      subset(part, split.fit),
      vocabulary,
      config.windowLength,
      config.stride,
      timing,
    );
    const stopWindows = encodeWindows(
      subset(part, split.heldOut),
      vocabulary,
      config.windowLength,
      1,
      timing,
    );
    if (fitWindows.offsets.at(-1) === 0)
      throw new InputError("the normal training traces contain no syscalls");
    const { trainAutoencoder } = await loadAutoencoder();
    network = await trainAutoencoder(
      fitWindows.windows,
      stopWindows.windows,
      autoencoderConfigFor(config, vocabulary.size),
      (report) => hooks.onEpoch?.(label, report),
      (epochs) => onEpochProgress(epochs),
    );
    autoencoder = new AutoencoderSignal(network, fitScoring(network, config, stopWindows.windows));
  }
  return {
    config,
    vocabulary,
    global,
    programs,
    autoencoder,
    network,
    history: network?.history ?? [],
    bestEpoch: network?.bestEpoch ?? null,
  };
}

/** A finished trace's scorer: program settled from the trace, every syscall pushed. */
export function scoreTrace(core: DetectorCore, set: TraceSet, i: number): ProcessScorer {
  const scorer = new ProcessScorer(core, set.programs[i]);
  const { tokens, offsets, names } = set;
  for (let k = offsets[i]; k < offsets[i + 1]; k++) scorer.push(names[tokens[k]]);
  scorer.finish();
  return scorer;
}

/** Prefetches the autoencoder's windows of traces `indexes` so that scoring them runs from the cache. */
export function prefetch(core: DetectorCore, set: TraceSet, indexes: Iterable<number>): void {
  if (!(core.autoencoder instanceof AutoencoderSignal)) return;
  const toModel = vocabularyMap(set, core.vocabulary);
  const timing = timingFlags(core);
  const traces: Int32Array[] = [];
  for (const i of indexes) traces.push(withoutTiming(encodeTrace(set, i, toModel), timing));
  core.autoencoder.prefetch(traces);
}

export interface Combined {
  /** Fisher's Σ −log p over the signal families, plus the process's extra cost (unknown syscalls, an unseen
   * program). */
  score: number;
  /** Tail probability of each signal among the calibration traces. */
  probabilities: SignalValues;
}

/** What scoring a process needs from its scorer: signal values, extra cost and the profile it was scored with. */
export interface ScoreInput {
  signals: SignalValues;
  cost: number;
  profile: string | null;
}

export function scoreInput(scorer: ProcessScorer): ScoreInput {
  return { signals: scorer.signals(), cost: scorer.extraCost, profile: scorer.program };
}

/**
 * Combines a process's signal values into its anomaly score, each signal's tail probability taken among the
 * calibration traces of the same profile. `own` are a calibration trace's own out-of-fold values, left out of the
 * tails so that it is scored as if it were new.
 */
export function combine(tails: Tails, input: ScoreInput, own?: SignalValues): Combined {
  const probabilities: SignalValues = {};
  const byFamily = new Map<string, number[]>();
  for (const [signal, tail] of tails.of(input.profile)) {
    const v = input.signals[signal];
    if (v === undefined) continue;
    const p = tail.probability(v, own?.[signal]);
    probabilities[signal] = p;
    const family = byFamily.get(SIGNAL_FAMILY[signal]);
    if (family === undefined) byFamily.set(SIGNAL_FAMILY[signal], [p]);
    else family.push(p);
  }
  const ps = [...byFamily.values()].map(sidakMinimum);
  return { score: fisherStatistic(ps) + input.cost, probabilities };
}

type SignalTails = [SignalName, EmpiricalTail][];

function signalTails(values: Partial<Record<SignalName, number[]>>): SignalTails {
  return (Object.entries(values) as [SignalName, number[]][]).map(([s, v]) => [s, new EmpiricalTail(v)]);
}

/** The calibration's sorted score arrays as tails, built once per loaded detector. */
export class Tails {
  readonly global: SignalTails;
  private readonly profiles = new Map<string, SignalTails>();
  readonly scores: EmpiricalTail;

  constructor(calibration: Calibration) {
    this.global = signalTails(calibration.normal);
    for (const [program, values] of Object.entries(calibration.profiles))
      this.profiles.set(program, signalTails(values));
    this.scores = new EmpiricalTail(calibration.scores);
  }

  /** The tails a process scored with `profile` is compared with. */
  of(profile: string | null): SignalTails {
    return (profile === null ? undefined : this.profiles.get(profile)) ?? this.global;
  }

  /** Tail probability of an anomaly score among the calibration traces' scores. */
  scoreProbability(score: number): number {
    return this.scores.probability(score);
  }
}

/**
 * The highest running score of a process over its life: checked after every syscall from the LIVE_FROM-th on, and
 * at its end (so a short process is checked once, when it exits). `syscalls watch` alerts when this crosses the
 * live threshold; calibrating that threshold on the same maximum over normal traces keeps its promise honest.
 */
export function liveMaximum(
  core: DetectorCore,
  tails: Tails,
  set: TraceSet,
  i: number,
  own?: SignalValues,
): number {
  const scorer = new ProcessScorer(core, set.programs[i]);
  const { tokens, offsets, names } = set;
  let max = Number.NEGATIVE_INFINITY;
  for (let k = offsets[i]; k < offsets[i + 1]; k++) {
    scorer.push(names[tokens[k]]);
    if (scorer.syscalls >= LIVE_FROM && scorer.ready)
      max = Math.max(max, combine(tails, scoreInput(scorer), own).score);
  }
  scorer.finish();
  return Math.max(max, combine(tails, scoreInput(scorer), own).score);
}

function rateWithInterval(flagged: number, traces: number) {
  const { lower, upper } = clopperPearson(flagged, traces);
  return { flagged, traces, rate: flagged / traces, lower, upper };
}

/**
 * Fits the detector on normal traces: cross-fitted calibration over sessions, then the final fit on all traces.
 */
export async function fitDetector(
  set: TraceSet,
  config: ModelConfig,
  hooks: TrainHooks = {},
): Promise<{ detector: Detector; folds: FittedCore[]; finalCore: FittedCore; foldOf: Int32Array }> {
  const n = traceCount(set);
  if (n < 2) throw new InputError(`at least 2 normal traces are needed to calibrate, got ${n}`);
  const sessions = sessionsOf(set.sources, config.sessionLength);
  const {
    foldOf,
    folds,
    sessions: sessionCount,
  } = sessionFolds(sessions, config.calibrationFolds, config.seed);
  const warnings: string[] = [];
  if (folds < config.calibrationFolds)
    warnings.push(
      `only ${sessionCount} sessions: ${folds} calibration folds instead of ${config.calibrationFolds}; record more normal sessions`,
    );
  hooks.onStage?.(
    `calibration: ${folds}-fold cross-fitting over ${sessionCount} sessions, then the final fit on all ${n} traces`,
  );
  const perFit = 1 + (config.signals.includes("autoencoder") ? config.epochs : 0);
  const total = perFit * (folds + 1);
  let done = 0;
  const report = (epochs: number) => hooks.onProgress?.(done + epochs, total);
  const inputs: ScoreInput[] = new Array(n);
  const cores: FittedCore[] = [];
  const profiled = profiledPrograms(set, config);
  for (let f = 0; f < folds; f++) {
    const fit: number[] = [];
    const held: number[] = [];
    for (let i = 0; i < n; i++) (foldOf[i] === f ? held : fit).push(i);
    const core = await fitCore(set, fit, config, `fold ${f + 1}/${folds}`, hooks, report, profiled);
    cores.push(core);
    prefetch(core, set, held);
    for (const i of held) inputs[i] = scoreInput(scoreTrace(core, set, i));
    done += perFit;
    report(0);
  }
  const partial: Calibration = {
    ...profileTails(inputs, config),
    scores: [],
    threshold: 0,
    expectedFpr: rateWithInterval(0, n),
    liveThreshold: 0,
    liveExpectedFpr: rateWithInterval(0, n),
    method: {
      folds,
      sessions: sessionCount,
      sessionLength: config.sessionLength,
      grouping: "sessions",
      description: `${folds}-fold cross-fitting over ${sessionCount} sessions (${sessionKind(set.sources, config.sessionLength)}; each fold scored by a detector fitted on the other folds; ${n} calibration traces)`,
    },
    warnings,
  };
  // Each calibration trace against the others: leave its own value out of every signal's tail.
  const tails = new Tails(partial);
  const scores = inputs.map((input) => combine(tails, input, input.signals).score);
  partial.scores = [...scores].sort((a, b) => a - b);
  partial.threshold = thresholdAtFpr(scores, config.targetFpr);
  partial.expectedFpr = rateWithInterval(scores.filter((s) => s >= partial.threshold).length, n);
  const liveTails = new Tails(partial);
  const live = Array.from({ length: n }, (_, i) =>
    liveMaximum(cores[foldOf[i]], liveTails, set, i, inputs[i].signals),
  );
  // Never below one family beyond every calibration trace with the others at their median (p = ½): that alone is not
  // enough (with a target below 1/n the threshold would otherwise sit just above the highest normal process, which
  // for a very regular service is barely above zero).
  const families = familyCount(config.signals);
  const oneFamilyBeyond = Math.log(n + 1) + (families - 1) * Math.LN2;
  // A target below 1/n lies beyond the sample: every calibration process is one the target allows, and a new normal
  // process like the highest can land one rank further in each family (each p halves, + ln 2). The score is a sum of
  // capped −log p, bounded and discrete, so its tail is not extrapolated as a smooth curve: the threshold stays that
  // one step per family above the highest calibration process.
  const beyondHighest =
    config.liveTargetFpr * n < 1
      ? live.reduce((a, b) => Math.max(a, b), Number.NEGATIVE_INFINITY) + families * Math.LN2
      : Number.NEGATIVE_INFINITY;
  partial.liveThreshold = Math.max(
    thresholdAtFpr(live, config.liveTargetFpr),
    oneFamilyBeyond,
    beyondHighest,
  );
  partial.liveExpectedFpr = rateWithInterval(live.filter((s) => s >= partial.liveThreshold).length, n);
  warnings.push(...thinCalibrationWarnings(partial, config.targetFpr));

  const finalCore = await fitCore(
    set,
    Array.from({ length: n }, (_, i) => i),
    config,
    "final",
    hooks,
    report,
  );
  done += perFit;
  report(0);
  const detector: Detector = {
    config,
    vocabulary: finalCore.vocabulary,
    global: finalCore.global,
    programs: finalCore.programs,
    autoencoder: finalCore.autoencoder,
    network: finalCore.network,
    calibration: partial,
  };
  return { detector, folds: cores, finalCore, foldOf };
}

/**
 * The programs the final fit profiles. Calibration folds profile them too, however few of their traces a fold holds:
 * otherwise a program with a handful of traces in a single recorded session lacks a profile in the folds that hold
 * some of them out, its held-out traces pay the unseen-program cost, and the live threshold pays for programs the
 * shipped model does know (one 150-request session of the Node service: 8.97 instead of 5.20, every attack missed).
 */
function profiledPrograms(set: TraceSet, config: ModelConfig): Set<string> {
  const counts = new Map<string, number>();
  for (const p of set.programs) if (p !== null) counts.set(p, (counts.get(p) ?? 0) + 1);
  const profiled = new Set<string>();
  for (const [program, count] of counts)
    if (config.minProgramTraces > 0 && count >= config.minProgramTraces) profiled.add(program);
  return profiled;
}

/**
 * Calibration values per signal: those of the traces scored with the global profile (all traces when none was), and
 * per program profile with at least minProgramTraces traces scored with it.
 */
function profileTails(
  inputs: readonly ScoreInput[],
  config: ModelConfig,
): Pick<Calibration, "normal" | "profiles"> {
  const byProfile = new Map<string | null, ScoreInput[]>();
  for (const input of inputs) {
    const list = byProfile.get(input.profile) ?? [];
    list.push(input);
    byProfile.set(input.profile, list);
  }
  const sorted = (group: readonly ScoreInput[]) => {
    const out: Partial<Record<SignalName, number[]>> = {};
    for (const signal of config.signals)
      out[signal] = group.map((g) => g.signals[signal] as number).sort((a, b) => a - b);
    return out;
  };
  const profiles: Calibration["profiles"] = {};
  for (const [profile, group] of byProfile)
    if (profile !== null && group.length >= Math.max(1, config.minProgramTraces))
      profiles[profile] = sorted(group);
  return { normal: sorted(byProfile.get(null) ?? inputs), profiles };
}

/** How sessions were formed, for the calibration's description. */
function sessionKind(sources: readonly string[], length: number): string {
  const recordings = new Set(sessionsOf(sources, length)).size;
  const files = new Set(sources).size;
  return recordings === files && files < sources.length
    ? "one per recording file"
    : `runs of up to ${length} consecutive normal traces`;
}

/** Disposes the autoencoders of cores that are not shipped. */
export function disposeCores(cores: readonly FittedCore[]): void {
  for (const core of cores) if (core.network) autoencoderModule().disposeAutoencoder(core.network);
}

/**
 * Warnings when the calibration is too thin to trust the stated rate: few traces, or an interval whose upper end is
 * far above the target.
 */
export function thinCalibrationWarnings(calibration: Calibration, targetFpr: number): string[] {
  const { traces, upper } = calibration.expectedFpr;
  const out: string[] = [];
  if (traces * targetFpr < 5) {
    out.push(
      `calibration data is thin: ${traces} held-out normal traces give fewer than 5 expected false positives at the target rate ${formatRate(targetFpr)}; record more normal sessions for a reliable threshold`,
    );
  } else if (upper > 2 * targetFpr) {
    out.push(
      `the false-positive rate at the threshold could be as high as ${formatRate(upper)} (95 % interval) on ${traces} held-out normal traces; record more normal sessions to narrow it`,
    );
  }
  return out;
}

function formatRate(rate: number): string {
  return `${(rate * 100).toFixed(rate < 0.1 ? 2 : 1)} %`;
}
