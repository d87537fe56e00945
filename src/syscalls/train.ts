import { InputError } from "../core/errors.ts";
import type { ModelConfig } from "./config.ts";
import { type TraceSet, traceCount } from "./dataset.ts";
import { disposeCores, fitDetector, type TrainHooks } from "./detector.ts";
import type { SyscallModel, TrainingSummary } from "./model.ts";

export type { TrainHooks } from "./detector.ts";

/**
 * Trains the detector on normal traces only (see detector.ts for the fitting and the calibration) and gathers what
 * the model file records about the training.
 */
export async function trainSyscallModel(
  normal: TraceSet,
  config: ModelConfig,
  inputs: string[],
  hooks: TrainHooks = {},
  read: { skipped: Record<string, number>; warnings: string[] } = { skipped: {}, warnings: [] },
): Promise<SyscallModel> {
  const started = performance.now();
  if (normal.tokens.length === 0) throw new InputError("the normal training traces contain no syscalls");
  const { detector, folds, finalCore } = await fitDetector(normal, config, hooks);
  disposeCores(folds);
  const training: TrainingSummary = {
    inputs,
    traces: traceCount(normal),
    syscalls: normal.tokens.length,
    programs: Object.fromEntries([...detector.programs].map(([name, p]) => [name, p.traces])),
    history: finalCore.history.map((h) => ({
      ...h,
      validLoss: Number.isFinite(h.validLoss) ? h.validLoss : null,
    })),
    bestEpoch: finalCore.bestEpoch,
    trainSeconds: (performance.now() - started) / 1000,
    skipped: read.skipped,
    warnings: [...read.warnings, ...detector.calibration.warnings],
  };
  return { ...detector, training };
}
