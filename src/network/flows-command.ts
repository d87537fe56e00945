import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { UsageError } from "../core/errors.ts";
import type { Progress } from "../core/progress.ts";
import { formatCaptureWarning } from "./capture/types.ts";
import { type WriteFlowsSummary, writeFlowsForCaptures } from "./captures.ts";
import type { FlowTimeouts } from "./flows/table.ts";

/**
 * `threatlens network flows`: kept apart from the rest of the pipeline so that the command loads only the capture
 * and flow modules (no model, report or worker-pool code) and starts fast.
 */
/** FlowMeter's port-name table beside the package, where the shared data lives in development and CI. */
export const DEFAULT_PORT_NAMES = join(
  fileURLToPath(new URL("../../", import.meta.url)),
  "..",
  "shared",
  "data",
  "flowmeter",
  "port_names.json",
);

export function resolvePortNames(option: string | undefined): string {
  if (option !== undefined) return option;
  if (existsSync(DEFAULT_PORT_NAMES)) return DEFAULT_PORT_NAMES;
  throw new UsageError(
    `FlowMeter compatibility needs gopacket's port-name table: pass --port-names FILE (port_names.json, or gopacket's layers/iana_ports.go); ${DEFAULT_PORT_NAMES} does not exist`,
  );
}

export interface FlowsCommandOptions {
  output: string;
  context?: boolean;
  flowmeterCompat?: boolean;
  portNames?: string;
  timeouts?: Partial<FlowTimeouts>;
}

export async function flowsCommand(
  captures: string[],
  options: FlowsCommandOptions,
  progress: Progress,
): Promise<WriteFlowsSummary> {
  let current = -1;
  const summary = await writeFlowsForCaptures(captures, options.output, {
    ...options.timeouts,
    flowmeterCompat: options.flowmeterCompat,
    withContext: options.context,
    portNamesPath: options.flowmeterCompat ? resolvePortNames(options.portNames) : undefined,
    onWarning: (w) => progress.info(`warning: ${formatCaptureWarning(w)}`),
    onProgress: (p) => {
      if (p.captureIndex !== current) {
        current = p.captureIndex;
        progress.start(
          `capture ${p.captureIndex + 1}/${captures.length}`,
          Math.ceil(p.bytesTotal / 1048576),
          "MiB",
        );
      }
      progress.update(Math.floor(p.bytesRead / 1048576));
    },
  });
  progress.stop();
  return summary;
}
