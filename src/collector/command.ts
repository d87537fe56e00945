import { type ChildProcess, spawn } from "node:child_process";
import type { Writable } from "node:stream";
import { UsageError } from "../core/errors.ts";
import { findExecutable } from "./environment.ts";
import type { CommandStdio } from "./scope.ts";

/** The environment a started command gets: its own, or the collector's with `path` as PATH. */
export function commandEnv(env: NodeJS.ProcessEnv | undefined, path: string | undefined): NodeJS.ProcessEnv {
  return env ?? (path === undefined ? process.env : { ...process.env, PATH: path });
}

/** A UsageError unless `argv` names a command that can be found. */
export function checkCommand(argv: readonly string[], env: NodeJS.ProcessEnv): void {
  if (argv.length === 0) throw new UsageError("expected a command after --");
  if (findExecutable(argv[0], env.PATH) === null) throw new UsageError(`command not found: ${argv[0]}`);
}

export interface CommandExit {
  exitCode: number | null;
  signal: string | null;
}

/**
 * A command started behind a gate: a shell that waits for one line on fd 3 before it execs the command, so that
 * its process exists (and can be put in the traced tree) before the tracer is ready, yet runs nothing untraced.
 * Closing the gate without the line makes the shell exit with status 126 instead.
 */
export class GatedCommand {
  readonly child: ChildProcess;
  readonly exited: Promise<CommandExit>;
  private readonly gate: Writable;
  private opened = false;

  constructor(
    argv: readonly string[],
    options: { cwd?: string; env?: NodeJS.ProcessEnv; stdio?: CommandStdio } = {},
  ) {
    const env = options.env ?? process.env;
    checkCommand(argv, env);
    const [stdin, stdout, stderr] = options.stdio ?? ["inherit", "inherit", "inherit"];
    this.child = spawn(
      "/bin/sh",
      ["-c", 'IFS= read -r _ <&3 || exit 126; exec 3<&-; exec "$@"', "threatlens-gate", ...argv],
      {
        cwd: options.cwd,
        env,
        stdio: [stdin, stdout, stderr, "pipe"],
      },
    );
    this.gate = this.child.stdio[3] as Writable;
    // The gate pipe can break if the shell dies first; its exit status tells what happened.
    this.gate.on("error", () => {});
    this.exited = new Promise((resolve, reject) => {
      this.child.once("error", (error) =>
        reject(new UsageError(`cannot start ${argv[0]}: ${error.message}`)),
      );
      this.child.once("exit", (exitCode, signal) => resolve({ exitCode, signal }));
    });
    this.exited.catch(() => {});
  }

  get pid(): number {
    if (this.child.pid === undefined) throw new UsageError("the command did not start");
    return this.child.pid;
  }

  /** Lets the command run. */
  open(): void {
    if (this.opened) return;
    this.opened = true;
    this.gate.end("go\n");
  }

  /** Never lets it run (the tracer failed). */
  abort(): void {
    if (this.opened) return;
    this.opened = true;
    this.gate.end();
  }
}
