import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { InputError } from "../core/errors.ts";
import { kitnetParamsSchema } from "../models/kitnet.ts";
import { SAMPLE_WEIGHTINGS } from "../models/sample-weights.ts";
import { FLOW_SELECTION_METRICS } from "./metrics.ts";

/** The search space and cross-validation settings of `network train`, read from a JSON config file. */
const classWeight = z.union([
  z.object({ negative: z.number().positive(), positive: z.number().positive() }).strict(),
  z.literal("balanced"),
  z.literal("shares"),
  z.null(),
]);
const common = {
  description: z.string().optional(),
  folds: z.number().int().min(2),
  /** grouped: by capture; source: by the manifest's source column (one fold per source); stratified: by flow. */
  cv: z.enum(["grouped", "source", "stratified"]),
  selection: z.array(z.enum(FLOW_SELECTION_METRICS)).nonempty(),
  seed: z.number().int(),
  /** Flows kept per capture for training (a seeded sample); null keeps all. */
  maxFlowsPerCapture: z.number().int().positive().nullable(),
};
const logisticGrid = z.object({
  model: z.literal("logistic").optional(),
  space: z.object({
    penalty: z.array(z.enum(["l1", "l2"])).nonempty(),
    C: z.array(z.number().positive()).nonempty(),
    classWeight: z.array(classWeight).nonempty(),
    fitIntercept: z.array(z.boolean()).nonempty(),
    transform: z.array(z.enum(["log1p", "none"])).nonempty(),
  }),
  ...common,
});
/** KitNET's settings (its seed is the config's) and the share of held-out benign flows its threshold flags. */
const anomalySettings = {
  params: kitnetParamsSchema.omit({ seed: true }),
  targetFpr: z.number().gt(0).lt(1),
};
const gbdtGrid = z.object({
  model: z.literal("gbdt"),
  /**
   * Optional anomaly part: a KitNET fitted on the benign training flows, calibrated as the anomaly model is; a flow's
   * score is then the mean of the trees' probability and the anomaly score (both 0.5 at their own threshold). It
   * flags traffic unlike any benign flow even when no labelled attack resembled it.
   */
  anomaly: z.object(anomalySettings).strict().optional(),
  space: z.object({
    iterations: z.array(z.number().int().positive().max(5000)).nonempty(),
    learningRate: z.array(z.number().positive().max(1)).nonempty(),
    maxLeafNodes: z.array(z.number().int().min(2).max(1024)).nonempty(),
    minSamplesLeaf: z.array(z.number().int().positive()).nonempty(),
    l2: z.array(z.number().nonnegative()).nonempty(),
    weighting: z.array(z.enum(SAMPLE_WEIGHTINGS)).nonempty(),
  }),
  ...common,
});
/**
 * The anomaly model (KitNET): fitted on the benign flows only, so there is nothing to grid-search; the folds are the
 * calibration folds (each benign flow scored by a model fitted without its capture), and the threshold is set so that
 * `targetFpr` of those held-out benign flows are flagged.
 */
const kitnetGrid = z
  .object({
    model: z.literal("kitnet"),
    ...anomalySettings,
    ...common,
    selection: common.selection.optional(),
  })
  .strict();
export const networkGridSchema = z.union([gbdtGrid, logisticGrid, kitnetGrid]);
export type NetworkGridConfig = z.infer<typeof networkGridSchema>;
export type KitnetGridConfig = z.infer<typeof kitnetGrid>;
export type LogisticGridConfig = z.infer<typeof logisticGrid>;
export type GbdtGridConfig = z.infer<typeof gbdtGrid>;

/** config/ in the package: two levels above both src/network/*.ts and dist/network/*.js. */
const CONFIG_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "config");
export const DEFAULT_NETWORK_GRID = join(CONFIG_DIR, "network-grid.json");
export const REFERENCE_NETWORK_GRID = join(CONFIG_DIR, "network-grid-reference.json");
export const LOGISTIC_NETWORK_GRID = join(CONFIG_DIR, "network-grid-logistic.json");
export const KITNET_NETWORK_CONFIG = join(CONFIG_DIR, "network-kitnet.json");

export async function readNetworkGrid(file: string): Promise<NetworkGridConfig> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(file, "utf8"));
  } catch (error) {
    throw new InputError(`cannot read the grid config: ${(error as Error).message}`, { file });
  }
  // One schema per model kind, so that an error names the field rather than "no kind matched".
  const kind = (raw as { model?: unknown } | null)?.model;
  const schema = kind === "gbdt" ? gbdtGrid : kind === "kitnet" ? kitnetGrid : logisticGrid;
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InputError(`invalid grid config at ${issue.path.join(".") || "top level"}: ${issue.message}`, {
      file,
    });
  }
  return parsed.data;
}
