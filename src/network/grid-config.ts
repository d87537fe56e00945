import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { InputError } from "../core/errors.ts";
import { FLOW_SELECTION_METRICS } from "./metrics.ts";

/** The search space and cross-validation settings of `network train`, read from a JSON config file. */
const classWeight = z.union([
  z.object({ negative: z.number().positive(), positive: z.number().positive() }).strict(),
  z.literal("balanced"),
  z.literal("shares"),
  z.null(),
]);
export const networkGridSchema = z.object({
  description: z.string().optional(),
  space: z.object({
    penalty: z.array(z.enum(["l1", "l2"])).nonempty(),
    C: z.array(z.number().positive()).nonempty(),
    classWeight: z.array(classWeight).nonempty(),
    fitIntercept: z.array(z.boolean()).nonempty(),
    transform: z.array(z.enum(["log1p", "none"])).nonempty(),
  }),
  folds: z.number().int().min(2),
  cv: z.enum(["grouped", "stratified"]),
  selection: z.array(z.enum(FLOW_SELECTION_METRICS)).nonempty(),
  seed: z.number().int(),
  /** Flows kept per capture for training (a seeded sample); null keeps all. */
  maxFlowsPerCapture: z.number().int().positive().nullable(),
});
export type NetworkGridConfig = z.infer<typeof networkGridSchema>;

/** config/ in the package: two levels above both src/network/*.ts and dist/network/*.js. */
const CONFIG_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "config");
export const DEFAULT_NETWORK_GRID = join(CONFIG_DIR, "network-grid.json");
export const REFERENCE_NETWORK_GRID = join(CONFIG_DIR, "network-grid-reference.json");

export async function readNetworkGrid(file: string): Promise<NetworkGridConfig> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(file, "utf8"));
  } catch (error) {
    throw new InputError(`cannot read the grid config: ${(error as Error).message}`, { file });
  }
  const parsed = networkGridSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InputError(`invalid grid config at ${issue.path.join(".") || "top level"}: ${issue.message}`, {
      file,
    });
  }
  return parsed.data;
}
