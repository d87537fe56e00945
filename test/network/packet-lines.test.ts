import assert from "node:assert/strict";
import { createReadStream } from "node:fs";
import { after, describe, test } from "node:test";
import { InputError } from "../../src/core/errors.ts";
import { randomInt, seededRandom } from "../../src/core/random.ts";
import { RecordError } from "../../src/core/stream/run.ts";
import { CaptureReader } from "../../src/network/capture/reader.ts";
import type { PacketRecord } from "../../src/network/capture/types.ts";
import { CaptureFileSource, CaptureStreamSource } from "../../src/network/live/sources.ts";
import { PACKET_LINES_HEADER, PacketLineParser, PacketLineSource } from "../../src/network/packet-lines.ts";
import { pcapngFile, tempDir } from "./helpers/captures.ts";
import { benignCapture, maliciousCapture } from "./helpers/traffic.ts";

/**
 * Packets as lines (what fleet agents ship): read back, every packet is the one the capture reader hands out — same
 * time, link type, wire length, offset, and its bytes up to the snap length — in order, numbered from line 2.
 */
const tmp = tempDir();
after(tmp.cleanup);

interface Packet {
  sec: number;
  nsec: number;
  link: number;
  orig: number;
  offset: number;
  bytes: string;
}

function packetOf(p: PacketRecord, kept = p.capturedLength): Packet {
  return {
    sec: p.tsSec,
    nsec: p.tsNsec,
    link: p.linkType,
    orig: p.originalLength,
    offset: p.fileOffset,
    bytes: Buffer.from(p.data.subarray(p.offset, p.offset + kept)).toString("hex"),
  };
}

async function packetsOf(path: string, snaplen: number): Promise<Packet[]> {
  const reader = await CaptureReader.open(path);
  const out: Packet[] = [];
  for (;;) {
    const p = await reader.next();
    if (p === null) break;
    out.push(packetOf(p, snaplen > 0 ? Math.min(snaplen, p.capturedLength) : p.capturedLength));
  }
  await reader.close();
  return out;
}

/** Every line a source hands out, as text with its number. */
async function linesOf(source: PacketLineSource): Promise<{ line: number; text: string }[]> {
  const out: { line: number; text: string }[] = [];
  await source.run((bytes, start, end, line) => {
    out.push({ line, text: Buffer.from(bytes.subarray(start, end)).toString("latin1") });
  });
  return out;
}

function parseAll(lines: { line: number; text: string }[]): Packet[] {
  const parser = new PacketLineParser("test");
  const out: Packet[] = [];
  for (const { line, text } of lines) {
    const bytes = Buffer.from(text, "latin1");
    const p = parser.parse(bytes, 0, bytes.length, line);
    if (p !== null) out.push(packetOf(p));
  }
  return out;
}

const scan = tmp.write("scan.pcap", maliciousCapture(5));
const benign = tmp.write("benign.pcap", benignCapture(6));
// Two interfaces of different link types in one pcapng: each line carries its packet's own.
const mixed = tmp.write(
  "mixed.pcapng",
  pcapngFile([
    {
      interfaces: [{ linkType: 1 }, { linkType: 101, snapLen: 96 }],
      blocks: [
        {
          kind: "epb",
          interfaceId: 0,
          units: 1_700_000_000_000_001n,
          data: Array.from({ length: 300 }, (_, i) => i & 255),
        },
        {
          kind: "epb",
          interfaceId: 1,
          units: 1_700_000_001_999_999n,
          data: [0x45, 0, 0, 20, 1, 2, 3, 4],
          orig: 1500,
        },
      ],
    },
  ]),
);

