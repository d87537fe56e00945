/**
 * One captured packet as the readers hand it out. The same object is reused for every packet of a file (no
 * per-packet allocation): copy what you need before asking for the next packet. `data` is the reader's chunk
 * buffer, so the packet bytes are `data[offset .. offset + capturedLength)`.
 */
export interface PacketRecord {
  data: Uint8Array;
  offset: number;
  capturedLength: number;
  /** Length on the wire, as recorded by the capturing tool. */
  originalLength: number;
  /**
   * Timestamp as whole seconds plus nanoseconds. Kept apart because nanoseconds since 1970 (~1.7e18) exceed 2^53
   * and would lose precision in one double. `tsNsec` is in [0, 1e9).
   */
  tsSec: number;
  tsNsec: number;
  /** LINKTYPE_* value of the interface the packet was captured on. */
  linkType: number;
  /** Snapshot length of that interface, 0 when unknown or unlimited. */
  snapLen: number;
  /** pcapng interface index within its section (always 0 for pcap). */
  interfaceId: number;
  /** Byte offset of the packet's record (pcap record header or pcapng block) in the file. */
  fileOffset: number;
  /** 0-based index of the packet in the file. */
  index: number;
}

/** A record to reuse for every packet of a reader: its fields are set as each packet is read. */
export function blankPacketRecord(data: Uint8Array): PacketRecord {
  return {
    data,
    offset: 0,
    capturedLength: 0,
    originalLength: 0,
    tsSec: 0,
    tsNsec: 0,
    linkType: 0,
    snapLen: 0,
    interfaceId: 0,
    fileOffset: 0,
    index: -1,
  };
}

/** Something wrong but survivable in a capture: a cut-short file, an unsupported link type, a skipped block. */
export interface CaptureWarning {
  file: string;
  /** Byte offset of the record or block concerned. */
  offset: number;
  message: string;
}

export type CaptureFormat = "pcap" | "pcapng";

/** Link-layer header types (https://www.tcpdump.org/linktypes.html) that the decoder understands. */
export const LINKTYPE = {
  NULL: 0,
  ETHERNET: 1,
  /** DLT_RAW as written by OpenBSD (12) and BSD/OS (14) in old files: raw IP, like 101. */
  RAW_OPENBSD: 12,
  RAW_BSDOS: 14,
  RAW: 101,
  LOOP: 108,
  LINUX_SLL: 113,
  IPV4: 228,
  IPV6: 229,
  LINUX_SLL2: 276,
} as const;

export function formatCaptureWarning(w: CaptureWarning): string {
  return `${w.file} (byte offset ${w.offset}): ${w.message}`;
}
