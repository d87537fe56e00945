#!/usr/bin/env node
import { Command, CommanderError, Help } from "commander";
import { ThreatlensError } from "../core/errors.ts";

/** Entry point: exit 0 on success, 1 on failure (bad data, unreadable model), 2 on bad usage. */
const program = new Command()
  .name("threatlens")
  .description("Machine-learning intrusion detection for Linux hosts")
  .version("0.1.0")
  .showHelpAfterError("(run with --help for usage)")
  .configureHelp({
    // Commander lists required options like any other: say which ones a command cannot run without.
    optionDescription: (option) => {
      const text = new Help().optionDescription(option);
      return option.mandatory ? `${text} (required)` : text;
    },
  })
  .exitOverride();

// `threatlens … | head` closes stdout early: that is the reader's choice, not an error worth a stack trace.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(0);
  throw error;
});

/**
 * Each command group's module (and what it imports) is loaded only when that group runs, so that a command starts
 * in the time Node itself needs (`network flows` at line rate counts its start-up); help and unknown commands load
 * them all.
 */
const groups: Record<string, () => Promise<(program: Command) => void>> = {
  ransomware: async () => (await import("./ransomware.ts")).registerRansomware,
  syscalls: async () => (await import("./syscalls.ts")).registerSyscalls,
  network: async () => (await import("./network.ts")).registerNetwork,
  collect: async () => (await import("./collect.ts")).registerCollect,
  fleet: async () => (await import("./fleet.ts")).registerFleet,
  ui: async () => (await import("./fleet.ts")).registerUi,
  demo: async () => (await import("./demo.ts")).registerDemo,
};
const named = process.argv[2];
for (const [name, load] of Object.entries(groups)) {
  if (named === undefined || !(named in groups) || named === name) (await load())(program);
}

try {
  await program.parseAsync(process.argv);
} catch (error) {
  process.exitCode = exitCodeFor(error);
}

function exitCodeFor(error: unknown): number {
  if (error instanceof CommanderError) {
    // Commander has already printed its message (or the help text).
    return error.exitCode === 0 ? 0 : 2;
  }
  if (error instanceof ThreatlensError) {
    process.stderr.write(`threatlens: ${error.message}\n`);
    return error.exitCode;
  }
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`threatlens: unexpected error: ${message}\n`);
  if (process.env.THREATLENS_DEBUG && error instanceof Error) process.stderr.write(`${error.stack}\n`);
  else process.stderr.write("(set THREATLENS_DEBUG=1 for details; please report this as a bug)\n");
  return 1;
}
