import { readFile } from "node:fs/promises";
import { type KV, Kvm } from "@nats-io/kv";
import { Objm } from "@nats-io/obj";
import type { NatsConnection } from "@nats-io/transport-node";
import { artifactIdentity } from "../core/artifact.ts";
import { ModelFileError } from "../core/errors.ts";
import type { ModelRef, Priority, Scorer } from "../core/stream/detector.ts";
import { errorText, FleetError } from "./connection.ts";
import type { FleetDetector, LoadedModel } from "./detectors.ts";
import { FLEET_BUCKET, MODELS_BUCKET, modelObjectName, modelPointerKey } from "./names.ts";
import { fleetDetector } from "./registry.ts";

/**
 * Models in the JetStream object store, one object per version (`<detector>/<n>`), and a pointer per detector in the
 * fleet bucket (`model.<detector>`) naming the current one. Scorers and edge agents watch the pointer and swap the
 * model in place: no restart, entity states kept, and every alert names the version that scored it.
 */
export interface ModelPointer {
  detector: string;
  /** 1, 2, 3… per detector: what alerts carry as `model.version`. */
  version: number;
  object: string;
  /** The pushed file's name (without .json) and checksum. */
  name: string;
  hash: string;
  compatibility: string;
  bytes: number;
  pushedAt: string;
}

export interface PushResult {
  pointer: ModelPointer;
  /** False when the store's current version already was this file. */
  changed: boolean;
}

export async function pushModel(
  nc: NatsConnection,
  detectorKind: string,
  file: string,
  options: { force?: boolean } = {},
): Promise<PushResult> {
  const detector = fleetDetector(detectorKind);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    throw new ModelFileError(`cannot read the model file: ${(error as NodeJS.ErrnoException).code}`, {
      file,
    });
  }
  const identity = artifactIdentity(checkedText(detector, text, file), file);
  const loaded = detector.loadModel(text, file, { ...identity, version: "?" });
  const fleet = await openBucket(nc, FLEET_BUCKET);
  const objects = await new Objm(nc).open(MODELS_BUCKET);
  const key = modelPointerKey(detector.kind);
  for (;;) {
    const entry = await fleet.get(key);
    const current = entry?.operation === "PUT" ? entry.json<ModelPointer>() : null;
    if (current?.hash === identity.hash) return { pointer: current, changed: false };
    if (current && current.compatibility !== loaded.compatibility && !options.force) {
      throw new FleetError(
        `version ${current.version} of the ${detector.kind} model has ${current.compatibility}, this one ${loaded.compatibility}: scorers keep per-entity state across versions, so a new version must match (use --force to publish it anyway; entity states built the old way then score with the new model)`,
      );
    }
    const version = (current?.version ?? 0) + 1;
    const object = modelObjectName(detector.kind, version);
    const bytes = new TextEncoder().encode(text);
    await objects.putBlob(
      { name: object, description: `${identity.name} (${identity.hash})`, metadata: { hash: identity.hash } },
      bytes,
    );
    const pointer: ModelPointer = {
      detector: detector.kind,
      version,
      object,
      name: identity.name,
      hash: identity.hash,
      compatibility: loaded.compatibility,
      bytes: bytes.length,
      pushedAt: new Date().toISOString(),
    };
    try {
      if (entry) await fleet.update(key, JSON.stringify(pointer), entry.revision);
      else await fleet.create(key, JSON.stringify(pointer));
      return { pointer, changed: true };
    } catch (error) {
      // Someone else pushed in between: look again.
      if (!/wrong last sequence|key exists/i.test(errorText(error))) throw error;
    }
  }
}

function checkedText(detector: FleetDetector, text: string, file: string): string {
  // loadModel validates fully; this gives the identity a parseable envelope first.
  try {
    JSON.parse(text);
  } catch {
    throw new ModelFileError(`not a ${detector.kind} model file (not JSON)`, { file });
  }
  return text;
}

/** Every version pushed for a detector, oldest first. */
export async function listModels(nc: NatsConnection, detectorKind: string): Promise<ModelPointer[]> {
  const objects = await new Objm(nc).open(MODELS_BUCKET);
  const current = await currentPointer(nc, detectorKind);
  const infos = (await objects.list()).filter((o) => o.name.startsWith(`${detectorKind}/`) && !o.deleted);
  return infos
    .map((o) => ({
      detector: detectorKind,
      version: Number(o.name.split("/")[1]),
      object: o.name,
      name: o.description?.replace(/ \(.*\)$/, "") ?? "",
      hash: o.metadata?.hash ?? "",
      compatibility: current?.version === Number(o.name.split("/")[1]) ? current.compatibility : "",
      bytes: o.size,
      pushedAt: o.mtime,
    }))
    .sort((a, b) => a.version - b.version);
}

