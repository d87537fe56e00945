import { ModelFileError } from "../core/errors.ts";
import { NgramCounts } from "../models/ngram.ts";
import { SetNeighbours, TokenSet } from "../models/set-neighbours.ts";
import type { ModelConfig } from "./config.ts";
import { withoutTiming } from "./dataset.ts";
import { PAD } from "./vocabulary.ts";

/**
 * What normal behaviour looks like for one program (or for every program together: the global profile): the n-gram
 * counts that the next-syscall model and window novelty read (of the traces without their timing syscalls), and the
 * repertoires (sets of syscalls used, timing syscalls included) of its training traces. Tokens are vocabulary ids;
 * the profile keeps counts only, so it is small and rebuilt exactly on load.
 */
export interface Profile {
  /** The program's name (basename of its executable, as the kernel's comm), or null for the global profile. */
  program: string | null;
  traces: number;
  syscalls: number;
  counts: NgramCounts;
  repertoires: SetNeighbours;
}

/** Highest n-gram order the enabled signals read (1 when neither the n-gram model nor novelty is used). */
export function countsOrder(config: ModelConfig): number {
  let order = 1;
  if (config.signals.includes("ngram")) order = Math.max(order, config.ngramOrder);
  if (config.signals.includes("novelty")) order = Math.max(order, config.noveltyWindow);
  return order;
}

export function fitProfile(
  program: string | null,
  traces: readonly Int32Array[],
  vocabularySize: number,
  config: ModelConfig,
  /** Vocabulary ids of the timing syscalls (see ModelConfig.timingSyscalls). */
  timing: Uint8Array,
): Profile {
  const counts = new NgramCounts({ vocabSize: vocabularySize, order: countsOrder(config), pad: PAD });
  const sets: TokenSet[] = [];
  let syscalls = 0;
  for (const trace of traces) {
    counts.add(withoutTiming(trace, timing));
    sets.push(TokenSet.of(vocabularySize, trace));
    syscalls += trace.length;
  }
  return {
    program,
    traces: traces.length,
    syscalls,
    counts,
    repertoires: SetNeighbours.fit(vocabularySize, sets),
  };
}

/** A profile as JSON metadata plus typed arrays for the binary file. */
export interface EncodedProfile {
  meta: { program: string | null; traces: number; syscalls: number; grams: number; sets: number };
  gramTokens: Int32Array;
  gramCounts: Float64Array;
  setBits: Uint32Array;
  setSizes: Int32Array;
}

export function encodeProfile(profile: Profile): EncodedProfile {
  const { tokens, counts } = profile.counts.grams();
  const { bits, sizes } = profile.repertoires.toArrays();
  return {
    meta: {
      program: profile.program,
      traces: profile.traces,
      syscalls: profile.syscalls,
      grams: counts.length,
      sets: sizes.length,
    },
    gramTokens: tokens,
    gramCounts: counts,
    setBits: bits,
    setSizes: sizes,
  };
}

export function decodeProfile(
  encoded: EncodedProfile,
  vocabularySize: number,
  config: ModelConfig,
  file: string,
): Profile {
  const what =
    encoded.meta.program === null ? "the global profile" : `the profile of ${encoded.meta.program}`;
  try {
    return {
      program: encoded.meta.program,
      traces: encoded.meta.traces,
      syscalls: encoded.meta.syscalls,
      counts: NgramCounts.fromGrams(
        { vocabSize: vocabularySize, order: countsOrder(config), pad: PAD },
        encoded.gramTokens,
        encoded.gramCounts,
      ),
      repertoires: SetNeighbours.fromArrays(vocabularySize, encoded.setBits, encoded.setSizes),
    };
  } catch (error) {
    throw new ModelFileError(`${what}: ${(error as Error).message}`, { file });
  }
}
