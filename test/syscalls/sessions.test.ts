import assert from "node:assert/strict";
import { test } from "node:test";
import { UsageError } from "../../src/core/errors.ts";
import { sessionFolds, sessionsOf } from "../../src/syscalls/sessions.ts";

test("sessions: runs of consecutive traces per directory for one-trace files, per file for multi-trace logs", () => {
  const sources = [
    "/d/Training/UTD-0001.txt",
    "/d/Training/UTD-0002.txt",
    "/d/Training/UTD-0003.txt",
    "/d/service.strace",
    "/d/service.strace",
    "/d/service.strace",
    "/d/Other/x.txt",
  ];
  assert.deepEqual(sessionsOf(sources, 2), [
    "/d/Training#0",
    "/d/Training#0",
    "/d/Training#1",
    "/d/service.strace#0",
    "/d/service.strace#0",
    "/d/service.strace#1",
    "/d/Other#0",
  ]);
  assert.throws(() => sessionsOf(sources, 0), UsageError);
});

test("sessions: every recording file is one when there are several multi-trace files", () => {
  const sources = ["/r/a.strace", "/r/a.strace", "/r/a.strace", "/r/b.strace", "/r/b.strace", "/r/c/one.txt"];
  assert.deepEqual(sessionsOf(sources, 2), [
    "/r/a.strace",
    "/r/a.strace",
    "/r/a.strace",
    "/r/b.strace",
    "/r/b.strace",
    "/r/c#0",
  ]);
});

test("folds: whole sessions, even sizes, seeded; fewer folds when sessions are few; at least two sessions", () => {
  const sessions = Array.from({ length: 103 }, (_, i) => `s${Math.floor(i / 10)}`);
  const { foldOf, folds, sessions: count } = sessionFolds(sessions, 5, 1);
  assert.equal(folds, 5);
  assert.equal(count, 11);
  const bySession = new Map<string, number>();
  sessions.forEach((s, i) => {
    if (bySession.has(s)) assert.equal(bySession.get(s), foldOf[i]);
    bySession.set(s, foldOf[i]);
  });
  const sizes = [0, 1, 2, 3, 4].map((f) => foldOf.filter((x) => x === f).length);
  assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 10, String(sizes));
  assert.deepEqual(sessionFolds(sessions, 5, 1).foldOf, foldOf);
  assert.notDeepEqual(sessionFolds(sessions, 5, 2).foldOf, foldOf);
  assert.equal(sessionFolds(["a", "a", "b"], 5, 1).folds, 2);
  assert.throws(() => sessionFolds(["a", "a"], 5, 1), /at least 2 sessions/);
});
