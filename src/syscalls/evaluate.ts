import { InputError } from "../core/errors.ts";
import { averagePrecision, detectionRateAtFpr, prCurve, rocAuc, rocCurve } from "../core/metrics.ts";
import type { SignalName } from "./config.ts";
import { type TraceSet, traceCount } from "./dataset.ts";
import { combine, prefetch, scoreInput, scoreTrace, Tails } from "./detector.ts";
import type { SyscallModel } from "./model.ts";
import type { Evidence, SignalValues } from "./scorer.ts";

/** One trace's result: its signals, their tail probabilities, the combined score and what stood out. */
export interface ScoredTrace {
  trace: string;
  syscalls: number;
  /** The program whose profile scored it (null: the global profile). */
  profile: string | null;
  signals: SignalValues;
  probabilities: SignalValues;
  /** Fisher's Σ −log p over the signal families: the anomaly score compared with the threshold. */
  score: number;
  /** Share of calibration (held-out normal) traces scoring at least this high, with the +1 of a p-value. */
  tailProbability: number;
  unknownSyscalls: number;
  evidence: Evidence;
}

/** Scores every trace of `set` with the model (traces must not be empty; see dropEmpty). */
export function scoreTraceSet(
  model: SyscallModel,
  set: TraceSet,
  tails = new Tails(model.calibration),
): ScoredTrace[] {
  const all = Array.from({ length: traceCount(set) }, (_, i) => i);
  prefetch(model, set, all);
  return all.map((i) => {
    const scorer = scoreTrace(model, set, i);
    const input = scoreInput(scorer);
    const signals = input.signals;
    const { score, probabilities } = combine(tails, input);
    return {
      trace: set.ids[i],
      syscalls: scorer.syscalls,
      profile: scorer.program,
      signals,
      probabilities,
      score,
      tailProbability: tails.scoreProbability(score),
      unknownSyscalls: scorer.unknown,
      evidence: scorer.evidence(),
    };
  });
}

export interface AttackTypeDetection {
  traces: number;
  detected: number;
  detectionRate: number;
}

export interface RankingMetrics {
  rocAuc: number;
  prAuc: number;
  /** Detection rate with the threshold that gives this FPR on these normal traces (not the stored threshold). */
  detectionRateAtFpr: { "0.01": number; "0.05": number };
}

export interface SyscallEvaluation extends RankingMetrics {
  normalTraces: number;
  attackTraces: number;
  /** The stored threshold and what it gives here. */
  threshold: number;
  fprAtThreshold: number;
  detectionRateAtThreshold: number;
  /** What training promised at the threshold (held-out normal sessions), for comparison with fprAtThreshold. */
  expectedFpr: { rate: number; lower: number; upper: number; traces: number };
  perAttackType: Record<string, AttackTypeDetection>;
  /** Each signal on its own (its raw score), to show what it contributes to the combination. */
  signals: Partial<Record<SignalName, RankingMetrics>>;
  /** Syscalls outside the vocabulary: the share of traces that have any, and the false-positive rate at the stored
   * threshold among normal traces with and without them (null when there are none). */
  unknownSyscalls: {
    normalShare: number;
    attackShare: number;
    fprWithUnknown: number | null;
    fprWithoutUnknown: number | null;
  };
}

/** Attack traces without a recognisable family are grouped under this name. */
export const UNTYPED_ATTACK = "other";

export function rankingMetrics(normal: ArrayLike<number>, attack: ArrayLike<number>): RankingMetrics {
  if (normal.length === 0) throw new InputError("evaluation needs at least one normal trace");
  if (attack.length === 0) throw new InputError("evaluation needs at least one attack trace");
  const { y, scores } = labelled(normal, attack);
  return {
    rocAuc: rocAuc(y, scores),
    prAuc: averagePrecision(y, scores),
    detectionRateAtFpr: {
      "0.01": detectionRateAtFpr(y, scores, 0.01).detectionRate,
      "0.05": detectionRateAtFpr(y, scores, 0.05).detectionRate,
    },
  };
}

/** Metrics of scored normal vs attack traces against the model's stored threshold. */
export function evaluateScored(
  model: SyscallModel,
  normal: readonly ScoredTrace[],
  attack: readonly ScoredTrace[],
  attackTypes: readonly (string | null)[],
): SyscallEvaluation {
  const threshold = model.calibration.threshold;
  const n = normal.map((t) => t.score);
  const a = attack.map((t) => t.score);
  const perAttackType: Record<string, AttackTypeDetection> = {};
  attack.forEach((t, i) => {
    const type = attackTypes[i] ?? UNTYPED_ATTACK;
    perAttackType[type] ??= { traces: 0, detected: 0, detectionRate: 0 };
    perAttackType[type].traces++;
    if (t.score >= threshold) perAttackType[type].detected++;
  });
  for (const d of Object.values(perAttackType)) d.detectionRate = d.detected / d.traces;
  const signals: SyscallEvaluation["signals"] = {};
  for (const signal of model.config.signals) {
    signals[signal] = rankingMetrics(
      normal.map((t) => t.signals[signal] as number),
      attack.map((t) => t.signals[signal] as number),
    );
  }
  const flaggedShare = (traces: readonly ScoredTrace[], withUnknown: boolean): number | null => {
    const group = traces.filter((t) => t.unknownSyscalls > 0 === withUnknown);
    return group.length === 0 ? null : group.filter((t) => t.score >= threshold).length / group.length;
  };
  const e = model.calibration.expectedFpr;
  return {
    normalTraces: normal.length,
    attackTraces: attack.length,
    ...rankingMetrics(n, a),
    threshold,
    fprAtThreshold: n.filter((s) => s >= threshold).length / n.length,
    detectionRateAtThreshold: a.filter((s) => s >= threshold).length / a.length,
    expectedFpr: { rate: e.rate, lower: e.lower, upper: e.upper, traces: e.traces },
    perAttackType: Object.fromEntries(Object.entries(perAttackType).sort(([x], [y]) => (x < y ? -1 : 1))),
    signals,
    unknownSyscalls: {
      normalShare: share(normal),
      attackShare: share(attack),
      fprWithUnknown: flaggedShare(normal, true),
      fprWithoutUnknown: flaggedShare(normal, false),
    },
  };
}

function share(traces: readonly ScoredTrace[]): number {
  return traces.length === 0 ? 0 : traces.filter((t) => t.unknownSyscalls > 0).length / traces.length;
}

/** Labels 0 (normal) then 1 (attack) with the scores in the same order. */
export function labelled(
  normal: ArrayLike<number>,
  attack: ArrayLike<number>,
): { y: Uint8Array; scores: Float64Array } {
  const y = new Uint8Array(normal.length + attack.length);
  y.fill(1, normal.length);
  const scores = new Float64Array(y.length);
  scores.set(Array.from(normal));
  scores.set(Array.from(attack), normal.length);
  return { y, scores };
}

export function curves(normal: ArrayLike<number>, attack: ArrayLike<number>) {
  const { y, scores } = labelled(normal, attack);
  return { roc: rocCurve(y, scores), pr: prCurve(y, scores) };
}

export interface ModelEvaluation {
  evaluation: SyscallEvaluation;
  normal: ScoredTrace[];
  attack: ScoredTrace[];
}

export function evaluateModel(model: SyscallModel, normal: TraceSet, attack: TraceSet): ModelEvaluation {
  const tails = new Tails(model.calibration);
  const n = scoreTraceSet(model, normal, tails);
  const a = scoreTraceSet(model, attack, tails);
  return { evaluation: evaluateScored(model, n, a, attack.attackTypes), normal: n, attack: a };
}
