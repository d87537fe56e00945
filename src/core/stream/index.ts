/** The streaming engine: what every detector plugs into, batch or live (see docs/live.md). */
export {
  type Alert,
  AlertPolicy,
  type AlertPolicyOptions,
  DEFAULT_ALERT_POLICY,
  formatAlertText,
  type IncidentState,
  type ResponseRecord,
} from "./alerts.ts";
export {
  type AlertSubject,
  type Detector,
  type DetectorKind,
  type EndReason,
  Entity,
  type EntityHooks,
  type ModelRef,
  PRIORITIES,
  type Priority,
  type Scorer,
} from "./detector.ts";
export {
  type AlertLedger,
  type AlertSink,
  DEFAULT_SCHEDULE,
  type EngineCounters,
  type EngineOptions,
  type Responder,
  type ScoringSchedule,
  StreamEngine,
} from "./engine.ts";
export { EntityTable } from "./entities.ts";
export {
  type ChunkHandler,
  FileLineSource,
  type FilePosition,
  type LineHandler,
  type LineSource,
  type OverloadPolicy,
  StreamLineSource,
} from "./line-sources.ts";
export { ProcessResponder, processTree } from "./respond.ts";
export {
  LineFeed,
  type LineFeedOptions,
  type LineParser,
  RecordError,
  type RecordSource,
  type RunOptions,
  type RunSummary,
  StreamRun,
} from "./run.ts";
export { type AlertFormat, FileSink, formatAlert, MemorySink, StreamSink } from "./sinks.ts";
export { StateDirectory } from "./state.ts";
export { formatStatsLine, type StatsSnapshot } from "./stats.ts";
