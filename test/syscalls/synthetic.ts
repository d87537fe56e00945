import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { randomInt, seededRandom } from "../../src/core/random.ts";

/**
 * Generated syscall traces for fast tests: normal traces chain a few "program" motifs (file reads, a poll loop,
 * memory set-up); attack traces are normal traces with a foreign motif (a reverse shell: socket, connect, dup2,
 * execve) spliced in. Written as plain syscall-name files; attack files go under Attack_Data_Master/<Type>_1/ so
 * that they carry an attack type as ADFA-LD's do.
 */
const MOTIFS = [
  ["open", "fstat", "read", "read", "close"],
  ["poll", "read", "write", "poll", "read", "write"],
  ["brk", "mmap", "mprotect", "munmap"],
  ["stat", "open", "getdents", "getdents", "close"],
  ["gettimeofday", "poll", "recvfrom", "sendto"],
];
const ATTACKS: Record<string, string[]> = {
  Shell: ["socket", "connect", "dup2", "dup2", "dup2", "execve", "setuid"],
  Adduser: ["setuid", "open", "lseek", "write", "chmod", "chown", "rename"],
};

export function normalTrace(random: () => number, length = 60): string[] {
  const out: string[] = ["execve", "brk"];
  while (out.length < length) out.push(...MOTIFS[randomInt(random, MOTIFS.length)]);
  return out;
}

export function attackTrace(random: () => number, type: string, length = 60): string[] {
  const trace = normalTrace(random, length);
  const at = randomInt(random, trace.length);
  trace.splice(at, 0, ...ATTACKS[type], ...ATTACKS[type]);
  return trace;
}

export interface SyntheticData {
  train: string;
  validation: string;
  attack: string;
}

/** Writes train/ and validation/ (normal) and attack/Attack_Data_Master/<Type>_1/ below `dir`. */
export async function writeSyntheticTraces(
  dir: string,
  seed: number,
  counts = { train: 40, validation: 30, attack: 12 },
): Promise<SyntheticData> {
  const random = seededRandom(seed);
  const data = {
    train: join(dir, "train"),
    validation: join(dir, "validation"),
    attack: join(dir, "attack"),
  };
  const write = async (folder: string, name: string, names: string[]) => {
    await mkdir(folder, { recursive: true });
    await writeFile(join(folder, name), `${names.join(" ")}\n`);
  };
  for (let i = 0; i < counts.train; i++) await write(data.train, `n${i}.txt`, normalTrace(random));
  for (let i = 0; i < counts.validation; i++) await write(data.validation, `v${i}.txt`, normalTrace(random));
  const types = Object.keys(ATTACKS);
  for (let i = 0; i < counts.attack; i++) {
    const type = types[i % types.length];
    await write(join(data.attack, "Attack_Data_Master", `${type}_1`), `a${i}.txt`, attackTrace(random, type));
  }
  return data;
}

/**
 * A detector config for the synthetic sets: sessions of 4 traces (so 40 training traces make 10 sessions), and an
 * autoencoder that trains in about a second when a test adds it to the signals.
 */
export const TINY_CONFIG = {
  sessionLength: 4,
  windowLength: 5,
  embeddingDim: 4,
  hiddenLayers: [16],
  latentDim: 4,
  batchSize: 64,
  epochs: 2,
  learningRate: 0.01,
  heldOutFraction: 0.25,
};

/** TINY_CONFIG with the autoencoder as a fourth signal. */
export const TINY_AUTOENCODER_CONFIG = {
  ...TINY_CONFIG,
  signals: ["ngram", "novelty", "repertoire", "autoencoder"],
};
