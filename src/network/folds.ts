import { UsageError } from "../core/errors.ts";
import { type Fold, groupLabelKFold, leaveOneGroupOut, stratifiedKFold } from "../core/folds.ts";
import type { FlowDataset } from "./dataset.ts";
import type { NetworkGridConfig } from "./grid-config.ts";

/** What the supervised and the anomaly trainers share: their folds and the training record of the model file. */

/** Capture sources of the flows (manifest `source` column), or null when the inputs have none. */
export function sourcesOf(data: FlowDataset): string[] | null {
  if (data.sources.length !== data.rows.length || data.sources.some((s) => s === "")) return null;
  return data.sources;
}

export function makeFolds(
  data: FlowDataset & { y: Uint8Array },
  config: Pick<NetworkGridConfig, "cv" | "folds" | "seed">,
): Fold[] {
  if (config.cv === "stratified") return stratifiedKFold(data.y, config.folds, config.seed);
  if (config.cv === "source") {
    const sources = sourcesOf(data);
    if (sources === null) {
      throw new UsageError(
        "--cv source needs a manifest with a source column naming every input's origin (../shared/data/pcaps/manifest.tsv has one)",
      );
    }
    return leaveOneGroupOut(sources);
  }
  const captures = new Set(data.groups).size;
  if (captures < config.folds) {
    throw new UsageError(
      `grouped ${config.folds}-fold cross-validation needs at least ${config.folds} captures, the inputs have ${captures}; lower --folds or use --cv stratified`,
    );
  }
  return groupLabelKFold(data.y, data.groups, config.folds, config.seed);
}

/** What a model was trained on, as the model file records it. */
export function trainingSummary(
  data: FlowDataset,
  malicious: number,
  config: Pick<NetworkGridConfig, "maxFlowsPerCapture">,
  inputs: string[],
) {
  return {
    flows: data.rows.length,
    malicious,
    captures: new Set(data.groups).size,
    flowsBeforeCap: data.inputs.reduce((a, i) => a + i.flows, 0),
    maxFlowsPerCapture: config.maxFlowsPerCapture,
    ambiguousExcluded: data.ambiguous,
    nonFiniteDropped: data.nonFinite,
    cutExcluded: data.cutExcluded,
    inputs,
  };
}
