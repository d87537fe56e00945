import type { Alert } from "../core/stream/alerts.ts";
import type { DetectorKind, Entity, ModelRef, Scorer } from "../core/stream/detector.ts";
import type { AlertLedger, AlertSink, StreamEngine } from "../core/stream/engine.ts";
import type { LineSource } from "../core/stream/line-sources.ts";
import type { LineParser } from "../core/stream/run.ts";
import type { AgentInput } from "./sources.ts";

/**
 * What fleet mode needs from a detector, beyond the engine's Detector interface: how to read its model from bytes,
 * how to build the same engine `watch` runs for one host, and how to parse its input lines. Registering a detector
 * (registry.ts) is all it takes for agents, scorers and `fleet models push` to handle it.
 */
export interface LoadedModel {
  scorer: Scorer;
  /**
   * What an entity's state depends on besides the records (for ransomware, the feature window). Scorers keep entity
   * states across model versions, so a new version must have the same value; `fleet models push` refuses others.
   */
  compatibility: string;
}

export interface HostEngineOptions {
  /** The host the events come from: alerts carry it, and incident ids derive from it as in `watch`. */
  hostname: string;
  model: LoadedModel;
  /** The scorer the engine calls (a slot that follows model versions, or the model's own scorer). */
  scorer: Scorer;
  sinks: AlertSink[];
  ledger?: AlertLedger;
  onAlert?: (alert: Alert) => void;
}

/**
 * What a thin agent needs of a detector: its name and how to recognise its input. Kept apart from the rest (models,
 * engines), so that an agent does not load the scoring code it never runs.
 */
export interface FleetInput {
  readonly kind: DetectorKind;
  /**
   * Checks a shipped source's first line (an event log's header, or the header the detector's own sources write):
   * an error message, or null when it is valid.
   */
  checkFirstLine(line: string): string | null;
  /**
   * Sources for inputs that are not text lines (packet captures): the detector reads them itself and hands out one line
   * per record. Without it, files and streams are read as text lines, checked by `checkFirstLine` before shipping.
   */
  sources?(input: AgentInput, options: { snaplen?: number }): LineSource[];
}

export interface FleetDetector extends FleetInput {
  /** Validates a model file's text and readies it for scoring; throws ModelFileError with `name`. */
  loadModel(text: string, name: string, ref: ModelRef): LoadedModel;
  /** The engine one host's events run through (the same construction as the detector's `watch`). */
  createEngine(options: HostEngineOptions): StreamEngine<unknown, Entity>;
  /** Parses one source's lines (a fresh parser per source: it learns the layout from the header). */
  parser(sourceName: string): LineParser<unknown>;
  /** The model shipped in the package, if any (`fleet models push` without a file publishes it). */
  readonly defaultModel?: string;
}
