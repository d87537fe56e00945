/**
 * Errors that reach the user. The CLI prints `message` (never a stack) and exits with `exitCode`:
 * 1 for bad input or a failed run, 2 for bad usage.
 */
export interface ErrorLocation {
  file?: string;
  /** 1-based line number in `file`. */
  line?: number;
  /** Byte offset in `file`, for binary formats. */
  offset?: number;
}

export class ThreatlensError extends Error {
  readonly exitCode: number = 1;
  readonly location: ErrorLocation;

  constructor(message: string, location: ErrorLocation = {}) {
    super(formatLocated(message, location));
    this.name = new.target.name;
    this.location = location;
  }
}

/** Malformed or inconsistent input data (a CSV row, a capture, a model file). */
export class InputError extends ThreatlensError {}

/** A model file that is corrupted, truncated, of another kind or of an unsupported version. */
export class ModelFileError extends ThreatlensError {}

/** Wrong command-line usage: unknown option, missing argument, contradictory flags. */
export class UsageError extends ThreatlensError {
  override readonly exitCode = 2;
}

export function formatLocated(message: string, { file, line, offset }: ErrorLocation): string {
  if (file === undefined) return message;
  let where = file;
  if (line !== undefined) where += `:${line}`;
  if (offset !== undefined) where += ` (byte offset ${offset})`;
  return `${where}: ${message}`;
}
