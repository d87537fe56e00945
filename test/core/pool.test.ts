import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { defaultWorkerCount, runPool, siblingModule } from "../../src/core/pool.ts";
import { randomInt, seededRandom } from "../../src/core/random.ts";
import type { EchoResult, EchoTask } from "./fixtures/pool-worker.ts";

const WORKER = siblingModule(import.meta.url, "fixtures/pool-worker");

function tasks(n: number, seed: number): EchoTask[] {
  const random = seededRandom(seed);
  // Random delays make tasks finish out of order.
  return Array.from({ length: n }, (_, value) => ({ value, delayMs: randomInt(random, 15) }));
}

describe("siblingModule", () => {
  test("keeps the caller's extension and resolves relative to it", () => {
    assert.equal(
      siblingModule("file:///app/src/core/train.ts", "../models/worker").href,
      "file:///app/src/models/worker.ts",
    );
    assert.equal(
      siblingModule("file:///app/dist/core/train.js", "worker").href,
      "file:///app/dist/core/worker.js",
    );
    assert.ok(WORKER.href.endsWith("/test/core/fixtures/pool-worker.ts"));
  });
});

describe("runPool", { timeout: 20_000 }, () => {
  test("results come back in task order; onResult is called once per task", async () => {
    const input = tasks(12, 1);
    const calls: { square: number; index: number; done: number }[] = [];
    const results = await runPool<EchoTask, EchoResult>(WORKER, input, {
      workers: 2,
      onResult: (result, index, done) => calls.push({ square: result.square, index, done }),
    });
    assert.deepEqual(
      results.map((r) => r.square),
      input.map((t) => t.value ** 2),
    );
    assert.equal(calls.length, input.length);
    assert.deepEqual(
      calls.map((c) => c.index).sort((a, b) => a - b),
      input.map((_, i) => i),
    );
    // `done` counts completions 1..n in call order, and each call carries its own task's result.
    assert.deepEqual(
      calls.map((c) => c.done),
      input.map((_, i) => i + 1),
    );
    for (const c of calls) assert.equal(c.square, c.index ** 2);
    assert.ok(new Set(results.map((r) => r.threadId)).size > 1, "expected several worker threads");
  });

  test("workers = 1 runs everything on one thread", async () => {
    const input = tasks(6, 2);
    const results = await runPool<EchoTask, EchoResult>(WORKER, input, { workers: 1 });
    assert.deepEqual(
      results.map((r) => r.square),
      input.map((t) => t.value ** 2),
    );
    assert.equal(new Set(results.map((r) => r.threadId)).size, 1);
  });

  test("more workers than tasks, and the default worker count", async () => {
    assert.ok(defaultWorkerCount() >= 1);
    const results = await runPool<EchoTask, EchoResult>(WORKER, tasks(2, 3), { workers: 16 });
    assert.deepEqual(
      results.map((r) => r.square),
      [0, 1],
    );
    const byDefault = await runPool<EchoTask, EchoResult>(WORKER, tasks(1, 4));
    assert.deepEqual(
      byDefault.map((r) => r.square),
      [0],
    );
  });

  test("no tasks gives no results", async () => {
    assert.deepEqual(await runPool(WORKER, []), []);
  });

  test("a task that throws rejects the run, and the pool is torn down (no hang)", async () => {
    const input = tasks(12, 5);
    input[4].fail = true;
    const started = performance.now();
    let completed = 0;
    await assert.rejects(
      runPool<EchoTask, EchoResult>(WORKER, input, { workers: 2, onResult: () => completed++ }),
      /task 4 failed on purpose/,
    );
    assert.ok(completed < input.length);
    // The test runner would also time out if a worker thread kept the process alive; this bounds the wait.
    assert.ok(performance.now() - started < 10_000);
  });

  test("a worker module that does not load rejects the run instead of crashing the process", async () => {
    const missing = siblingModule(import.meta.url, "fixtures/no-such-worker");
    // Several idle workers fail to load too: each must be absorbed, not become an uncaught exception.
    for (let round = 0; round < 2; round++) {
      await assert.rejects(runPool(missing, [1, 2], { workers: 2 }), /no-such-worker/);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  });
});
