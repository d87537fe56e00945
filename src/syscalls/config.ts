import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { InputError } from "../core/errors.ts";
import { PACKAGE_ROOT } from "../core/package-root.ts";
import { DEFAULT_SCORING, POST_TRAINING_KEYS, scoringConfigShape } from "./scoring.ts";

/**
 * Everything that defines one syscall model: windows, network, optimiser, scoring and the held-out split. `train
 * --config` reads a (partial) object of these keys over the defaults; a search config varies them.
 */
const positiveInt = z.number().int().positive();
export const modelConfigSchema = z
  .object({
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
    /** Names seen fewer times than this in training encode as the unknown token. */
    minCount: positiveInt,
    /** Share of the normal training traces (whole traces) held out for early stopping and the threshold. */
    heldOutFraction: z.number().gt(0).lt(1),
    /** False-positive rate on held-out normal traces that the stored threshold allows. */
    targetFpr: z.number().gt(0).lt(1),
    seed: z.number().int(),
    ...scoringConfigShape,
  })
  .strict();
export type ModelConfig = z.infer<typeof modelConfigSchema>;

/** The best configuration of the default search on ADFA-LD (docs/syscalls.md, "Results"). */
export const DEFAULT_MODEL_CONFIG: ModelConfig = {
  windowLength: 7,
  stride: 1,
  embeddingDim: 16,
  hiddenLayers: [128],
  latentDim: 16,
  learningRate: 0.003,
  batchSize: 512,
  epochs: 4,
  patience: 2,
  minCount: 3,
  heldOutFraction: 0.2,
  targetFpr: 0.05,
  seed: 1,
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
  return resolveModelConfig(value, file);
}

export async function readSearchConfig(file: string): Promise<SearchConfig> {
  const parsed = searchConfigSchema.safeParse(await readJson(file, "search config"));
  if (!parsed.success) throw configError(parsed.error, "search config", file);
  return parsed.data;
}

/** Stable identity of a configuration: finished configurations of a resumed search are found by it. */
export function configHash(config: ModelConfig): string {
  return createHash("sha256").update(canonicalJson(config)).digest("hex").slice(0, 12);
}

/**
 * Identity of the trained network: the config without the settings applied after training (scoring's post-training
 * keys and the target FPR). Configurations with the same key share one training run.
 */
export function networkKey(config: ModelConfig): string {
  const training: Record<string, unknown> = { ...config };
  for (const key of [...POST_TRAINING_KEYS, "targetFpr"]) delete training[key];
  return canonicalJson(training);
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
