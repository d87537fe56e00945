import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { InputError } from "../core/errors.ts";
import { SELECTION_METRICS, type SelectionMetric } from "../core/grid.ts";
import { BEHAVIOURS, FEATURE_NAMES, TRIGRAMS } from "./features.ts";

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
  /** Features the SVM does not see: names, or "trigrams" / "behaviours" for those families. */
  exclude: z.array(z.string()).default([]),
});
export type GridConfig = z.infer<typeof gridConfigSchema>;

/** config/ in the package: two levels above both src/ransomware/*.ts and dist/ransomware/*.js. */
export const CONFIG_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "config");
export const DEFAULT_GRID_FILE = join(CONFIG_DIR, "ransomware-grid.json");
export const REFERENCE_GRID_FILE = join(CONFIG_DIR, "ransomware-grid-reference.json");

const FEATURE_FAMILIES: Record<string, readonly string[]> = {
  trigrams: TRIGRAMS,
  behaviours: BEHAVIOURS.flatMap((b) => [`B_${b}_sum`, `B_${b}_max`]),
};

/** The features a config leaves out of the SVM, by name; throws on a name that is no feature or family. */
export function excludedFeatures(config: GridConfig): string[] {
  const known = new Set(FEATURE_NAMES);
  const out = new Set<string>();
  for (const entry of config.exclude) {
    const family = FEATURE_FAMILIES[entry];
    if (family !== undefined) for (const name of family) out.add(name);
    else if (known.has(entry)) out.add(entry);
    else
      throw new InputError(
        `exclude: ${JSON.stringify(entry)} is neither a feature nor one of ${Object.keys(FEATURE_FAMILIES).join(", ")}`,
      );
  }
  return FEATURE_NAMES.filter((n) => out.has(n));
}

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
  try {
    excludedFeatures(parsed.data);
  } catch (error) {
    throw new InputError((error as Error).message, { file });
  }
  return parsed.data;
}
