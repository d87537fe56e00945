import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The CLI as tests run it: the built one (dist/), as users run it. Starting it costs about half what starting the
 * TypeScript sources under tsx costs, and the tests start it a few hundred times. When any file under src/ is newer
 * than the build, it is rebuilt first, by one test file while the others wait.
 */
const root = join(fileURLToPath(import.meta.url), "..", "..", "..");
export const CLI_MAIN = join(root, "dist", "cli", "main.js");

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    const time = entry.isDirectory() ? newestSource(path) : statSync(path).mtimeMs;
    if (time > newest) newest = time;
  }
  return newest;
}

function builtAt(): number {
  try {
    return statSync(CLI_MAIN).mtimeMs;
  } catch {
    return 0;
  }
}

/** One build at a time when test files run in parallel: the others wait for it, then find dist/ fresh. */
function buildIfStale(): void {
  const lock = join(root, "dist.build-lock");
  for (;;) {
    if (builtAt() >= newestSource(join(root, "src"))) return;
    try {
      mkdirSync(lock);
    } catch {
      // Another test file is building: wait for it (a lock older than 2 minutes was left by a killed run).
      try {
        if (Date.now() - statSync(lock).mtimeMs > 120_000) rmSync(lock, { recursive: true, force: true });
      } catch {
        // Gone meanwhile.
      }
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
      continue;
    }
    try {
      if (builtAt() >= newestSource(join(root, "src"))) return;
      process.stderr.write(
        "test/support/cli.ts: src/ is newer than dist/: building the CLI (npm run build)\n",
      );
      execFileSync(
        process.execPath,
        [join(root, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.build.json"],
        { cwd: root, stdio: "inherit" },
      );
      return;
    } finally {
      rmSync(lock, { recursive: true, force: true });
    }
  }
}

buildIfStale();

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `threatlens ARGS` to completion from the package root (stdin from `input`; as `uid` when given). */
export function runCli(
  args: string[],
  options: { input?: string; env?: NodeJS.ProcessEnv; uid?: number; timeout?: number } = {},
): CliRun {
  const r = spawnSync(process.execPath, [CLI_MAIN, ...args], {
    cwd: root,
    encoding: "utf8",
    input: options.input,
    env: options.env ?? process.env,
    uid: options.uid,
    gid: options.uid,
    timeout: options.timeout,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
