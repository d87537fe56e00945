import { UsageError } from "../core/errors.ts";
import { networkInput } from "../network/fleet-input.ts";
import { ransomwareInput } from "../ransomware/fleet-input.ts";
import type { FleetInput } from "./detectors.ts";

/** The inputs agents can ship, one per detector in registry.ts (a thin agent loads only these). */
export const FLEET_INPUTS: readonly FleetInput[] = [ransomwareInput, networkInput];

export function fleetInput(kind: string): FleetInput {
  const found = FLEET_INPUTS.find((d) => d.kind === kind);
  if (!found) {
    throw new UsageError(
      `fleet mode has no detector "${kind}" (available: ${FLEET_INPUTS.map((d) => d.kind).join(", ")})`,
    );
  }
  return found;
}
