import { existsSync } from "node:fs";
import type { Entity } from "../core/stream/detector.ts";
import type { StreamEngine } from "../core/stream/engine.ts";
import type { FleetDetector, LoadedModel } from "../fleet/detectors.ts";
import { ransomwareInput } from "./fleet-input.ts";
import { parseRansomwareModel } from "./model.ts";
import { RansomwareScorer } from "./scorer.ts";
import { eventLogParser } from "./stream.ts";
import { createRansomwareEngine, DEFAULT_RANSOMWARE_MODEL } from "./watch.ts";

/** The ransomware detector in fleet mode: event-log lines shipped by agents, scored by the engine `watch` runs. */
interface RansomwareLoaded extends LoadedModel {
  windowMs: number;
}

export const ransomwareFleet: FleetDetector = {
  ...ransomwareInput,
  loadModel(text, name, ref): RansomwareLoaded {
    const model = parseRansomwareModel(text, name);
    return {
      scorer: new RansomwareScorer(model, ref),
      compatibility: `feature window ${model.windowMs} ms`,
      windowMs: model.windowMs,
    };
  },
  createEngine(options) {
    const engine = createRansomwareEngine({
      windowMs: (options.model as RansomwareLoaded).windowMs,
      hostname: options.hostname,
      scorer: options.scorer,
      sinks: options.sinks,
      ledger: options.ledger,
      onAlert: options.onAlert ? (a) => options.onAlert!(a) : undefined,
    });
    return engine as unknown as StreamEngine<unknown, Entity>;
  },
  parser(sourceName) {
    return eventLogParser({ name: sourceName });
  },
  defaultModel: existsSync(DEFAULT_RANSOMWARE_MODEL) ? DEFAULT_RANSOMWARE_MODEL : undefined,
};
