import { PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP } from "../capture/decode.ts";
import { CONTEXT_FEATURES } from "./context.ts";
import {
  D_COUNT,
  D_IAT_M2,
  D_IAT_MAX,
  D_IAT_MEAN,
  D_IAT_MIN,
  D_IAT_SUM,
  D_INIT_WINDOW,
  D_PAYLOAD_BYTES,
  D_PAYLOAD_PACKETS,
  D_SIZE_M2,
  D_SIZE_MAX,
  D_SIZE_MEAN,
  D_SIZE_MIN,
  D_SIZE_SUM,
  F_BWD,
  F_FIRST_T,
  F_FWD,
  F_IAT_M2,
  F_IAT_MAX,
  F_IAT_MEAN,
  F_IAT_MIN,
  F_LAST_T,
  F_SIZE_M2,
  F_SIZE_MEAN,
  F_TCP_FLAG_COUNTS,
} from "./state.ts";

/** FlowMeter's 33 numeric CSV columns, in its CSV (and model) order. */
const FLOWMETER_CSV_NUMERIC = [
  "flowDuration",
  "flowLength",
  "fwdFlowLength",
  "bwdFlowLength",
  "packetSizeTotal",
  "packetSizeMean",
  "packetSizeStd",
  "packetSizeMin",
  "packetSizeMax",
  "fwdPacketSizeTotal",
  "bwdPacketSizeTotal",
  "fwdPacketSizeMean",
  "bwdPacketSizeMean",
  "fwdPacketSizeStd",
  "bwdPacketSizeStd",
  "fwdPacketSizeMin",
  "bwdPacketSizeMin",
  "fwdPacketSizeMax",
  "bwdPacketSizeMax",
  "IATMean",
  "IATStd",
  "IATMin",
  "IATMax",
  "fwdIATTotal",
  "bwdIATTotal",
  "fwdIATMean",
  "bwdIATMean",
  "fwdIATStd",
  "bwdIATStd",
  "fwdIATMin",
  "bwdIATMin",
  "fwdIATMax",
  "bwdIATMax",
] as const;

/** The six throughput features FlowMeter's ML adds: the count or byte total divided by flowDuration (per ns). */
const FLOWMETER_PER_TIME = [
  "flowLengthPerTime",
  "fwdFlowLengthPerTime",
  "bwdFlowLengthPerTime",
  "packetSizeTotalPerTime",
  "fwdPacketSizeTotalPerTime",
  "bwdPacketSizeTotalPerTime",
] as const;

/**
 * FlowMeter's 39 model features in the order of its shipped parameters/{mean,std,weights}.txt: the 33 numeric CSV
 * columns, then the 6 *PerTime columns.
 */
export const FLOWMETER_FEATURES: readonly string[] = [...FLOWMETER_CSV_NUMERIC, ...FLOWMETER_PER_TIME];

/**
 * Features beyond FlowMeter's, each for a reason:
 * - protocol one-hot: scans and floods differ by transport, and a linear model cannot use the raw number;
 * - payload bytes/packets per direction: header-only traffic (SYN scans, ACK floods, reflection) vs data transfer,
 *   which packet sizes that include headers blur;
 * - TCP flag counts: SYN-only, RST-answered and FIN/URG/ECE-CWR-marked flows are the signature of scans and floods;
 * - initial TCP window per direction (-1 when not seen): crafted SYNs from flood and scan tools use fixed windows.
 */
const EXTRA_FEATURES = [
  "protocolTcp",
  "protocolUdp",
  "protocolIcmp",
  "fwdPayloadBytes",
  "bwdPayloadBytes",
  "fwdPayloadPackets",
  "bwdPayloadPackets",
  "finCount",
  "synCount",
  "rstCount",
  "pshCount",
  "ackCount",
  "urgCount",
  "eceCount",
  "cwrCount",
  "fwdInitWindow",
  "bwdInitWindow",
] as const;

/**
 * The statistics of one flow on its own: FlowMeter's 39 (same names and units, nanoseconds for times, but computed
 * correctly — see computeFeatures) followed by the extra features.
 */
export const PER_FLOW_FEATURES: readonly string[] = [...FLOWMETER_FEATURES, ...EXTRA_FEATURES];

/** The fixed numeric schema of a Flow's `features`: its own statistics, then its context (see context.ts). */
export const flowFeatureNames: readonly string[] = [...PER_FLOW_FEATURES, ...CONTEXT_FEATURES];

/**
 * Fills `out[0 .. PER_FLOW_FEATURES.length)` from the flow state at `b`. Differences from FlowMeter, on purpose:
 * packet sizes are IP-layer lengths from the IP header (the same whatever the link type or snaplen; FlowMeter
 * uses captured frame length); IAT* are gaps between consecutive packets of the flow (FlowMeter concatenates the
 * per-direction gaps); every std is the population std over all values, in exact nanoseconds (FlowMeter drops the
 * first value and truncates to µs); gaps are clamped at 0 when timestamps go backwards; there is no packet cap.
 * *PerTime values are 0 for zero-duration flows (single packets), where FlowMeter divides by zero.
 */
