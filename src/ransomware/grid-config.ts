import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { InputError } from "../core/errors.ts";
import { SELECTION_METRICS, type SelectionMetric } from "../core/grid.ts";

/** The search space and cross-validation settings of `ransomware train`, read from a JSON config file. */
const classWeight = z.union([z.number().positive(), z.literal("balanced"), z.null()]);
export const gridConfigSchema = z.object({
  description: z.string().optional(),
  space: z.object({
    kernel: z.array(z.enum(["rbf", "linear"])).nonempty(),
    C: z.array(z.number().positive()).nonempty(),
    gamma: z.array(z.union([z.literal("scale"), z.number().positive()])).nonempty(),
    classWeight: z.array(classWeight).nonempty(),
    transform: z.array(z.enum(["log1p", "none"])).nonempty(),
  }),
  folds: z.number().int().min(2),
  cv: z.enum(["grouped", "stratified", "leave-one-log-out"]),
  selection: z.array(z.enum(SELECTION_METRICS as [SelectionMetric, ...SelectionMetric[]])).nonempty(),
  seed: z.number().int(),
});
export type GridConfig = z.infer<typeof gridConfigSchema>;

/** config/ in the package: two levels above both src/ransomware/*.ts and dist/ransomware/*.js. */
export const CONFIG_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "config");
export const DEFAULT_GRID_FILE = join(CONFIG_DIR, "ransomware-grid.json");
export const REFERENCE_GRID_FILE = join(CONFIG_DIR, "ransomware-grid-reference.json");

export async function readGridConfig(file: string): Promise<GridConfig> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(file, "utf8"));
  } catch (error) {
    throw new InputError(`cannot read the grid config: ${(error as Error).message}`, { file });
  }
  const parsed = gridConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InputError(`invalid grid config at ${issue.path.join(".") || "top level"}: ${issue.message}`, {
      file,
    });
  }
  return parsed.data;
}
