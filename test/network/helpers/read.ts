import { CaptureReader, type ReadCaptureOptions } from "../../../src/network/capture/reader.ts";
import type { CaptureWarning } from "../../../src/network/capture/types.ts";

export interface ReadPacket {
  sec: number;
  nsec: number;
  data: number[];
  orig: number;
  linkType: number;
  snapLen: number;
  interfaceId: number;
  fileOffset: number;
  index: number;
}

/** Reads a whole capture with the batch API, copying each reused record. */
export async function readAll(
  path: string,
  options: ReadCaptureOptions = {},
): Promise<{ packets: ReadPacket[]; warnings: CaptureWarning[]; format: string }> {
  const reader = await CaptureReader.open(path, options);
  const packets: ReadPacket[] = [];
  try {
    while (
      await reader.readBatch((p) => {
        packets.push({
          sec: p.tsSec,
          nsec: p.tsNsec,
          data: Array.from(p.data.subarray(p.offset, p.offset + p.capturedLength)),
          orig: p.originalLength,
          linkType: p.linkType,
          snapLen: p.snapLen,
          interfaceId: p.interfaceId,
          fileOffset: p.fileOffset,
          index: p.index,
        });
      })
    ) {}
  } finally {
    await reader.close();
  }
  return { packets, warnings: reader.warnings, format: reader.format };
}
