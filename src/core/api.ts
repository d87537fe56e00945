/**
 * What every detector shares, as public API (`import { core } from "threatlens"`): the streaming engine and its
 * parts (detectors plug into it; sources, sinks, checkpoints, responses), the alert format, errors and progress.
 */

export { InputError, ModelFileError, ThreatlensError, UsageError } from "./errors.ts";
export { createProgress, type Progress, type ProgressOptions } from "./progress.ts";
export * from "./stream/index.ts";
