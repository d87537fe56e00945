import { createHash } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import type { z } from "zod";
import { ModelFileError } from "./errors.ts";

/**
 * Model files are data, not code: a JSON envelope naming the format, the kind of model and its version, with a
 * SHA-256 checksum of the payload so that corruption and hand edits are caught before any field is trusted. The
 * payload is then validated against the kind's schema.
 */
export const ARTIFACT_FORMAT = "threatlens-model";

export interface ArtifactEnvelope<T> {
  format: typeof ARTIFACT_FORMAT;
  kind: string;
  version: number;
  createdAt: string;
  tool: string;
  checksum: string;
  payload: T;
}

export interface ArtifactSpec<T> {
  kind: string;
  version: number;
  schema: z.ZodType<T>;
}

export function checksumOf(payload: unknown): string {
  return `sha256:${createHash("sha256").update(JSON.stringify(payload)).digest("hex")}`;
}

export function serializeArtifact<T>(spec: ArtifactSpec<T>, payload: T, tool = "threatlens"): string {
  const envelope: ArtifactEnvelope<T> = {
    format: ARTIFACT_FORMAT,
    kind: spec.kind,
    version: spec.version,
    createdAt: new Date().toISOString(),
    tool,
    checksum: checksumOf(payload),
    payload,
  };
  return JSON.stringify(envelope);
}

export async function writeArtifact<T>(path: string, spec: ArtifactSpec<T>, payload: T): Promise<void> {
  await writeFile(path, serializeArtifact(spec, payload));
}

export async function readArtifact<T>(path: string, spec: ArtifactSpec<T>): Promise<T> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new ModelFileError(`cannot read the model file: ${(error as Error).message}`, { file: path });
  }
  return parseArtifact(text, spec, path);
}

export function parseArtifact<T>(text: string, spec: ArtifactSpec<T>, file: string): T {
  let envelope: Partial<ArtifactEnvelope<unknown>>;
  try {
    envelope = JSON.parse(text);
  } catch (error) {
    const hint = text.length === 0 ? "the file is empty" : "it may be truncated or corrupted";
    throw new ModelFileError(`not a valid JSON model file (${hint}): ${(error as Error).message}`, { file });
  }
  if (envelope === null || typeof envelope !== "object" || envelope.format !== ARTIFACT_FORMAT) {
    throw new ModelFileError(`not a threatlens model file (expected "format": "${ARTIFACT_FORMAT}")`, {
      file,
    });
  }
  if (envelope.kind !== spec.kind) {
    throw new ModelFileError(`this is a "${envelope.kind}" model; expected a "${spec.kind}" model`, { file });
  }
  if (envelope.version !== spec.version) {
    throw new ModelFileError(
      `model file version ${envelope.version} is not supported by this threatlens (it reads version ${spec.version}); retrain the model`,
      { file },
    );
  }
  if (typeof envelope.checksum !== "string" || envelope.checksum !== checksumOf(envelope.payload)) {
    throw new ModelFileError(
      `checksum mismatch: the model file was modified or corrupted after it was written`,
      {
        file,
      },
    );
  }
  const parsed = spec.schema.safeParse(envelope.payload);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ModelFileError(`invalid model: ${issue.path.join(".") || "payload"}: ${issue.message}`, {
      file,
    });
  }
  return parsed.data;
}
