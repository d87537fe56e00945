import { availableParallelism } from "node:os";
import { extname } from "node:path";
import { fileURLToPath } from "node:url";
import { Piscina } from "piscina";

/**
 * Runs independent tasks on a pool of worker threads (one per core by default) and returns results in task
 * order. Workers are modules exporting a default `(task) => result` function.
 */
export interface PoolOptions<R> {
  workers?: number;
  /** Called as each task finishes (in completion order), for progress display. */
  onResult?: (result: R, index: number, done: number) => void;
}

export function defaultWorkerCount(): number {
  return Math.max(1, availableParallelism());
}

/**
 * The URL of a worker module next to `importMetaUrl`, with the caller's own extension: `.ts` when running from
 * source under tsx, `.js` from the built package.
 */
export function siblingModule(importMetaUrl: string, baseName: string): URL {
  return new URL(`./${baseName}${extname(fileURLToPath(importMetaUrl))}`, importMetaUrl);
}

export async function runPool<T, R>(
  worker: URL,
  tasks: readonly T[],
  options: PoolOptions<R> = {},
): Promise<R[]> {
  const threads = Math.max(1, Math.min(options.workers ?? defaultWorkerCount(), tasks.length));
  const pool = new Piscina({ filename: worker.href, minThreads: threads, maxThreads: threads });
  // Piscina emits "error" when a worker fails while holding no task (e.g. its module does not load); unheard, that
  // event would crash the process with a stack trace instead of rejecting the run.
  const poolFailure = new Promise<never>((_, reject) => pool.on("error", reject));
  let done = 0;
  try {
    const results = Promise.all(
      tasks.map(async (task, index) => {
        const result = (await pool.run(task)) as R;
        options.onResult?.(result, index, ++done);
        return result;
      }),
    );
    return await Promise.race([results, poolFailure]);
  } finally {
    await pool.destroy();
  }
}
