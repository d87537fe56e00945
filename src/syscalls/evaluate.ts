import { InputError } from "../core/errors.ts";
import { averagePrecision, detectionRateAtFpr, prCurve, rocAuc, rocCurve } from "../core/metrics.ts";
import { encodeWindows, type TraceSet } from "./dataset.ts";
import type { SyscallModel } from "./model.ts";
import { scoreTraces, scoreWindows } from "./scoring.ts";

/** Per-trace scores of a set, with each window's score for locating the most anomalous part. */
export interface ScoredTraces {
  traceScores: Float64Array;
  windowScores: Float32Array;
  /** Trace i's windows are [windowOffsets[i], windowOffsets[i+1]); windows start one syscall apart. */
  windowOffsets: Int32Array;
  /** Syscalls per trace outside the model's vocabulary. */
  unknown: Int32Array;
}

/** Scores every trace (all windows, stride 1). Traces must not be empty (see dropEmpty). */
export function scoreTraceSet(model: SyscallModel, set: TraceSet): ScoredTraces {
  const encoded = encodeWindows(set, model.vocabulary, model.config.windowLength, 1);
  const windowScores = scoreWindows(model.network, model.scoring, encoded.windows);
  return {
    traceScores: scoreTraces(windowScores, encoded.offsets, model.scoring),
    windowScores,
    windowOffsets: encoded.offsets,
    unknown: encoded.unknown,
  };
}

export interface AttackTypeDetection {
  traces: number;
  detected: number;
  detectionRate: number;
}

export interface SyscallEvaluation {
  normalTraces: number;
  attackTraces: number;
  rocAuc: number;
  prAuc: number;
  /** Detection rate with the threshold that gives this FPR on these normal traces (not the stored threshold). */
  detectionRateAtFpr: { "0.01": number; "0.05": number };
  /** The stored threshold and what it gives here. */
  threshold: number;
  fprAtThreshold: number;
  detectionRateAtThreshold: number;
  perAttackType: Record<string, AttackTypeDetection>;
  /** Syscalls outside the vocabulary: the share of traces that have any, and the false-positive rate at the stored
   * threshold among normal traces with and without them (null when there are none), to show what they cost. Known
   * only when the traces themselves were scored (evaluateModel), not from trace scores alone. */
  unknownSyscalls?: {
    normalShare: number;
    attackShare: number;
    fprWithUnknown: number | null;
    fprWithoutUnknown: number | null;
  };
}

/** Attack traces without a recognisable family are grouped under this name. */
export const UNTYPED_ATTACK = "other";

/** Metrics of normal vs attack trace scores; `threshold` is the model's stored one. */
export function evaluateScores(
  normal: Float64Array,
  attack: Float64Array,
  attackTypes: readonly (string | null)[],
  threshold: number,
): SyscallEvaluation {
  if (normal.length === 0) throw new InputError("evaluation needs at least one normal trace");
  if (attack.length === 0) throw new InputError("evaluation needs at least one attack trace");
  const { y, scores } = labelled(normal, attack);
  const perAttackType: Record<string, AttackTypeDetection> = {};
  attack.forEach((s, i) => {
    const type = attackTypes[i] ?? UNTYPED_ATTACK;
    perAttackType[type] ??= { traces: 0, detected: 0, detectionRate: 0 };
    perAttackType[type].traces++;
    if (s >= threshold) perAttackType[type].detected++;
  });
  for (const d of Object.values(perAttackType)) d.detectionRate = d.detected / d.traces;
  let falseAlarms = 0;
  for (const s of normal) if (s >= threshold) falseAlarms++;
  let detected = 0;
  for (const s of attack) if (s >= threshold) detected++;
  return {
    normalTraces: normal.length,
    attackTraces: attack.length,
    rocAuc: rocAuc(y, scores),
    prAuc: averagePrecision(y, scores),
    detectionRateAtFpr: {
      "0.01": detectionRateAtFpr(y, scores, 0.01).detectionRate,
      "0.05": detectionRateAtFpr(y, scores, 0.05).detectionRate,
    },
    threshold,
    fprAtThreshold: falseAlarms / normal.length,
    detectionRateAtThreshold: detected / attack.length,
    perAttackType: Object.fromEntries(Object.entries(perAttackType).sort(([a], [b]) => (a < b ? -1 : 1))),
  };
}

/** Labels 0 (normal) then 1 (attack) with the scores in the same order. */
export function labelled(
  normal: Float64Array,
  attack: Float64Array,
): { y: Uint8Array; scores: Float64Array } {
  const y = new Uint8Array(normal.length + attack.length);
  y.fill(1, normal.length);
  const scores = new Float64Array(y.length);
  scores.set(normal);
  scores.set(attack, normal.length);
  return { y, scores };
}

export function curves(normal: Float64Array, attack: Float64Array) {
  const { y, scores } = labelled(normal, attack);
  return { roc: rocCurve(y, scores), pr: prCurve(y, scores) };
}

export interface ModelEvaluation {
  evaluation: SyscallEvaluation;
  normal: ScoredTraces;
  attack: ScoredTraces;
}

export function evaluateModel(model: SyscallModel, normal: TraceSet, attack: TraceSet): ModelEvaluation {
  const n = scoreTraceSet(model, normal);
  const a = scoreTraceSet(model, attack);
  const evaluation = evaluateScores(n.traceScores, a.traceScores, attack.attackTypes, model.threshold);
  const flaggedShare = (withUnknown: boolean): number | null => {
    let traces = 0;
    let flagged = 0;
    n.unknown.forEach((u, i) => {
      if (u > 0 !== withUnknown) return;
      traces++;
      if (n.traceScores[i] >= model.threshold) flagged++;
    });
    return traces === 0 ? null : flagged / traces;
  };
  evaluation.unknownSyscalls = {
    normalShare: shareNonZero(n.unknown),
    attackShare: shareNonZero(a.unknown),
    fprWithUnknown: flaggedShare(true),
    fprWithoutUnknown: flaggedShare(false),
  };
  return { evaluation, normal: n, attack: a };
}

function shareNonZero(counts: Int32Array): number {
  let n = 0;
  for (const c of counts) if (c > 0) n++;
  return counts.length === 0 ? 0 : n / counts.length;
}
