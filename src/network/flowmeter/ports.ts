import { readFile } from "node:fs/promises";
import { InputError } from "../../core/errors.ts";

/**
 * gopacket's port-name tables, as FlowMeter prints ports: "80(http)" for a named port, "38792" otherwise.
 *
 * The table is read at run time from a file the caller names rather than shipped, because (1) it is gopacket's
 * 2013 snapshot of the IANA registry, not today's, so no current port list can stand in for it, (2) it can only be
 * regenerated from gopacket's source, which a build cannot fetch offline, and (3) it matters only to users who
 * reproduce FlowMeter, who have gopacket/FlowMeter at hand. Two formats are accepted: gopacket's
 * layers/iana_ports.go itself (e.g. from $GOPATH/pkg/mod/github.com/google/gopacket@v1.1.19/layers/), or a JSON
 * object {"tcp": {"80": "http", …}, "udp": {…}}.
 */
export class PortNames {
  private readonly tcpText: (string | undefined)[] = new Array(65536);
  private readonly udpText: (string | undefined)[] = new Array(65536);

  constructor(
    readonly tcp: ReadonlyMap<number, string>,
    readonly udp: ReadonlyMap<number, string>,
  ) {}

  /** gopacket TCPPort.String(). */
  tcpPort(port: number): string {
    return this.tcpText[port] ?? (this.tcpText[port] = portText(port, this.tcp));
  }

  /** gopacket UDPPort.String(). */
  udpPort(port: number): string {
    return this.udpText[port] ?? (this.udpText[port] = portText(port, this.udp));
  }
}

function portText(port: number, names: ReadonlyMap<number, string>): string {
  const name = names.get(port);
  return name === undefined ? String(port) : `${port}(${name})`;
}

export async function loadPortNames(file: string): Promise<PortNames> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    throw new InputError(`cannot read port-name table: ${(err as Error).message}`, { file });
  }
  return text.trimStart().startsWith("{") ? parseJsonTable(text, file) : parseGoTable(text, file);
}

function parseJsonTable(text: string, file: string): PortNames {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new InputError(`port-name table is not valid JSON: ${(err as Error).message}`, { file });
  }
  const tables = parsed as { tcp?: unknown; udp?: unknown };
  return new PortNames(jsonMap(tables.tcp, "tcp", file), jsonMap(tables.udp, "udp", file));
}

function jsonMap(value: unknown, name: string, file: string): Map<number, string> {
  if (typeof value !== "object" || value === null) {
    throw new InputError(`port-name table has no "${name}" object`, { file });
  }
  const map = new Map<number, string>();
  for (const [port, label] of Object.entries(value)) {
    const n = Number(port);
    if (!Number.isInteger(n) || n < 0 || n > 65535 || typeof label !== "string") {
      throw new InputError(`bad ${name} port-name entry ${JSON.stringify(port)}: ${JSON.stringify(label)}`, {
        file,
      });
    }
    map.set(n, label);
  }
  return map;
}

/** Reads `var tcpPortNames = map[TCPPort]string{ 1: "tcpmux", … }` and its UDP twin from iana_ports.go. */
function parseGoTable(text: string, file: string): PortNames {
  const block = (name: string, type: string): Map<number, string> => {
    const start = text.indexOf(`${name} = map[${type}]string{`);
    if (start < 0)
      throw new InputError(`no "${name}" map in this Go source (expected gopacket's iana_ports.go)`, {
        file,
      });
    const end = text.indexOf("\n}", start);
    const map = new Map<number, string>();
    for (const m of text
      .slice(start, end < 0 ? undefined : end)
      .matchAll(/^\s*(\d+):\s*"((?:[^"\\]|\\.)*)",/gm)) {
      map.set(Number(m[1]), JSON.parse(`"${m[2]}"`) as string);
    }
    if (map.size === 0) throw new InputError(`the "${name}" map in this Go source is empty`, { file });
    return map;
  };
  return new PortNames(block("tcpPortNames", "TCPPort"), block("udpPortNames", "UDPPort"));
}
