import { open } from "node:fs/promises";
import { extname } from "node:path";
import { InputError, UsageError } from "../core/errors.ts";
import { expandInputs } from "../core/inputs.ts";
import { randomInt, seededRandom } from "../core/random.ts";
import { type CaptureWarning, formatCaptureWarning } from "./capture/types.ts";
import { readFlowCsv } from "./csv/read.ts";
import { formatTimestamp } from "./csv/write.ts";
import { extractFlowMeterRows, flowMeterFeatures } from "./flowmeter/compat.ts";
import type { PortNames } from "./flowmeter/ports.ts";
import { type ExtractFlowsOptions, extractFlows } from "./flows/extract.ts";
import { FLOWMETER_FEATURES, flowFeatureNames, PER_FLOW_FEATURES } from "./flows/features.ts";
import type { FlowTimeouts } from "./flows/table.ts";
import type { CaptureLabel, LabelSource } from "./labels/manifest.ts";
import { labelInputs } from "./labels/manifest.ts";

/**
 * Flows as a model sees them: one feature row per flow, with its capture (the cross-validation group), its label
 * and category when the inputs are labelled, and the identifying columns for classification output.
 *
 * Feature sets: "all" is flowFeatureNames (each flow's own statistics — FlowMeter's 39, computed correctly, plus
 * the extra features — and its context across flows); "flow" the flow's own statistics only; "flowmeter" FlowMeter's
 * 39 model features only (what an exported FlowMeter parameter set can hold).
 * Flow sources for captures: "threatlens" flows (bidirectional, timeouts, exact statistics) or "flowmeter"
 * (FlowMeter's own flows and formulas, bugs included, via the compatibility mode) for FlowMeter's shipped models.
 */
export type FeatureSet = "all" | "flow" | "flowmeter";
export type FlowSource = "threatlens" | "flowmeter";

export function featureNamesOf(set: FeatureSet): readonly string[] {
  return set === "all" ? flowFeatureNames : set === "flow" ? PER_FLOW_FEATURES : FLOWMETER_FEATURES;
}

export interface FlowMeta {
  capture: string;
  srcIp: string;
  srcPort: string;
  dstIp: string;
  dstPort: string;
  protocol: string;
  /** "sec.nanoseconds" since 1970, or "" when the source has none (FlowMeter rows). */
  startTime: string;
}

export type InputKind = "capture" | "threatlens-csv" | "flowmeter-csv";

export interface InputSummary {
  path: string;
  kind: InputKind;
  label: CaptureLabel | null;
  category: string | null;
  /** Flows in the input, and how many were kept (fewer when capped per capture). */
  flows: number;
  kept: number;
  /** Flows left out as cut short by the end of the capture (see FlowDataset.cutExcluded). */
  cut: number;
  packets: number;
}

/** Packets the capture readers skipped, by reason (ARP and other non-IP frames are expected on any LAN). */
export interface SkippedPackets {
  unsupportedLink: number;
  notIp: number;
  truncated: number;
  malformed: number;
}

export interface FlowDataset {
  featureSet: FeatureSet;
  featureNames: readonly string[];
  rows: Float64Array[];
  meta: FlowMeta[];
  /** The capture of each flow: the cross-validation group and the unit of per-capture metrics. */
  groups: string[];
  /** Per flow; null when the inputs are not labelled. */
  y: Uint8Array | null;
  categories: string[];
  /** Per flow: its capture's source (manifest `source` column), "" when unknown. */
  sources: string[];
  inputs: InputSummary[];
  /** Inputs left out because the manifest labels them ambiguous. */
  ambiguous: string[];
  /** Rows dropped for a NaN or infinite feature value. */
  nonFinite: number;
  /**
   * Flows left out because their capture ended on them before they could be answered (endReason "cut": an
   * unanswered connection attempt in the last second), unless `includeCut`.
   */
  cutExcluded: number;
  warnings: CaptureWarning[];
  skipped: SkippedPackets;
}

