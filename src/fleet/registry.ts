import { UsageError } from "../core/errors.ts";
import { networkFleet } from "../network/fleet.ts";
import { ransomwareFleet } from "../ransomware/fleet.ts";
import type { FleetDetector } from "./detectors.ts";

/**
 * The detectors fleet mode runs. Adding one is a line here plus its FleetDetector (see src/ransomware/fleet.ts):
 * `fleet init` then creates its consumers, scorers score it, agents ship it.
 */
export const FLEET_DETECTORS: readonly FleetDetector[] = [ransomwareFleet, networkFleet];

export function fleetDetector(kind: string): FleetDetector {
  const found = FLEET_DETECTORS.find((d) => d.kind === kind);
  if (!found) {
    throw new UsageError(
      `fleet mode has no detector "${kind}" (available: ${FLEET_DETECTORS.map((d) => d.kind).join(", ")})`,
    );
  }
  return found;
}
