import { InputError, UsageError } from "../core/errors.ts";
import type { FleetInput } from "../fleet/detectors.ts";
import { readHead } from "../fleet/sources.ts";
import { isPcapMagic } from "./capture/pcap.ts";
import { isPcapngMagic } from "./capture/pcapng.ts";
import { CaptureFileSource, CaptureStreamSource } from "./live/sources.ts";
import { PACKET_LINES_HEADER, PacketLineSource } from "./packet-lines.ts";

/**
 * The network detector's input as agents ship it: packets of capture files, stdin or a live interface (tcpdump's
 * output), one line each (packet-lines.ts). Only the capture readers load here, not the flow code: a thin agent
 * does not run what the scorers run.
 */
export const networkInput: FleetInput = {
  kind: "network",
  checkFirstLine(line) {
    return line === PACKET_LINES_HEADER ? null : `expected the packet-lines header ${PACKET_LINES_HEADER}`;
  },
  sources(input, { snaplen }) {
    switch (input.kind) {
      case "files":
        if (input.paths.length === 0)
          throw new UsageError("no input: give capture files, --interface IF or -");
        for (const path of input.paths) checkCapture(path);
        return input.paths.map((p) => new PacketLineSource(new CaptureFileSource(p), snaplen));
      case "follow":
        throw new UsageError(
          "--follow reads a growing text log; the network detector reads captures: give capture files, - or --interface IF",
        );
      case "stdin":
        return [new PacketLineSource(new CaptureStreamSource("stdin", process.stdin), snaplen)];
      case "stream":
        return [new PacketLineSource(new CaptureStreamSource(input.name, input.stream), snaplen)];
    }
  },
};

/** Refuses a file that is not a capture before anything is shipped (a later file would otherwise fail mid-run). */
function checkCapture(path: string): void {
  const head = readHead(path, 4);
  if (head.length < 4 || !(isPcapMagic(head) || isPcapngMagic(head))) {
    throw new InputError(`not a pcap or pcapng file (starts with 0x${head.toString("hex")})`, {
      file: path,
      offset: 0,
    });
  }
}