export interface LoadFlowsOptions {
  /** "auto" (default): "all" unless an input is a FlowMeter CSV, which only has FlowMeter's 39 features. */
  featureSet?: FeatureSet | "auto";
  flowSource?: FlowSource;
  labels?: LabelSource;
  /** Keep at most this many flows per capture (a seeded uniform sample), so floods do not dominate training. */
  maxFlowsPerCapture?: number | null;
  seed?: number;
  timeouts?: Partial<FlowTimeouts>;
  /** Needed with flowSource "flowmeter" on captures. */
  portNames?: () => Promise<PortNames>;
  /** Keep flows cut short by the end of their capture (endReason "cut"); by default they are left out, counted. */
  includeCut?: boolean;
  /** Whose features are asked for: a model being trained (`--features`) or a model's own (score). */
  purpose?: "train" | "score";
  onInput?: (index: number, total: number, path: string) => void;
  onWarning?: (message: string) => void;
}

const CAPTURE_OR_CSV = /\.(pcap|pcapng|cap|csv)$/i;

export async function loadFlows(
  inputs: readonly string[],
  options: LoadFlowsOptions = {},
): Promise<FlowDataset> {
  if (inputs.length === 0) throw new UsageError("no input given");
  const files = await expandInputs(inputs, (name) => CAPTURE_OR_CSV.test(name));
  const labelled = options.labels
    ? labelInputs(files, options.labels)
    : { inputs: files.map((path) => ({ path, label: null, category: null, source: "" })), ambiguous: [] };
  const isCsv = (p: string) => extname(p).toLowerCase() === ".csv";
  const kinds = await Promise.all(labelled.inputs.map((i) => (isCsv(i.path) ? csvKind(i.path) : "capture")));
  let featureSet = options.featureSet ?? "auto";
  if (featureSet === "auto") featureSet = kinds.includes("flowmeter-csv") ? "flowmeter" : "all";
  const flowMeterCsv = labelled.inputs.find((_, i) => kinds[i] === "flowmeter-csv");
  if (featureSet !== "flowmeter" && flowMeterCsv) {
    throw new UsageError(
      options.purpose === "score"
        ? `${flowMeterCsv.path} is a FlowMeter CSV, which has only FlowMeter's 39 features, but the model uses the "${featureSet}" features: score it with a model trained with --features flowmeter, or with FlowMeter's parameters (--flowmeter-params)`
        : `${flowMeterCsv.path} is a FlowMeter CSV, which has only FlowMeter's 39 features: use --features flowmeter`,
    );
  }
  const width = featureNamesOf(featureSet).length;
  const data: FlowDataset = {
    featureSet,
    featureNames: featureNamesOf(featureSet),
    rows: [],
    meta: [],
    groups: [],
    y: null,
    categories: [],
    sources: [],
    inputs: [],
    ambiguous: labelled.ambiguous,
    nonFinite: 0,
    cutExcluded: 0,
    warnings: [],
    skipped: { unsupportedLink: 0, notIp: 0, truncated: 0, malformed: 0 },
  };
  const labels: number[] = [];
  const random = seededRandom(options.seed ?? 0);
  const cap = options.maxFlowsPerCapture ?? null;
  for (let index = 0; index < labelled.inputs.length; index++) {
    const input = labelled.inputs[index];
    options.onInput?.(index, labelled.inputs.length, input.path);
    const sample = new CaptureSample(cap, random);
    const summary: InputSummary = {
      path: input.path,
      kind: kinds[index],
      label: input.label,
      category: input.category,
      flows: 0,
      kept: 0,
      cut: 0,
      packets: 0,
    };
    const add = (features: Float64Array, meta: FlowMeta) => {
      if (features.length < width) {
        throw new UsageError(
          `${input.path} has no context columns (${features.length} features; the "${featureSet}" set has ${width}): write it with \`network flows --context\`, or use --features flow`,
        );
      }
      const row = features.length === width ? features : features.slice(0, width);
      if (!finiteRow(row)) {
        data.nonFinite++;
        return;
      }
      summary.flows++;
      sample.offer(row, meta);
    };
    const cut = { count: 0 };
    if (kinds[index] === "capture") {
      summary.packets = await readCapture(
        input.path,
        options,
        add,
        data.skipped,
        (w) => {
          data.warnings.push(w);
          options.onWarning?.(formatCaptureWarning(w));
        },
        cut,
      );
    } else await readCsv(input.path, add, options, cut);
    data.cutExcluded += cut.count;
    summary.cut = cut.count;
    for (const { row, meta } of sample.kept()) {
      data.rows.push(row);
      data.meta.push(meta);
      data.groups.push(meta.capture);
      data.categories.push(input.category ?? "");
      data.sources.push(input.source);
      if (input.label !== null) labels.push(input.label === "malicious" ? 1 : 0);
    }
    summary.kept = sample.size;
    data.inputs.push(summary);
  }
  if (options.labels) data.y = Uint8Array.from(labels);
  return data;
}

