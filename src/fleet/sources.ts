import { closeSync, openSync, readSync } from "node:fs";
import type { Readable } from "node:stream";
import { InputError, UsageError } from "../core/errors.ts";
import { FileLineSource, type LineSource, StreamLineSource } from "../core/stream/line-sources.ts";
import type { FleetInput } from "./detectors.ts";

/** What an agent reads: files to their end, a file followed as it grows, or a stream (stdin, a collector). */
export type AgentInput =
  | { kind: "files"; paths: string[] }
  | { kind: "follow"; path: string }
  | { kind: "stdin" }
  | { kind: "stream"; stream: Readable; name: string };

export function inputSources(
  input: AgentInput,
  detector: FleetInput,
  options: { snaplen?: number } = {},
): LineSource[] {
  if (detector.sources) return detector.sources(input, options);
  switch (input.kind) {
    case "files":
      if (input.paths.length === 0) throw new UsageError("no input: give files, --follow LOG or -");
      for (const path of input.paths) checkFirstLine(path, detector);
      return input.paths.map((p) => new FileLineSource(p));
    case "follow":
      // Appends are read at most every 40 ms: batches wait up to the linger time anyway, and it spares the host CPU.
      return [new FileLineSource(input.path, { follow: true, settleMs: 40 })];
    case "stdin":
      return [new StreamLineSource(process.stdin, { name: "stdin" })];
    case "stream":
      return [new StreamLineSource(input.stream, { name: input.name })];
  }
}

/** Refuses a file that is not this detector's input before anything of it is shipped. */
function checkFirstLine(path: string, detector: FleetInput): void {
  const head = readHead(path, 65536);
  const text = head.toString("utf8");
  const newline = text.indexOf("\n");
  const first = (newline < 0 ? text : text.slice(0, newline)).replace(/\r$/, "");
  if (head.length === 0) throw new InputError("the file is empty", { file: path, line: 1 });
  const problem = detector.checkFirstLine(first);
  if (problem)
    throw new InputError(`${problem}, found ${JSON.stringify(first.slice(0, 120))}`, { file: path, line: 1 });
}

/** The first `bytes` bytes of a file (fewer if it is shorter), for checking an input before anything is shipped. */
export function readHead(path: string, bytes: number): Buffer {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new InputError(code === "ENOENT" ? "no such file" : `cannot read (${code})`, { file: path });
  }
  const buffer = Buffer.alloc(bytes);
  try {
    return buffer.subarray(0, readSync(fd, buffer, 0, bytes, 0));
  } catch (error) {
    throw new InputError(`cannot read (${(error as NodeJS.ErrnoException).code})`, { file: path });
  } finally {
    closeSync(fd);
  }
}
