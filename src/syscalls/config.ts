import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { InputError } from "../core/errors.ts";
import { PACKAGE_ROOT } from "../core/package-root.ts";
import { DEFAULT_SCORING, scoringConfigShape } from "./scoring.ts";

/**
 * Everything that defines one syscall detector: which signals it combines and their settings, per-program
 * profiles, how it is calibrated, and — when the autoencoder is one of the signals — the network, optimiser and its
 * trace aggregation. `train --config` reads a (partial) object of these keys over the defaults; a search varies them.
 */
const positiveInt = z.number().int().positive();
export const SIGNALS = ["ngram", "novelty", "repertoire", "autoencoder"] as const;
export type SignalName = (typeof SIGNALS)[number];

/**
 * What each signal reads: the order of a process's syscalls (n-gram, window novelty, autoencoder windows) or the set
 * of them (repertoire). Signals of one family are strongly correlated; they are combined as one (see combine in
 * detector.ts).
 */
export const SIGNAL_FAMILY: Record<SignalName, "order" | "set"> = {
  ngram: "order",
  novelty: "order",
  autoencoder: "order",
  repertoire: "set",
};

export function familyCount(signals: readonly SignalName[]): number {
  return new Set(signals.map((s) => SIGNAL_FAMILY[s])).size;
}

/**
 * Lock contention (futex), asynchronous signals (the handler's return: rt_sigreturn, sigreturn) and a call the kernel
 * restarts after a stop or signal (restart_syscall).
 */
export const TIMING_SYSCALLS = ["futex", "restart_syscall", "rt_sigreturn", "sigreturn"];

export const modelConfigSchema = z
  .object({
    /** The signals combined into a trace's score (see docs/syscalls.md, "Signals"). */
    signals: z
      .array(z.enum(SIGNALS))
      .min(1)
      .refine((s) => new Set(s).size === s.length, "a signal is listed twice"),
    /** n-gram next-syscall model: longest n-gram (context of ngramOrder − 1 syscalls). */
    ngramOrder: z.number().int().min(1).max(16),
    /** Window novelty: syscalls per window. */
    noveltyWindow: z.number().int().min(1).max(16),
    /** Window novelty: windows seen fewer times than this in training count as novel (1: never seen). */
    noveltyMinCount: positiveInt,
    /** Score a trace against its program's own profile when the program has at least this many training traces
     * (traces name their program in strace and collector input); 0 turns per-program profiles off. */
    minProgramTraces: z.number().int().nonnegative(),
    /** Cross-fitting folds for the calibration scores (whole sessions per fold). */
    calibrationFolds: z.number().int().min(2),
    /** Traces per session when the input has no session boundaries of its own (consecutive traces). */
    sessionLength: positiveInt,
    /** Names seen fewer times than this in training encode as the unknown token. */
    minCount: positiveInt,
    /** False-positive rate on held-out normal traces that the stored threshold allows. */
    targetFpr: z.number().gt(0).lt(1),
    /** Share of normal processes `syscalls watch` may alert on (its threshold is on each process's highest running
     * score). A service makes many processes and threads, so this is far lower than the batch target. */
    liveTargetFpr: z.number().gt(0).lt(1),
    seed: z.number().int(),
    /** Syscalls whose place in a trace is set by timing, not by the program (see ProcessScorer): kept in the
     * repertoire, left out of the order the sequence signals read. */
    timingSyscalls: z.array(z.string().min(1)),
    // The autoencoder signal's settings (used when `signals` includes "autoencoder").
    windowLength: z.number().int().min(2),
    /** Step between training windows; scoring always uses stride 1 so no syscall escapes a window. */
    stride: positiveInt,
    embeddingDim: positiveInt,
    hiddenLayers: z.array(positiveInt),
    latentDim: positiveInt,
    learningRate: z.number().positive(),
    batchSize: positiveInt,
    epochs: positiveInt,
    /** Epochs without a lower held-out loss before training stops (0: run every epoch). */
    patience: z.number().int().nonnegative(),
    /** Share of the autoencoder's training traces (whole traces) held out for its early stopping. */
    heldOutFraction: z.number().gt(0).lt(1),
    ...scoringConfigShape,
  })
  .strict();
export type ModelConfig = z.infer<typeof modelConfigSchema>;

/** The detector the experiments chose (docs/syscalls.md, "Choosing the default"). */
export const DEFAULT_MODEL_CONFIG: ModelConfig = {
  signals: ["ngram", "novelty", "repertoire"],
  ngramOrder: 8,
  noveltyWindow: 10,
  noveltyMinCount: 1,
  minProgramTraces: 5,
  calibrationFolds: 5,
  sessionLength: 20,
  minCount: 1,
  targetFpr: 0.01,
  liveTargetFpr: 0.0001,
  seed: 1,
  timingSyscalls: TIMING_SYSCALLS,
  windowLength: 7,
  stride: 1,
  embeddingDim: 16,
  hiddenLayers: [128],
  latentDim: 16,
  learningRate: 0.003,
  batchSize: 512,
  epochs: 4,
  patience: 2,
  heldOutFraction: 0.2,
  ...DEFAULT_SCORING,
};

export const MODEL_CONFIG_KEYS = Object.keys(modelConfigSchema.shape) as (keyof ModelConfig)[];