/** A FlowMeter CSV starts with its "fiveTuple" column; readFlowCsv checks the full header later. */
async function csvKind(path: string): Promise<InputKind> {
  let head: string;
  try {
    const handle = await open(path);
    try {
      const { buffer, bytesRead } = await handle.read(Buffer.alloc(16), 0, 16, 0);
      head = buffer.subarray(0, bytesRead).toString("utf8");
    } finally {
      await handle.close();
    }
  } catch (error) {
    throw new InputError(`cannot read the flow CSV: ${(error as Error).message}`, { file: path });
  }
  return head.replace(/^\uFEFF/, "").startsWith("fiveTuple") ? "flowmeter-csv" : "threatlens-csv";
}

async function readCapture(
  path: string,
  options: LoadFlowsOptions,
  add: (features: Float64Array, meta: FlowMeta) => void,
  skipped: SkippedPackets,
  onWarning: (w: CaptureWarning) => void,
  cut: { count: number },
): Promise<number> {
  if (options.flowSource === "flowmeter") {
    if (!options.portNames)
      throw new UsageError("FlowMeter flows need gopacket's port-name table (--port-names)");
    const rows = extractFlowMeterRows(path, { portNames: await options.portNames(), onWarning });
    for await (const r of rows) add(flowMeterFeatures(r.values), flowMeterMeta(path, r.fiveTuple));
    // FlowMeter's own flows: it ignores what it cannot decode, so count those packets under "not IP".
    skipped.notIp += rows.stats.packets - rows.stats.tupled;
    return rows.stats.packets;
  }
  const extract: ExtractFlowsOptions = { ...options.timeouts, onWarning };
  const flows = extractFlows(path, extract);
  for await (const batch of flows.batches()) {
    for (const f of batch) {
      if (f.endReason === "cut" && !options.includeCut) {
        cut.count++;
        continue;
      }
      add(f.features, {
        capture: path,
        srcIp: f.srcIp,
        srcPort: String(f.srcPort),
        dstIp: f.dstIp,
        dstPort: String(f.dstPort),
        protocol: String(f.protocol),
        startTime: formatTimestamp(f.startSec, f.startNsec),
      });
    }
  }
  const st = flows.stats;
  skipped.unsupportedLink += st.unsupportedLink;
  skipped.notIp += st.notIp;
  skipped.truncated += st.truncated;
  skipped.malformed += st.malformed;
  return st.packets;
}

async function readCsv(
  path: string,
  add: (features: Float64Array, meta: FlowMeta) => void,
  options: LoadFlowsOptions,
  cut: { count: number },
): Promise<void> {
  let kind: string | null = null;
  await readFlowCsv(path, (record) => {
    // The kind is known once the header is read; FlowMeter rows have 6 meta cells, threatlens rows 10.
    kind ??= record.meta.length === 6 ? "flowmeter" : "threatlens";
    if (kind === "flowmeter") {
      add(zeroDurationRates(record.features), flowMeterMeta(path, record.meta[0]));
    } else {
      const [capture, srcIp, srcPort, dstIp, dstPort, protocol, , startTime, , endReason] = record.meta;
      if (endReason === "cut" && !options.includeCut) {
        cut.count++;
        return;
      }
      add(record.features, { capture: capture || path, srcIp, srcPort, dstIp, dstPort, protocol, startTime });
    }
  });
}

