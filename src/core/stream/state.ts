import {
  appendFileSync,
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { InputError } from "../errors.ts";
import type { AlertLedger } from "./engine.ts";

/**
 * A watch's state directory (`--state DIR`): the latest checkpoint (source position, entity states, open incidents),
 * replaced atomically so that a kill at any moment leaves either the old or the new one, and the ledger of alert ids
 * already written, appended before each alert goes out so that a restart never writes an alert twice.
 */
export const CHECKPOINT_FILE = "checkpoint.json";
export const LEDGER_FILE = "alerts.ids";
const CHECKPOINT_FORMAT = "threatlens-checkpoint";
const CHECKPOINT_VERSION = 1;

export interface Checkpoint<T> {
  format: typeof CHECKPOINT_FORMAT;
  version: number;
  /** What wrote it (detector and model hash): a checkpoint is only resumed by the same detector and model. */
  owner: string;
  writtenAt: string;
  state: T;
}

export class StateDirectory implements AlertLedger {
  private readonly ids = new Set<string>();

  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
    let text = "";
    try {
      text = readFileSync(join(dir, LEDGER_FILE), "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
    for (const line of text.split("\n")) if (line !== "") this.ids.add(line);
  }

  has(id: string): boolean {
    return this.ids.has(id);
  }

  add(id: string): void {
    this.ids.add(id);
    appendFileSync(join(this.dir, LEDGER_FILE), `${id}\n`);
  }

  get alertsWritten(): number {
    return this.ids.size;
  }

  /** The saved checkpoint, or null when there is none; refuses one written by another detector or model. */
  load<T>(owner: string): Checkpoint<T> | null {
    const file = join(this.dir, CHECKPOINT_FILE);
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw new InputError(`cannot read the checkpoint (${(error as NodeJS.ErrnoException).code})`, { file });
    }
    let parsed: Checkpoint<T>;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new InputError("the checkpoint is not valid JSON; remove it to start afresh", { file });
    }
    if (parsed?.format !== CHECKPOINT_FORMAT || parsed.version !== CHECKPOINT_VERSION) {
      throw new InputError(`not a threatlens checkpoint of version ${CHECKPOINT_VERSION}`, { file });
    }
    if (parsed.owner !== owner) {
      throw new InputError(
        `the checkpoint belongs to ${parsed.owner}, not ${owner}: use another --state directory or remove it`,
        { file },
      );
    }
    return parsed;
  }

  /** Writes the checkpoint atomically: a temporary file, flushed to disk, renamed over the old one. */
  save<T>(owner: string, state: T): void {
    const file = join(this.dir, CHECKPOINT_FILE);
    const temporary = `${file}.tmp`;
    const checkpoint: Checkpoint<T> = {
      format: CHECKPOINT_FORMAT,
      version: CHECKPOINT_VERSION,
      owner,
      writtenAt: new Date().toISOString(),
      state,
    };
    const fd = openSync(temporary, "w");
    try {
      writeSync(fd, JSON.stringify(checkpoint));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, file);
  }
}