describe("packet lines", () => {
  for (const [name, path] of [
    ["scan", scan],
    ["benign", benign],
    ["pcapng with two link types", mixed],
  ] as const) {
    for (const snaplen of [256, 0, 60]) {
      test(`${name}, snap length ${snaplen}: every packet back as the reader gives it`, async () => {
        const lines = await linesOf(new PacketLineSource(new CaptureFileSource(path), snaplen));
        assert.equal(lines[0].text, PACKET_LINES_HEADER);
        assert.deepEqual(
          lines.map((l) => l.line),
          lines.map((_, i) => i + 1),
        );
        const expected = await packetsOf(path, snaplen);
        assert.ok(expected.length > 1);
        assert.deepEqual(parseAll(lines), expected);
      });
    }
  }

  test("a stream (tcpdump's output) gives the same lines as the file", async () => {
    const fromFile = await linesOf(new PacketLineSource(new CaptureFileSource(scan)));
    const fromStream = await linesOf(
      new PacketLineSource(
        new CaptureStreamSource("tcpdump", createReadStream(scan, { highWaterMark: 1000 })),
      ),
    );
    assert.deepEqual(fromStream, fromFile);
  });

  test("resumed at a position: the header again, then the packets after it with the same numbers", async () => {
    const all = await linesOf(new PacketLineSource(new CaptureFileSource(benign)));
    const first = new PacketLineSource(new CaptureFileSource(benign));
    let position = first.position();
    await first.run((_b, _s, _e, line) => {
      if (line === 40) {
        position = first.position();
        first.stop();
      }
    });
    assert.equal(position?.line, 40);
    const rest = new PacketLineSource(new CaptureFileSource(benign));
    rest.resume(position!);
    const resumed = await linesOf(rest);
    assert.deepEqual(resumed[0], all[0]);
    assert.deepEqual(resumed.slice(1), all.slice(40));
  });

  test("a source that is not packet lines is refused at its header, with where", () => {
    const parser = new PacketLineParser("host-a:events.csv");
    const header = Buffer.from("TS,PID,TYPE,FLAG");
    assert.throws(
      () => parser.parse(header, 0, header.length, 1),
      (e: unknown) =>
        e instanceof InputError && /events\.csv:1: expected the packet-lines header/.test(e.message),
    );
    const line = Buffer.from("1.000000000 1 60 24 AAAA");
    assert.throws(() => new PacketLineParser("x").parse(line, 0, line.length, 2), InputError);
  });

  test("malformed lines are record errors naming what was expected", () => {
    const parser = new PacketLineParser("x");
    const header = Buffer.from(PACKET_LINES_HEADER);
    parser.parse(header, 0, header.length, 1);
    for (const [text, message] of [
      ["1700000000.5 1 60 24 AAAA", /nanoseconds/],
      ["1700000000.000000001 x 60 24 AAAA", /link type/],
      ["1700000000.000000001 1 60 24", /wire|offset|base64/],
      ["1700000000.000000001 1 60 24 AAA", /base64/],
      ["1700000000.000000001 1 60 24 AA*A", /base64/],
      ["", /seconds/],
    ] as const) {
      const bytes = Buffer.from(text);
      assert.throws(
        () => parser.parse(bytes, 0, bytes.length, 2),
        (e: unknown) => e instanceof RecordError && message.test(e.message),
        text,
      );
    }
  });

  test("fuzz: damaged lines give a record or a RecordError, never anything else", async () => {
    const lines = await linesOf(new PacketLineSource(new CaptureFileSource(scan)));
    const rng = seededRandom(17);
    const parser = new PacketLineParser("fuzz");
    const header = Buffer.from(PACKET_LINES_HEADER);
    parser.parse(header, 0, header.length, 1);
    let records = 0;
    let errors = 0;
    for (let i = 0; i < 3000; i++) {
      const bytes = Buffer.from(lines[1 + randomInt(rng, lines.length - 1)].text, "latin1");
      for (let k = randomInt(rng, 4); k >= 0; k--) bytes[randomInt(rng, bytes.length)] = randomInt(rng, 256);
      const end = randomInt(rng, 5) === 0 ? randomInt(rng, bytes.length + 1) : bytes.length;
      try {
        const p = parser.parse(bytes, 0, end, i + 2);
        assert.ok(p !== null && p.capturedLength >= 0 && p.tsNsec < 1e9);
        records++;
      } catch (error) {
        assert.ok(error instanceof RecordError, String(error));
        errors++;
      }
    }
    assert.ok(records > 0 && errors > 0, `${records} records, ${errors} errors`);
  });
});
