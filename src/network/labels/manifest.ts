import { readFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { InputError, UsageError } from "../../core/errors.ts";

/**
 * Per-capture labels. Labels are per FILE (a capture, or a flow CSV): a malicious capture may hold some normal
 * traffic too, which is why evaluation reports per-capture numbers beside per-flow ones.
 */
export type CaptureLabel = "benign" | "malicious";
export const CAPTURE_LABELS: readonly string[] = ["benign", "malicious", "ambiguous"];

export interface ManifestEntry {
  /** Absolute path (the manifest's `file` resolved against the manifest's directory). */
  path: string;
  label: CaptureLabel | "ambiguous";
  /** The `category` column when present (e.g. portscan_nmap_syn), else the label. */
  category: string;
  /**
   * Where the capture comes from: the `source` column's first word when present (e.g. "ntop/nDPI" of
   * "ntop/nDPI (LGPL-3.0)"), else "". Cross-validation can hold out whole sources.
   */
  source: string;
  line: number;
}

export interface Manifest {
  file: string;
  entries: Map<string, ManifestEntry>;
}

/**
 * Reads a tab-separated manifest with a header naming at least `file` and `label` (other columns, such as
 * `category`, are optional or ignored). `label` is benign, malicious or ambiguous; a duplicate file is an error.
 */
export async function readManifest(file: string): Promise<Manifest> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    throw new InputError(`cannot read the manifest: ${(error as Error).message}`, { file });
  }
  return parseManifest(text, file);
}

export function parseManifest(text: string, file: string): Manifest {
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  const header = lines[0].split("\t").map((c) => c.trim());
  const fileCol = header.indexOf("file");
  const labelCol = header.indexOf("label");
  const categoryCol = header.indexOf("category");
  const sourceCol = header.indexOf("source");
  if (fileCol < 0 || labelCol < 0) {
    throw new InputError(
      `the manifest header must name the tab-separated columns "file" and "label" (found: ${header.join(", ") || "nothing"})`,
      { file, line: 1 },
    );
  }
  const base = dirname(resolve(file));
  const entries = new Map<string, ManifestEntry>();
  for (let i = 1; i < lines.length; i++) {
    const line = i + 1;
    if (lines[i].trim() === "" || lines[i].startsWith("#")) continue;
    const cells = lines[i].split("\t");
    const name = cells[fileCol]?.trim() ?? "";
    const label = cells[labelCol]?.trim() ?? "";
    if (name === "") throw new InputError("empty file name", { file, line });
    if (!CAPTURE_LABELS.includes(label)) {
      throw new InputError(
        `label ${JSON.stringify(label)} for ${name}: expected ${CAPTURE_LABELS.join(", ")}`,
        { file, line },
      );
    }
    const path = resolve(base, name);
    const previous = entries.get(path);
    if (previous)
      throw new InputError(`${name} is listed twice (first on line ${previous.line})`, { file, line });
    const category = categoryCol >= 0 ? (cells[categoryCol]?.trim() ?? "") : "";
    const source = sourceCol >= 0 ? (cells[sourceCol]?.trim().split(/\s+/)[0] ?? "") : "";
    entries.set(path, {
      path,
      label: label as ManifestEntry["label"],
      category: category || label,
      source,
      line,
    });
  }
  if (entries.size === 0) throw new InputError("the manifest lists no file", { file });
  return { file, entries };
}

/**
 * Several manifests as one (`--manifest` given more than once: say the shared captures' and one for your own); a file
 * listed by two of them is an error naming both.
 */
export function mergeManifests(manifests: readonly Manifest[]): Manifest {
  if (manifests.length === 1) return manifests[0];
  const entries = new Map<string, ManifestEntry>();
  const origin = new Map<string, Manifest>();
  for (const manifest of manifests) {
    for (const [path, entry] of manifest.entries) {
      const first = origin.get(path);
      if (first) {
        throw new InputError(
          `${path} is listed by two manifests: ${first.file} line ${first.entries.get(path)!.line} and this one`,
          { file: manifest.file, line: entry.line },
        );
      }
      entries.set(path, entry);
      origin.set(path, manifest);
    }
  }
  return { file: manifests.map((m) => m.file).join(" + "), entries };
}

export interface LabelledInput {
  path: string;
  label: CaptureLabel;
  category: string;
  source: string;
}

export interface LabelledInputs {
  inputs: LabelledInput[];
  /** Inputs the manifest marks ambiguous: left out of training and evaluation, and reported. */
  ambiguous: string[];
}

/** Where the labels come from: a manifest, or one label for every input (`--label`). */
export type LabelSource = { manifest: Manifest } | { label: CaptureLabel };

export function parseLabelOption(value: string): CaptureLabel {
  if (value !== "benign" && value !== "malicious") {
    throw new UsageError(`--label must be benign or malicious, not ${JSON.stringify(value)}`);
  }
  return value;
}

/** Labels each input file; an input the manifest does not list is an error that names it. */
export function labelInputs(files: readonly string[], source: LabelSource): LabelledInputs {
  const inputs: LabelledInput[] = [];
  const ambiguous: string[] = [];
  for (const path of files) {
    if ("label" in source) {
      inputs.push({ path, label: source.label, category: source.label, source: "" });
      continue;
    }
    const entry = source.manifest.entries.get(resolve(path));
    if (!entry) {
      throw new InputError(
        `${path} is not in the manifest (its "file" paths are relative to the manifest's directory; give --manifest once per manifest to combine several)`,
        { file: source.manifest.file },
      );
    }
    if (entry.label === "ambiguous") ambiguous.push(path);
    else inputs.push({ path, label: entry.label, category: entry.category, source: entry.source });
  }
  return { inputs, ambiguous };
}
