#!/usr/bin/env node
import { Command, CommanderError } from "commander";
import { ThreatlensError } from "../core/errors.ts";
import { registerDemo } from "./demo.ts";
import { registerFleet, registerUi } from "./fleet.ts";
import { registerNetwork } from "./network.ts";
import { registerRansomware } from "./ransomware.ts";
import { registerSyscalls } from "./syscalls.ts";

/** Entry point: exit 0 on success, 1 on failure (bad data, unreadable model), 2 on bad usage. */
const program = new Command()
  .name("threatlens")
  .description("Machine-learning intrusion detection for Linux hosts")
  .version("0.1.0")
  .showHelpAfterError("(run with --help for usage)")
  .exitOverride();

// `threatlens … | head` closes stdout early: that is the reader's choice, not an error worth a stack trace.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(0);
  throw error;
});

registerRansomware(program);
registerSyscalls(program);
registerNetwork(program);
registerFleet(program);
registerUi(program);
registerDemo(program);

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
