/**
 * Network flow detector, capture side: streaming pcap/pcapng reading, packet decoding, bidirectional flows with
 * timeouts, FlowMeter-compatible output, and flow CSV input/output.
 */
export {
  DECODED,
  DecodedPacket,
  decodePacket,
  MALFORMED,
  NOT_IP,
  TRUNCATED,
  UNSUPPORTED_LINK,
} from "./capture/decode.ts";
export { formatIp, formatIpv4, formatIpv6 } from "./capture/ip.ts";
export { CaptureReader, type ReadCaptureOptions, readCapture } from "./capture/reader.ts";
export {
  type CaptureFormat,
  type CaptureWarning,
  formatCaptureWarning,
  LINKTYPE,
  type PacketRecord,
} from "./capture/types.ts";
export { type WriteFlowsOptions, type WriteFlowsSummary, writeFlowsForCaptures } from "./captures.ts";
export { type FlowCsv, type FlowCsvKind, type FlowCsvRecord, readFlowCsv } from "./csv/read.ts";
export {
  FLOW_CSV_COLUMNS,
  FLOW_CSV_COLUMNS_NO_CONTEXT,
  FLOW_META_COLUMNS,
  flowMeterRowToLine,
  flowsToRows,
  flowToRow,
  formatTimestamp,
  writeFlowsCsv,
} from "./csv/write.ts";
export {
  extractFlowMeterRows,
  FLOWMETER_CSV_COLUMNS,
  type FlowMeterOptions,
  type FlowMeterRow,
  type FlowMeterStats,
  type FlowMeterStream,
  flowMeterFeatures,
} from "./flowmeter/compat.ts";
export { loadPortNames, PortNames } from "./flowmeter/ports.ts";
export { CONTEXT_FEATURES, CONTEXT_HALF_LIVES, FlowContext } from "./flows/context.ts";
export {
  type ExtractFlowsOptions,
  type ExtractionProgress,
  type ExtractionStats,
  extractFlows,
  type FlowStream,
} from "./flows/extract.ts";
export { FLOWMETER_FEATURES, flowFeatureNames, PER_FLOW_FEATURES } from "./flows/features.ts";
export {
  DEFAULT_FLOW_TIMEOUTS,
  type Flow,
  type FlowEndReason,
  FlowTable,
  type FlowTimeouts,
} from "./flows/table.ts";