/** A search: `space` lists values to try per key (Cartesian product), `base` fixes the other keys. */
export const searchConfigSchema = z
  .object({
    description: z.string().optional(),
    base: modelConfigSchema.partial().default({}),
    space: z
      .partialRecord(
        z.enum(MODEL_CONFIG_KEYS as [keyof ModelConfig, ...(keyof ModelConfig)[]]),
        z.array(z.unknown()).min(1),
      )
      .refine((space) => Object.keys(space).length > 0, "the space must vary at least one key"),
  })
  .strict();
export type SearchConfig = z.infer<typeof searchConfigSchema>;

export const DEFAULT_SEARCH_FILE = join(PACKAGE_ROOT, "config", "syscalls-search.json");

/** Defaults overlaid with `partial`, validated; `file` locates errors. */
export function resolveModelConfig(partial: unknown, file?: string): ModelConfig {
  const parsed = modelConfigSchema.safeParse({ ...DEFAULT_MODEL_CONFIG, ...(partial as object) });
  if (!parsed.success) throw configError(parsed.error, "model config", file);
  return parsed.data;
}

export async function readModelConfig(file: string): Promise<ModelConfig> {
  const raw = await readJson(file, "model config");
  // A results row or a model's metadata can be passed back as a config: take its `config` object.
  const value = isObject(raw) && isObject(raw.config) ? raw.config : raw;
  if (!isObject(value)) throw new InputError("the model config must be a JSON object", { file });
  // A config file may say what it is for.
  const { description: _description, ...keys } = value;
  return resolveModelConfig(keys, file);
}

export async function readSearchConfig(file: string): Promise<SearchConfig> {
  const parsed = searchConfigSchema.safeParse(await readJson(file, "search config"));
  if (!parsed.success) throw configError(parsed.error, "search config", file);
  return parsed.data;
}

/**
 * The configuration with the settings of signals it does not use reset to their defaults: two configurations that
 * differ only there train the same detector, so they share one hash (a search runs them once).
 */
export function effectiveConfig(config: ModelConfig): ModelConfig {
  const out: Record<string, unknown> = { ...config };
  const reset = (keys: readonly (keyof ModelConfig)[]) => {
    for (const key of keys) out[key] = DEFAULT_MODEL_CONFIG[key];
  };
  const uses = (signal: SignalName) => config.signals.includes(signal);
  if (!uses("ngram")) reset(["ngramOrder"]);
  if (!uses("novelty")) reset(["noveltyWindow", "noveltyMinCount"]);
  if (!uses("autoencoder")) reset(AUTOENCODER_KEYS);
  if (!config.signals.some((s) => SIGNAL_FAMILY[s] === "order")) reset(["timingSyscalls"]);
  return out as ModelConfig;
}

/** The autoencoder signal's settings. */
export const AUTOENCODER_KEYS = [
  "windowLength",
  "stride",
  "embeddingDim",
  "hiddenLayers",
  "latentDim",
  "learningRate",
  "batchSize",
  "epochs",
  "patience",
  "heldOutFraction",
  "objective",
  "noise",
  "normalisation",
] as const satisfies readonly (keyof ModelConfig)[];

/** Units of work of one training (see TrainHooks.onProgress): one per fit, plus its autoencoder epochs per fit. */
export function progressUnits(config: ModelConfig): number {
  const fits = config.calibrationFolds + 1;
  return fits * (1 + (config.signals.includes("autoencoder") ? config.epochs : 0));
}

/** Stable identity of a configuration: finished configurations of a resumed search are found by it. */
export function configHash(config: ModelConfig): string {
  return createHash("sha256")
    .update(canonicalJson(effectiveConfig(config)))
    .digest("hex")
    .slice(0, 12);
}

/** JSON with object keys sorted, so that key order in a config file does not change the hash. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (isObject(value)) {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/** One line naming what a configuration varies from the defaults, for tables and progress lines. */
export function describeConfig(config: ModelConfig, keys: readonly string[] = MODEL_CONFIG_KEYS): string {
  return keys
    .map((k) => {
      const v = config[k as keyof ModelConfig];
      return `${k}=${Array.isArray(v) ? `[${v.join(",")}]` : String(v)}`;
    })
    .join(" ");
}

async function readJson(file: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    throw new InputError(`cannot read the ${what} (${(error as NodeJS.ErrnoException).code ?? "error"})`, {
      file,
    });
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new InputError(`the ${what} is not valid JSON: ${(error as Error).message}`, { file });
  }
}

function configError(error: z.ZodError, what: string, file?: string): InputError {
  const issue = error.issues[0];
  return new InputError(`invalid ${what} at ${issue.path.join(".") || "top level"}: ${issue.message}`, {
    file,
  });
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

const SHORT: Partial<Record<keyof ModelConfig, string>> = {
  signals: "signals",
  ngramOrder: "n",
  noveltyWindow: "w",
  noveltyMinCount: "minWin",
  minProgramTraces: "minProg",
  windowLength: "aeWin",
  embeddingDim: "emb",
  hiddenLayers: "hidden",
  latentDim: "z",
  learningRate: "lr",
  batchSize: "batch",
  epochs: "epochs",
  objective: "obj",
  noise: "noise",
  normalisation: "norm",
};

/** A compact label from the keys a search varies. */
export function configLabel(config: ModelConfig, keys: readonly (keyof ModelConfig)[]): string {
  if (keys.length === 0) return "default";
  return keys
    .map((k) => {
      const v = config[k];
      return `${SHORT[k] ?? k}=${Array.isArray(v) ? v.join("+") || "none" : String(v)}`;
    })
    .join(" ");
}
