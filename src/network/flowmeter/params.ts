import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { ModelFileError, UsageError } from "../../core/errors.ts";
import { StandardScaler } from "../../core/scaling.ts";
import { type LogisticModel, predictProba } from "../../models/logistic.ts";
import { FLOWMETER_FEATURES } from "../flows/features.ts";
import { DEFAULT_FLOW_TIMEOUTS } from "../flows/table.ts";
import { type FlowScorer, isGbdt, isKitnet, type NetworkModel, rankWeights } from "../model.ts";

/**
 * FlowMeter's model parameters: a directory of mean.txt, std.txt, weights.txt (39 values each, in FLOWMETER_FEATURES
 * order) and intercept.txt (one value), written as numpy's savetxt does ("%.18e", one value per line). FlowMeter
 * scores a flow as sigmoid(Σ wᵢ·(xᵢ − meanᵢ)/stdᵢ + intercept) and flags it when that is ≥ 0.5 (ml/mlCommon.go).
 *
 * An exported directory also holds threatlens.json, which FlowMeter ignores: it records that the parameters were
 * fitted on threatlens flows (not FlowMeter's own flow statistics), with the flow timeouts and threshold, so that
 * importing it back scores exactly like the model it came from. Without it (FlowMeter's shipped parameters), flows
 * are computed as FlowMeter computes them.
 */
export const PARAM_FILES = ["mean.txt", "std.txt", "weights.txt", "intercept.txt"] as const;
const MARKER = "threatlens.json";

const markerSchema = z.object({
  format: z.literal("threatlens-flowmeter-params"),
  flows: z.literal("threatlens"),
  threshold: z.number().gt(0).lt(1),
  timeouts: z.object({
    idleTimeout: z.number().positive(),
    activeTimeout: z.number().positive(),
    closeLinger: z.number().nonnegative(),
  }),
  featureNames: z.array(z.string()),
});

/** numpy's "%.18e": 19 significant digits (exact for a double), a signed exponent of at least two digits. */
export function formatSaveTxt(v: number): string {
  const [mantissa, exponent] = v.toExponential(18).split("e");
  const sign = exponent.startsWith("-") ? "-" : "+";
  const digits = exponent.replace(/^[+-]/, "").padStart(2, "0");
  return `${Object.is(v, -0) ? "-" : ""}${mantissa}e${sign}${digits}`;
}

/** Why a model cannot be written as FlowMeter parameters, or undefined when it can. */
export function exportProblem(model: NetworkModel): string | undefined {
  if (isKitnet(model)) {
    return "FlowMeter's parameter files hold a logistic regression, and this model is the KitNET anomaly detector: train one with --config config/network-grid-logistic.json --features flowmeter";
  }
  if (isGbdt(model)) {
    return "FlowMeter's parameter files hold a logistic regression, and this model is boosted trees: train one with --config config/network-grid-logistic.json --features flowmeter";
  }
  if (model.featureSet !== "flowmeter") {
    return `the model uses ${model.featureNames.length} features and FlowMeter's parameter files hold exactly its 39: train it with --features flowmeter`;
  }
  if (model.pipeline.transform !== "none") {
    return `the model applies a ${model.pipeline.transform} transform before scaling, which FlowMeter's mean/std/weights cannot express: train it with a grid whose transform is ["none"]`;
  }
  return undefined;
}

export async function exportFlowMeterParams(model: NetworkModel, dir: string): Promise<string[]> {
  const problem = exportProblem(model);
  if (problem !== undefined || isGbdt(model) || isKitnet(model))
    throw new UsageError(`cannot export to FlowMeter: ${problem}`);
  const { mean, scale } = model.pipeline.scaler;
  const { weights, intercept } = model.pipeline.logistic;
  const lines = (values: readonly number[]) => values.map((v) => `${formatSaveTxt(v)}\n`).join("");
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "mean.txt"), lines(mean));
  await writeFile(join(dir, "std.txt"), lines(scale));
  await writeFile(join(dir, "weights.txt"), lines(weights));
  await writeFile(join(dir, "intercept.txt"), lines([intercept]));
  const marker: z.infer<typeof markerSchema> = {
    format: "threatlens-flowmeter-params",
    flows: "threatlens",
    threshold: model.threshold,
    timeouts: model.timeouts,
    featureNames: model.featureNames,
  };
  await writeFile(join(dir, MARKER), `${JSON.stringify(marker, null, 2)}\n`);
  return [...PARAM_FILES, MARKER].map((f) => join(dir, f));
}

async function readValues(dir: string, name: string, count: number): Promise<number[]> {
  const file = join(dir, name);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    throw new ModelFileError(`cannot read FlowMeter parameters: ${(error as Error).message}`, { file });
  }
  const values: number[] = [];
  text.split("\n").forEach((lineText, i) => {
    for (const word of lineText.trim().split(/\s+/)) {
      if (word === "") continue;
      const v = Number(word);
      if (!Number.isFinite(v)) {
        throw new ModelFileError(`${JSON.stringify(word)} is not a finite number`, { file, line: i + 1 });
      }
      values.push(v);
    }
  });
  if (values.length !== count) {
    throw new ModelFileError(`has ${values.length} values, expected ${count}`, { file });
  }
  return values;
}

export async function loadFlowMeterParams(dir: string): Promise<FlowScorer> {
  const n = FLOWMETER_FEATURES.length;
  const mean = await readValues(dir, "mean.txt", n);
  const std = await readValues(dir, "std.txt", n);
  const weights = await readValues(dir, "weights.txt", n);
  const [intercept] = await readValues(dir, "intercept.txt", 1);
  std.forEach((s, i) => {
    if (s <= 0) {
      throw new ModelFileError(
        `value ${i + 1} (${FLOWMETER_FEATURES[i]}) is ${s}; a standard deviation must be > 0`,
        {
          file: join(dir, "std.txt"),
          line: i + 1,
        },
      );
    }
  });
  const marker = await readMarker(dir);
  const scaler = StandardScaler.fromJSON({ mean, scale: std }, join(dir, "std.txt"));
  // Only weights and intercept take part in prediction; the rest describes a fit this directory does not record.
  const logistic: LogisticModel = {
    weights,
    intercept,
    params: { penalty: "l2", C: 1, fitIntercept: true },
    iterations: 0,
    gradientNorm: 0,
    converged: true,
  };
  return {
    kind: "flowmeter-params",
    source: dir,
    featureSet: "flowmeter",
    featureNames: FLOWMETER_FEATURES,
    threshold: marker?.threshold ?? 0.5,
    flowSource: marker ? "threatlens" : "flowmeter",
    timeouts: marker?.timeouts ?? DEFAULT_FLOW_TIMEOUTS,
    rankedWeights: rankWeights(FLOWMETER_FEATURES, weights),
    importance: "weight",
    probability: (rows) => predictProba(logistic, scaler.transform(rows as Float64Array[])),
  };
}

async function readMarker(dir: string): Promise<z.infer<typeof markerSchema> | null> {
  const file = join(dir, MARKER);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    return null;
  }
  let parsed: z.infer<typeof markerSchema>;
  try {
    parsed = markerSchema.parse(JSON.parse(text));
  } catch (error) {
    throw new ModelFileError(`invalid threatlens export marker: ${(error as Error).message.slice(0, 300)}`, {
      file,
    });
  }
  if (parsed.featureNames.join(",") !== FLOWMETER_FEATURES.join(",")) {
    throw new ModelFileError("the export marker names features other than FlowMeter's 39", { file });
  }
  return parsed;
}