export function computeFeatures(st: Float64Array, b: number, protocol: number, out: Float64Array): void {
  const f = b + F_FWD;
  const k = b + F_BWD;
  const nf = st[f + D_COUNT];
  const nb = st[k + D_COUNT];
  const n = nf + nb;
  const duration = st[b + F_LAST_T] - st[b + F_FIRST_T];
  const sizeF = st[f + D_SIZE_SUM];
  const sizeB = st[k + D_SIZE_SUM];
  const gaps = n - 1;
  let i = 0;
  out[i++] = duration;
  out[i++] = n;
  out[i++] = nf;
  out[i++] = nb;
  out[i++] = sizeF + sizeB;
  out[i++] = st[b + F_SIZE_MEAN];
  out[i++] = n > 0 ? Math.sqrt(st[b + F_SIZE_M2] / n) : 0;
  out[i++] =
    nf === 0
      ? st[k + D_SIZE_MIN]
      : nb === 0
        ? st[f + D_SIZE_MIN]
        : Math.min(st[f + D_SIZE_MIN], st[k + D_SIZE_MIN]);
  out[i++] = Math.max(nf > 0 ? st[f + D_SIZE_MAX] : 0, nb > 0 ? st[k + D_SIZE_MAX] : 0);
  out[i++] = sizeF;
  out[i++] = sizeB;
  out[i++] = nf > 0 ? st[f + D_SIZE_MEAN] : 0;
  out[i++] = nb > 0 ? st[k + D_SIZE_MEAN] : 0;
  out[i++] = nf > 0 ? Math.sqrt(st[f + D_SIZE_M2] / nf) : 0;
  out[i++] = nb > 0 ? Math.sqrt(st[k + D_SIZE_M2] / nb) : 0;
  out[i++] = nf > 0 ? st[f + D_SIZE_MIN] : 0;
  out[i++] = nb > 0 ? st[k + D_SIZE_MIN] : 0;
  out[i++] = nf > 0 ? st[f + D_SIZE_MAX] : 0;
  out[i++] = nb > 0 ? st[k + D_SIZE_MAX] : 0;
  out[i++] = gaps > 0 ? st[b + F_IAT_MEAN] : 0;
  out[i++] = gaps > 0 ? Math.sqrt(st[b + F_IAT_M2] / gaps) : 0;
  out[i++] = gaps > 0 ? st[b + F_IAT_MIN] : 0;
  out[i++] = gaps > 0 ? st[b + F_IAT_MAX] : 0;
  const gf = nf - 1;
  const gb = nb - 1;
  out[i++] = gf > 0 ? st[f + D_IAT_SUM] : 0;
  out[i++] = gb > 0 ? st[k + D_IAT_SUM] : 0;
  out[i++] = gf > 0 ? st[f + D_IAT_MEAN] : 0;
  out[i++] = gb > 0 ? st[k + D_IAT_MEAN] : 0;
  out[i++] = gf > 0 ? Math.sqrt(st[f + D_IAT_M2] / gf) : 0;
  out[i++] = gb > 0 ? Math.sqrt(st[k + D_IAT_M2] / gb) : 0;
  out[i++] = gf > 0 ? st[f + D_IAT_MIN] : 0;
  out[i++] = gb > 0 ? st[k + D_IAT_MIN] : 0;
  out[i++] = gf > 0 ? st[f + D_IAT_MAX] : 0;
  out[i++] = gb > 0 ? st[k + D_IAT_MAX] : 0;
  const timed = duration > 0;
  out[i++] = timed ? n / duration : 0;
  out[i++] = timed ? nf / duration : 0;
  out[i++] = timed ? nb / duration : 0;
  out[i++] = timed ? (sizeF + sizeB) / duration : 0;
  out[i++] = timed ? sizeF / duration : 0;
  out[i++] = timed ? sizeB / duration : 0;
  out[i++] = protocol === PROTO_TCP ? 1 : 0;
  out[i++] = protocol === PROTO_UDP ? 1 : 0;
  out[i++] = protocol === PROTO_ICMP || protocol === PROTO_ICMPV6 ? 1 : 0;
  out[i++] = st[f + D_PAYLOAD_BYTES];
  out[i++] = st[k + D_PAYLOAD_BYTES];
  out[i++] = st[f + D_PAYLOAD_PACKETS];
  out[i++] = st[k + D_PAYLOAD_PACKETS];
  for (let bit = 0; bit < 8; bit++) out[i++] = st[b + F_TCP_FLAG_COUNTS + bit];
  out[i++] = st[f + D_INIT_WINDOW];
  out[i++] = st[k + D_INIT_WINDOW];
}
