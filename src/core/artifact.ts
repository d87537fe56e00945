import { createHash } from "node:crypto";
import { mkdir, readFile, rename, stat, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { z } from "zod";
import { ModelFileError, UsageError } from "./errors.ts";

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
  // JSON turns NaN and Infinity into null: refuse to write what could not be read back.
  const checked = spec.schema.safeParse(payload);
  if (!checked.success) {
    const issue = checked.error.issues[0];
    throw new Error(
      `refusing to write an invalid ${spec.kind} model: ${issue.path.join(".")}: ${issue.message}`,
    );
  }
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

/** Who a model is, for alerts: its file name, when it was made (its version unless it names one) and checksum. */
export interface ArtifactIdentity {
  name: string;
  version: string;
  hash: string;
}

/** The identity of a model file written by `writeArtifact` (read after the file has been validated). */
export async function readArtifactIdentity(path: string): Promise<ArtifactIdentity> {
  return artifactIdentity(await readFile(path, "utf8"), path);
}

/** The identity of a model from its file's text (already validated) and the name it was stored under. */
export function artifactIdentity(text: string, path: string): ArtifactIdentity {
  const envelope = JSON.parse(text) as ArtifactEnvelope<{ modelVersion?: unknown }>;
  const label = envelope.payload?.modelVersion;
  return {
    name: basename(path).replace(/\.json$/, ""),
    version: typeof label === "string" ? label : envelope.createdAt,
    hash: envelope.checksum,
  };
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

/**
 * Model directories: the versioned JSON envelope above (`model.json`) plus one binary file (`weights.bin`) for
 * payloads too large for JSON, such as network weights. The binary's length and SHA-256 sit in the envelope's
 * payload, under the checksum, so a truncated, corrupted or swapped binary is refused before any weight is used.
 */
export const DIRECTORY_METADATA_FILE = "model.json";
export const DIRECTORY_BINARY_FILE = "weights.bin";

export interface BinaryManifest {
  file: string;
  byteLength: number;
  sha256: string;
}

const binaryManifestSchema = z.object({
  file: z.string().min(1),
  byteLength: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
});

interface DirectoryPayload<T> {
  binary: BinaryManifest;
  model: T;
}

function directorySpec<T>(spec: ArtifactSpec<T>): ArtifactSpec<DirectoryPayload<T>> {
  return {
    kind: spec.kind,
    version: spec.version,
    schema: z.object({ binary: binaryManifestSchema, model: spec.schema }) as unknown as z.ZodType<
      DirectoryPayload<T>
    >,
  };
}

/**
 * Writes `dir/model.json` and `dir/weights.bin`. Each file is written under a temporary name and renamed, binary
 * first, so that a reader (or an overwritten best model in a running search) never sees a half-written pair that
 * passes the checks.
 */
export async function writeArtifactDirectory<T>(
  dir: string,
  spec: ArtifactSpec<T>,
  payload: T,
  binary: Uint8Array,
): Promise<void> {
  await mkdir(dir, { recursive: true });
  const manifest: BinaryManifest = {
    file: DIRECTORY_BINARY_FILE,
    byteLength: binary.length,
    sha256: createHash("sha256").update(binary).digest("hex"),
  };
  const binaryPath = join(dir, DIRECTORY_BINARY_FILE);
  const metaPath = join(dir, DIRECTORY_METADATA_FILE);
  await writeFile(`${binaryPath}.tmp`, binary);
  await rename(`${binaryPath}.tmp`, binaryPath);
  await writeFile(
    `${metaPath}.tmp`,
    serializeArtifact(directorySpec(spec), { binary: manifest, model: payload }),
  );
  await rename(`${metaPath}.tmp`, metaPath);
}

/** Reads and checks a model directory written by writeArtifactDirectory; every failure is a ModelFileError. */
export async function readArtifactDirectory<T>(
  dir: string,
  spec: ArtifactSpec<T>,
): Promise<{ payload: T; binary: Buffer; metadataFile: string }> {
  const metaPath = join(dir, DIRECTORY_METADATA_FILE);
  // A path to the metadata file itself (or any file) is the common slip: say what is expected, not ENOTDIR.
  const info = await stat(dir).catch(() => null);
  if (info !== null && !info.isDirectory()) {
    throw new UsageError(
      `expected a model directory (the folder holding ${DIRECTORY_METADATA_FILE} and ${DIRECTORY_BINARY_FILE}), got a file${basename(dir) === DIRECTORY_METADATA_FILE ? `: pass ${dirname(dir)} instead` : ""}`,
      { file: dir },
    );
  }
  let text: string;
  try {
    text = await readFile(metaPath, "utf8");
  } catch (error) {
    const { code } = error as NodeJS.ErrnoException;
    const why =
      code === "ENOENT"
        ? `no ${DIRECTORY_METADATA_FILE} here: not a model directory (or the path is wrong)`
        : `cannot read ${DIRECTORY_METADATA_FILE} (${code ?? (error as Error).message})`;
    throw new ModelFileError(why, { file: dir });
  }
  const { binary: manifest, model } = parseArtifact(text, directorySpec(spec), metaPath);
  if (manifest.file !== basename(manifest.file) || manifest.file.startsWith(".")) {
    throw new ModelFileError(
      `the binary file name ${JSON.stringify(manifest.file)} must be a plain file name`,
      {
        file: metaPath,
      },
    );
  }
  const binaryPath = join(dir, manifest.file);
  let binary: Buffer;
  try {
    binary = await readFile(binaryPath);
  } catch (error) {
    throw new ModelFileError(
      `cannot read the weights (${(error as NodeJS.ErrnoException).code ?? "error"})`,
      {
        file: binaryPath,
      },
    );
  }
  if (binary.length !== manifest.byteLength) {
    throw new ModelFileError(
      `${binary.length} bytes, but ${DIRECTORY_METADATA_FILE} expects ${manifest.byteLength}: the file is truncated or belongs to another model`,
      { file: binaryPath },
    );
  }
  if (createHash("sha256").update(binary).digest("hex") !== manifest.sha256) {
    throw new ModelFileError(
      `SHA-256 does not match ${DIRECTORY_METADATA_FILE}: the file is corrupted or belongs to another model`,
      { file: binaryPath },
    );
  }
  return { payload: model, binary, metadataFile: metaPath };
}