/** FlowMeter keys flows as SRC--DST--PROTO--SPORT--DPORT (its srcIP/dstIP columns are swapped; the key is not). */
function flowMeterMeta(capture: string, fiveTuple: string): FlowMeta {
  const [srcIp = "", dstIp = "", protocol = "", srcPort = "", dstPort = ""] = fiveTuple.split("--");
  return { capture, srcIp, srcPort, dstIp, dstPort, protocol, startTime: "" };
}

/**
 * FlowMeter's *PerTime features divide by flowDuration and are +Inf for a zero-duration flow; threatlens defines them
 * as 0 there (no time elapsed, no rate), so FlowMeter CSV rows get the same convention as our own flows.
 */
function zeroDurationRates(features: Float64Array): Float64Array {
  if (features[0] === 0) for (let i = 33; i < 39; i++) features[i] = 0;
  return features;
}

function finiteRow(row: Float64Array): boolean {
  for (let i = 0; i < row.length; i++) if (!Number.isFinite(row[i])) return false;
  return true;
}

/** Reservoir sample of one capture's flows, returned in capture order. */
class CaptureSample {
  private readonly items: { index: number; row: Float64Array; meta: FlowMeta }[] = [];
  private seen = 0;

  constructor(
    private readonly cap: number | null,
    private readonly random: () => number,
  ) {}

  get size(): number {
    return this.items.length;
  }

  offer(row: Float64Array, meta: FlowMeta): void {
    const index = this.seen++;
    if (this.cap === null || this.items.length < this.cap) {
      this.items.push({ index, row, meta });
      return;
    }
    const j = randomInt(this.random, index + 1);
    if (j < this.cap) this.items[j] = { index, row, meta };
  }

  kept(): { row: Float64Array; meta: FlowMeta }[] {
    return this.items.sort((a, b) => a.index - b.index);
  }
}

/** One line for the progress output: what was read and kept. */
/** The flows at `indexes` (ascending), with the inputs they come from; counts of what loading skipped are kept. */
export function subsetFlows(data: FlowDataset, indexes: readonly number[]): FlowDataset {
  const paths = new Set(indexes.map((i) => data.groups[i]));
  const y = data.y;
  return {
    ...data,
    rows: indexes.map((i) => data.rows[i]),
    meta: indexes.map((i) => data.meta[i]),
    groups: indexes.map((i) => data.groups[i]),
    y: y === null ? null : Uint8Array.from(indexes, (i) => y[i]),
    categories: indexes.map((i) => data.categories[i]),
    sources: indexes.map((i) => data.sources[i]),
    inputs: data.inputs.filter((input) => paths.has(input.path)),
  };
}

export function describeInputs(data: FlowDataset): string {
  const captures = data.inputs.length;
  const flows = data.inputs.reduce((a, i) => a + i.flows, 0);
  const kept = data.rows.length;
  const capped = kept < flows ? `, ${kept} kept after the per-capture cap` : "";
  const malicious = data.y ? `, ${data.y.reduce((a, b) => a + b, 0)} labelled malicious` : "";
  const ambiguous = data.ambiguous.length > 0 ? `; ${data.ambiguous.length} ambiguous input(s) excluded` : "";
  const dropped = data.nonFinite > 0 ? `; ${data.nonFinite} flow(s) with NaN/infinite features dropped` : "";
  const cut =
    data.cutExcluded > 0
      ? `; ${data.cutExcluded} unanswered connection attempt(s) cut short by the end of their capture left out`
      : "";
  return `${flows} flows from ${captures} input(s)${capped}${malicious}${ambiguous}${dropped}${cut}`;
}
