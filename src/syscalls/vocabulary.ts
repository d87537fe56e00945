import { ModelFileError, UsageError } from "../core/errors.ts";

export const PAD = 0;
export const UNKNOWN = 1;
const RESERVED = ["<pad>", "<unk>"] as const;
const FORMAT = "threatlens-syscall-vocabulary";
const VERSION = 1;

export interface VocabularyOptions {
  /**
   * Names seen fewer than `minCount` times in training are left out and encode as `<unk>` (default 1: keep all).
   * Without rare names mapped to `<unk>` during training, the model never sees index 1 and its response to a syscall
   * unseen in training — precisely what an attack may bring — is whatever the untrained weights give; with them, it
   * learns that `<unk>` is rare, so unknown syscalls raise the anomaly score the way rare ones do.
   */
  minCount?: number;
}

export interface VocabularyJSON {
  format: typeof FORMAT;
  version: typeof VERSION;
  minCount: number;
  /** Kept names in index order (index 2 onwards) and their training counts. */
  names: string[];
  counts: number[];
}

/**
 * Maps syscall names to the integer ids a model consumes. Index 0 is padding (windows of short traces), 1 is
 * `<unk>`, then the training names by descending count, ties by name in code-unit order, so the same training
 * traces give the same ids on every machine and locale.
 */
export class Vocabulary {
  readonly minCount: number;
  /** Kept names in index order, from index 2. */
  readonly names: readonly string[];
  readonly counts: readonly number[];
  private readonly index = new Map<string, number>();

  private constructor(names: string[], counts: number[], minCount: number) {
    this.names = names;
    this.counts = counts;
    this.minCount = minCount;
    for (const [i, name] of names.entries()) this.index.set(name, i + RESERVED.length);
  }

  static fit(traces: Iterable<readonly string[]>, options: VocabularyOptions = {}): Vocabulary {
    const minCount = options.minCount ?? 1;
    if (!Number.isInteger(minCount) || minCount < 1)
      throw new UsageError(`minCount must be an integer ≥ 1, got ${minCount}`);
    const counts = new Map<string, number>();
    for (const names of traces) for (const name of names) counts.set(name, (counts.get(name) ?? 0) + 1);
    const kept = [...counts].filter(([, count]) => count >= minCount);
    kept.sort(([a, ca], [b, cb]) => cb - ca || (a < b ? -1 : a > b ? 1 : 0));
    return new Vocabulary(
      kept.map(([name]) => name),
      kept.map(([, count]) => count),
      minCount,
    );
  }

  /** Number of ids, padding and `<unk>` included: the input dimension of an embedding or one-hot layer. */
  get size(): number {
    return this.names.length + RESERVED.length;
  }

  indexOf(name: string): number {
    return this.index.get(name) ?? UNKNOWN;
  }

  /** The name of an id: `<pad>`, `<unk>` or a syscall name. */
  nameOf(index: number): string {
    if (!Number.isInteger(index) || index < 0 || index >= this.size) throw new RangeError(`no id ${index}`);
    return index < RESERVED.length ? RESERVED[index] : this.names[index - RESERVED.length];
  }

  encode(names: readonly string[]): Int32Array {
    const out = new Int32Array(names.length);
    for (let i = 0; i < names.length; i++) out[i] = this.index.get(names[i]) ?? UNKNOWN;
    return out;
  }

  /** One flag per id: 1 for the ids of those of `names` that are in the vocabulary. */
  flags(names: readonly string[]): Uint8Array {
    const out = new Uint8Array(this.size);
    for (const name of names) {
      const id = this.index.get(name);
      if (id !== undefined) out[id] = 1;
    }
    return out;
  }

  /** How many of `names` encode as `<unk>`. */
  unknownCount(names: readonly string[]): number {
    let unknown = 0;
    for (const name of names) if (!this.index.has(name)) unknown++;
    return unknown;
  }

  toJSON(): VocabularyJSON {
    return {
      format: FORMAT,
      version: VERSION,
      minCount: this.minCount,
      names: [...this.names],
      counts: [...this.counts],
    };
  }

  /** Rebuilds a vocabulary saved with toJSON; `file` locates errors. */
  static fromJSON(value: unknown, file?: string): Vocabulary {
    const fail = (why: string): never => {
      throw new ModelFileError(`invalid syscall vocabulary: ${why}`, { file });
    };
    if (typeof value !== "object" || value === null) return fail("not an object");
    const json = value as Partial<Record<keyof VocabularyJSON, unknown>>;
    if (json.format !== FORMAT) return fail(`format is ${JSON.stringify(json.format)}, expected "${FORMAT}"`);
    if (json.version !== VERSION) return fail(`unsupported version ${JSON.stringify(json.version)}`);
    const { minCount, names, counts } = json;
    if (!Number.isInteger(minCount) || (minCount as number) < 1)
      return fail("minCount must be an integer ≥ 1");
    if (!Array.isArray(names) || !Array.isArray(counts)) return fail("names and counts must be arrays");
    if (names.length !== counts.length) return fail(`${names.length} names but ${counts.length} counts`);
    const unique = new Set<string>();
    names.forEach((name, i) => {
      if (typeof name !== "string" || name === "" || (RESERVED as readonly string[]).includes(name)) {
        fail(`names[${i}] is not a syscall name`);
      }
      if (unique.has(name)) fail(`names[${i}] "${name}" appears twice`);
      unique.add(name);
      if (!Number.isInteger(counts[i]) || counts[i] < (minCount as number)) {
        fail(`counts[${i}] must be an integer ≥ minCount`);
      }
    });
    return new Vocabulary(names as string[], counts as number[], minCount as number);
  }
}
