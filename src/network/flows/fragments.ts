import { type DecodedPacket, FIRST_FRAGMENT, LATER_FRAGMENT } from "../capture/decode.ts";

/** How long a first fragment's ports are remembered for the rest of its datagram. */
const FRAGMENT_LIFETIME_SEC = 30;
/** Bound on remembered datagrams, whatever the rate of fragments (fragment floods). */
const MAX_DATAGRAMS = 65536;

/**
 * Non-first IP fragments carry no transport header. To count them in the flow of their datagram, the ports of the
 * first fragment are remembered per (addresses, protocol, IP id). Fragments that arrive before their first
 * fragment, or after it was forgotten, keep ports 0 and form a flow of their own.
 */
export class FragmentPorts {
  private readonly datagrams = new Map<string, { ports: number; sec: number }>();

  /** For a fragment of a port-carrying protocol: records (first fragment) or fills in (later fragment) its ports. */
  resolve(d: DecodedPacket, sec: number): void {
    if (d.fragment === FIRST_FRAGMENT && d.hasPorts) {
      const datagrams = this.datagrams;
      for (const [k, v] of datagrams) {
        if (datagrams.size < MAX_DATAGRAMS && v.sec >= sec - FRAGMENT_LIFETIME_SEC) break;
        datagrams.delete(k);
      }
      datagrams.set(datagramKey(d), { ports: ((d.srcPort << 16) | d.dstPort) >>> 0, sec });
    } else if (d.fragment === LATER_FRAGMENT && hasPortsProtocol(d.protocol)) {
      const known = this.datagrams.get(datagramKey(d));
      if (known !== undefined) {
        d.srcPort = known.ports >>> 16;
        d.dstPort = known.ports & 0xffff;
        d.hasPorts = true;
      }
    }
  }

  clear(): void {
    this.datagrams.clear();
  }

  /** Datagrams remembered, oldest first, for a checkpoint. */
  toJSON(): [string, number, number][] {
    return [...this.datagrams].map(([k, v]) => [k, v.ports, v.sec]);
  }

  restore(entries: [string, number, number][]): void {
    this.datagrams.clear();
    for (const [k, ports, sec] of entries) this.datagrams.set(k, { ports, sec });
  }
}

function hasPortsProtocol(p: number): boolean {
  return p === 6 || p === 17 || p === 136 || p === 132 || p === 33;
}

function datagramKey(d: DecodedPacket): string {
  return `${d.ipVersion}/${d.protocol}/${d.fragmentId}/${d.src.join(".")}/${d.dst.join(".")}`;
}
