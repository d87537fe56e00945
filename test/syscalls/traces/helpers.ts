import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { randomInt } from "../../../src/core/random.ts";
import { loadSyscallTable } from "../../../src/syscalls/tables.ts";

/** Runs `body` with a fresh temporary directory, removed afterwards. */
export async function withTempDir<T>(body: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), "threatlens-syscalls-"));
  try {
    return await body(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Writes `files` (relative path → content) below `dir`, creating folders. */
export async function writeTree(dir: string, files: Record<string, string>): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), content);
  }
}

/** Every i386 syscall name, so random traces can also be written as ADFA numbers. */
export async function i386Names(): Promise<string[]> {
  return (await loadSyscallTable("i386")).entries().map(([, name]) => name);
}

export function pick<T>(random: () => number, items: readonly T[]): T {
  return items[randomInt(random, items.length)];
}

export function randomTrace(random: () => number, pool: readonly string[], maxLength: number): string[] {
  return Array.from({ length: randomInt(random, maxLength + 1) }, () => pick(random, pool));
}