export async function currentPointer(nc: NatsConnection, detectorKind: string): Promise<ModelPointer | null> {
  const fleet = await openBucket(nc, FLEET_BUCKET);
  const entry = await fleet.get(modelPointerKey(detectorKind));
  return entry?.operation === "PUT" ? entry.json<ModelPointer>() : null;
}

/** A version fetched and validated, ready to score. */
export interface FetchedModel {
  pointer: ModelPointer;
  loaded: LoadedModel;
  /** The model file's text (edge agents keep a copy to start without the server). */
  text: string;
}

export async function fetchModel(nc: NatsConnection, pointer: ModelPointer): Promise<FetchedModel> {
  const objects = await new Objm(nc).open(MODELS_BUCKET);
  const bytes = await objects.getBlob(pointer.object);
  if (bytes === null) throw new FleetError(`model object ${pointer.object} is missing from the store`);
  const text = new TextDecoder().decode(bytes);
  return { pointer, loaded: loadPointed(pointer, text), text };
}

/** Loads a model's text as the version a pointer names (alerts carry that version). */
export function loadPointed(pointer: ModelPointer, text: string): LoadedModel {
  const detector = fleetDetector(pointer.detector);
  const identity = artifactIdentity(text, `${pointer.name}.json`);
  if (identity.hash !== pointer.hash) {
    throw new ModelFileError(`checksum ${identity.hash} differs from the pointer's ${pointer.hash}`, {
      file: pointer.object,
    });
  }
  return detector.loadModel(text, pointer.object, {
    name: pointer.name,
    version: String(pointer.version),
    hash: pointer.hash,
  });
}

/**
 * Calls `onModel` with the current version of each detector, then with every version pushed later, until `signal`
 * aborts. A version that fails to load is reported and skipped: the previous one keeps scoring.
 */
export async function watchModels(
  nc: NatsConnection,
  onModel: (model: FetchedModel) => void,
  onError: (message: string) => void,
  signal: AbortSignal,
): Promise<void> {
  const fleet = await openBucket(nc, FLEET_BUCKET);
  const watcher = await fleet.watch({ key: modelPointerKey("*") });
  signal.addEventListener("abort", () => watcher.stop(), { once: true });
  for await (const entry of watcher) {
    if (entry.operation !== "PUT") continue;
    const pointer = entry.json<ModelPointer>();
    try {
      onModel(await fetchModel(nc, pointer));
    } catch (error) {
      onError(`cannot use ${pointer.detector} model version ${pointer.version}: ${errorText(error)}`);
    }
  }
}

export async function openBucket(nc: NatsConnection, bucket: string): Promise<KV> {
  try {
    return await new Kvm(nc).open(bucket, { bindOnly: true });
  } catch (error) {
    throw new FleetError(
      `the fleet's ${bucket} bucket is missing (${errorText(error)}): run \`threatlens fleet init\` first`,
    );
  }
}

/**
 * The engine's scorer, pointing at whichever model version is current. The engine reads `threshold` and `model` at
 * every scoring, so swapping the model here takes effect at the next record; alerts name the version that scored them.
 */
export class ModelSlot implements Scorer {
  private current: LoadedModel | null = null;
  version = 0;

  constructor(readonly detector: string) {}

  get ready(): boolean {
    return this.current !== null;
  }

  get loaded(): LoadedModel {
    if (this.current === null) throw new Error(`no ${this.detector} model yet`);
    return this.current;
  }

  /** Takes a new version; false (and nothing changes) when its feature configuration differs from the current. */
  set(model: LoadedModel, version: number): boolean {
    if (this.current !== null && this.current.compatibility !== model.compatibility) return false;
    this.current = model;
    this.version = version;
    return true;
  }

  get threshold(): number {
    return this.loaded.scorer.threshold;
  }

  get model(): ModelRef {
    return this.loaded.scorer.model;
  }

  score(features: Float64Array): number {
    return this.loaded.scorer.score(features);
  }

  priority(score: number): Priority {
    return this.loaded.scorer.priority(score);
  }

  explain(features: Float64Array, top: number): { feature: string; value: number; weight: number }[] {
    return this.loaded.scorer.explain?.(features, top) ?? [];
  }
}
