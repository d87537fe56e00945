import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { InputError } from "./errors.ts";

/**
 * Expands command-line inputs into files: a file stays itself, a directory becomes the files below it whose name
 * matches `accept` (recursively, sorted, so runs are deterministic). A missing path or an empty expansion is an error.
 */
export async function expandInputs(
  inputs: readonly string[],
  accept: (name: string) => boolean,
): Promise<string[]> {
  const files: string[] = [];
  for (const input of inputs) {
    let info: Awaited<ReturnType<typeof stat>>;
    try {
      info = await stat(input);
    } catch {
      throw new InputError(`no such file or directory`, { file: input });
    }
    if (info.isDirectory()) {
      const found = await walk(input, accept);
      if (found.length === 0) throw new InputError(`the directory contains no input files`, { file: input });
      files.push(...found);
    } else files.push(input);
  }
  return files;
}

async function walk(dir: string, accept: (name: string) => boolean): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const out: string[] = [];
  for (const entry of entries) {
    const path = join(dir, entry.name);
    // Follow symbolic links: a link to a log is as good as the log.
    const isDirectory = entry.isSymbolicLink() ? (await stat(path)).isDirectory() : entry.isDirectory();
    const isFile = entry.isSymbolicLink() ? !isDirectory : entry.isFile();
    if (isDirectory) out.push(...(await walk(path, accept)));
    else if (isFile && accept(entry.name)) out.push(path);
  }
  return out;
}
