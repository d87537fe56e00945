import { dirname } from "node:path";
import { UsageError } from "../core/errors.ts";
import { seededRandom, shuffleInPlace } from "../core/random.ts";

/**
 * Sessions for calibration: groups of normal traces recorded together, held out together, so that the calibration
 * scores come from traces the fitted parts have seen nothing of — neither the trace itself nor its neighbours in
 * time. A random slice of traces would leave each held-out trace's near-twins (the same command run a moment
 * earlier) in training and promise a lower false-positive rate than new sessions give.
 *
 * - Recordings: when at least two files hold several traces each (strace logs of a service, collector CSVs), each such
 *   file is a session — a new recording is what a model meets in use.
 * - Otherwise a session is a run of `length` consecutive traces of one container, in reading order: the container is
 *   the file when a file holds several traces (one long strace log: its processes in order of appearance), else the
 *   directory (ADFA-LD: one trace per file, numbered in recording order — consecutive traces are more alike than
 *   random pairs).
 */
export function sessionsOf(sources: readonly string[], length: number): string[] {
  if (!Number.isInteger(length) || length < 1)
    throw new UsageError(`session length must be a positive integer, got ${length}`);
  const perFile = new Map<string, number>();
  for (const source of sources) perFile.set(source, (perFile.get(source) ?? 0) + 1);
  const recordings = [...perFile.values()].filter((n) => n > 1).length;
  const seen = new Map<string, number>();
  return sources.map((source) => {
    const multi = (perFile.get(source) ?? 0) > 1;
    if (multi && recordings >= 2) return source;
    const container = multi ? source : dirname(source);
    const k = seen.get(container) ?? 0;
    seen.set(container, k + 1);
    return `${container}#${Math.floor(k / length)}`;
  });
}

export interface SessionFolds {
  /** Fold of each trace. */
  foldOf: Int32Array;
  folds: number;
  sessions: number;
}

/**
 * Assigns whole sessions to `folds` folds: sessions in a seeded random order, each to the fold with the fewest traces
 * so far, so fold sizes stay even. With fewer sessions than folds the number of folds drops to the number of
 * sessions (at least 2 are needed to hold one out).
 */
export function sessionFolds(sessions: readonly string[], folds: number, seed: number): SessionFolds {
  const ids = new Map<string, number>();
  const sizes: number[] = [];
  const sessionOf = sessions.map((s) => {
    let id = ids.get(s);
    if (id === undefined) {
      id = sizes.length;
      ids.set(s, id);
      sizes.push(0);
    }
    sizes[id]++;
    return id;
  });
  const k = Math.min(folds, sizes.length);
  if (k < 2)
    throw new UsageError(`calibration needs at least 2 sessions to hold one out, got ${sizes.length}`);
  const order = shuffleInPlace(
    sizes.map((_, i) => i),
    seededRandom(seed),
  );
  const foldSize = new Array<number>(k).fill(0);
  const foldOfSession = new Int32Array(sizes.length);
  for (const s of order) {
    let best = 0;
    for (let f = 1; f < k; f++) if (foldSize[f] < foldSize[best]) best = f;
    foldOfSession[s] = best;
    foldSize[best] += sizes[s];
  }
  return { foldOf: Int32Array.from(sessionOf, (s) => foldOfSession[s]), folds: k, sessions: sizes.length };
}
