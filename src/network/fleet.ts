import { existsSync } from "node:fs";
import { ModelFileError, UsageError } from "../core/errors.ts";
import type { Entity } from "../core/stream/detector.ts";
import type { StreamEngine } from "../core/stream/engine.ts";
import type { FleetDetector, LoadedModel } from "../fleet/detectors.ts";
import { networkInput } from "./fleet-input.ts";
import { type FlowModel, NetworkScorer, networkFlowModel } from "./live/scorer.ts";
import { checkLiveModel, createNetworkEngine, DEFAULT_NETWORK_MODEL } from "./live/watch.ts";
import { isKitnet, parseNetworkModel } from "./model.ts";
import { PacketLineParser } from "./packet-lines.ts";

interface NetworkLoaded extends LoadedModel {
  flowModel: FlowModel;
}

/**
 * The network detector in fleet mode: agents ship packets as lines (capture files, a live interface), scorers rebuild
 * the packets and run the engine `network watch` runs, flow table and context included, per host.
 */
export const networkFleet: FleetDetector = {
  ...networkInput,
  loadModel(text, name, ref): NetworkLoaded {
    const model = parseNetworkModel(text, name);
    try {
      checkLiveModel(model, name);
    } catch (error) {
      if (error instanceof UsageError) throw new ModelFileError(error.message, { file: name });
      throw error;
    }
    const flowModel = networkFlowModel(model);
    return {
      scorer: new NetworkScorer(flowModel, ref),
      flowModel,
      // Flow tables and subjects keep no model output but their flags; the score's scale sets the policy's release.
      compatibility: `${isKitnet(model) ? "anomaly" : "probability"} scores of flow features`,
    };
  },
  createEngine(options) {
    const engine = createNetworkEngine({
      flowModel: (options.model as NetworkLoaded).flowModel,
      scorer: options.scorer,
      hostname: options.hostname,
      sinks: options.sinks,
      ledger: options.ledger,
      onAlert: options.onAlert,
    });
    return engine as unknown as StreamEngine<unknown, Entity>;
  },
  parser(sourceName) {
    return new PacketLineParser(sourceName);
  },
  defaultModel: existsSync(DEFAULT_NETWORK_MODEL) ? DEFAULT_NETWORK_MODEL : undefined,
};
