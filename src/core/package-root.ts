import { join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The package root. This module is two levels below it both as src/core/package-root.ts (tsx, tests) and as
 * dist/core/package-root.js (built package), so shipped data is found without depending on the working directory.
 */
export const PACKAGE_ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** Path of a file shipped in the package's data/ folder. */
export function dataPath(...parts: string[]): string {
  return join(PACKAGE_ROOT, "data", ...parts);
}
