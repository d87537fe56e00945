import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { InputError } from "../../../src/core/errors.ts";
import { type NgSection, pcapngFile, tempDir } from "../helpers/captures.ts";
import { readAll } from "../helpers/read.ts";

const tmp = tempDir();
after(tmp.cleanup);

const data = (n: number, seed: number) => Array.from({ length: n }, (_, i) => (seed * 7 + i) & 0xff);

describe("pcapng reader", () => {
  it("reads several sections of either byte order, each with its own interfaces", async () => {
    const sections: NgSection[] = [
      {
        littleEndian: true,
        interfaces: [{ linkType: 1, snapLen: 65535 }, { linkType: 101 }],
        blocks: [
          { kind: "epb", interfaceId: 0, units: 1_700_000_000_123_456n, data: data(60, 1), orig: 1514 },
          { kind: "raw", type: 4, body: [0, 0, 0, 0] }, // name resolution block: skipped
          { kind: "epb", interfaceId: 1, units: 1_700_000_001_000_001n, data: data(41, 2) },
          { kind: "raw", type: 0x40000bad, body: data(10, 3) }, // custom block: skipped
        ],
      },
      {
        littleEndian: false,
        interfaces: [{ linkType: 113, tsresol: 9 }],
        blocks: [{ kind: "epb", interfaceId: 0, units: 1_700_000_002_987_654_321n, data: data(33, 4) }],
      },
    ];
    const path = tmp.write("sections.pcapng", pcapngFile(sections));
    const { packets, warnings, format } = await readAll(path);
    assert.equal(format, "pcapng");
    assert.deepEqual(warnings, []);
    assert.deepEqual(
      packets.map((p) => [p.linkType, p.interfaceId, p.sec, p.nsec, p.data.length, p.orig, p.snapLen]),
      [
        [1, 0, 1_700_000_000, 123_456_000, 60, 1514, 65535],
        [101, 1, 1_700_000_001, 1_000, 41, 41, 0],
        [113, 0, 1_700_000_002, 987_654_321, 33, 33, 0],
      ],
    );
    assert.deepEqual(packets[2].data, data(33, 4));
    assert.deepEqual(
      packets.map((p) => p.index),
      [0, 1, 2],
    );
  });

  it("converts every if_tsresol exactly, powers of 2 and sub-nanosecond included, plus if_tsoffset", async () => {
    const cases: { tsresol: number; units: bigint; sec: number; nsec: number; tsoffset?: bigint }[] = [
      { tsresol: 3, units: 1_700_000_000_999n, sec: 1_700_000_000, nsec: 999_000_000 },
      { tsresol: 6, units: 18_446_744_073_709_551_615n, sec: 18_446_744_073_709, nsec: 551_615_000 },
      { tsresol: 9, units: 1_700_000_000_000_000_007n, sec: 1_700_000_000, nsec: 7 },
      { tsresol: 12, units: 1_000_000_123_456_789_999n, sec: 1_000_000, nsec: 123_456_789 }, // ps, truncated
      { tsresol: 0x80 | 10, units: (1_000n << 10n) + 512n, sec: 1000, nsec: 500_000_000 },
      { tsresol: 0x80 | 20, units: (5n << 20n) + 1n, sec: 5, nsec: 953 }, // 1e9 / 2^20 = 953.67 → truncated
      { tsresol: 6, units: 2_500_000n, sec: 1_000_002, nsec: 500_000_000, tsoffset: 1_000_000n },
    ];
    const path = tmp.write(
      "tsresol.pcapng",
      pcapngFile([
        {
          interfaces: cases.map((c) => ({ linkType: 1, tsresol: c.tsresol, tsoffset: c.tsoffset })),
          blocks: cases.map((c, i) => ({
            kind: "epb" as const,
            interfaceId: i,
            units: c.units,
            data: data(20, i),
          })),
        },
      ]),
    );
    const { packets } = await readAll(path);
    assert.deepEqual(
      packets.map((p) => [p.sec, p.nsec]),
      cases.map((c) => [c.sec, c.nsec]),
    );
  });

  it("reads simple packet blocks (cut to the snaplen) and obsolete packet blocks", async () => {
    const path = tmp.write(
      "spb.pcapng",
      pcapngFile([
        {
          interfaces: [{ linkType: 1, snapLen: 30 }],
          blocks: [
            { kind: "spb", data: data(30, 1), orig: 200 },
            { kind: "opb", interfaceId: 0, units: 5_000_001n, data: data(25, 2) },
          ],
        },
      ]),
    );
    const { packets } = await readAll(path);
    assert.deepEqual(
      packets.map((p) => [p.data.length, p.orig, p.sec, p.nsec]),
      [
        [30, 200, 0, 0],
        [25, 25, 5, 1000],
      ],
    );
  });

  it("keeps earlier packets and warns when the last block is cut short", async () => {
    const file = pcapngFile([
      {
        interfaces: [{ linkType: 1 }],
        blocks: [
          { kind: "epb", interfaceId: 0, units: 1n, data: data(50, 1) },
          { kind: "epb", interfaceId: 0, units: 2n, data: data(50, 2) },
        ],
      },
    ]);
    const lastBlock = file.length - 84; // 32-byte EPB header/trailer + 52 padded data bytes
    const { packets, warnings } = await readAll(tmp.write("cut.pcapng", file.subarray(0, file.length - 10)));
    assert.equal(packets.length, 1);
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0].offset, lastBlock);
    assert.match(warnings[0].message, /block cut short \(74 of 84 bytes\)/);
  });

  const corrupt = async (name: string, mutate: (b: Buffer) => void, pattern: RegExp, offset: number) => {
    const file = pcapngFile([
      {
        interfaces: [{ linkType: 1 }],
        blocks: [{ kind: "epb", interfaceId: 0, units: 1n, data: data(20, 1) }],
      },
    ]);
    mutate(file);
    await assert.rejects(readAll(tmp.write(name, file)), (err: unknown) => {
      assert.ok(err instanceof InputError, String(err));
      assert.match(err.message, pattern);
      assert.equal(err.location.offset, offset);
      return true;
    });
  };

  // Layout: SHB 28 bytes at 0, IDB 20 bytes at 28, EPB at 48.
  it("rejects a block length that is not a multiple of 4", () =>
    corrupt("len4.pcapng", (b) => b.writeUInt32LE(27, 4 + 48), /bad block length 27/, 48));
  it("rejects a block whose trailing length differs", () =>
    corrupt(
      "trail.pcapng",
      (b) => b.writeUInt32LE(999, b.length - 4),
      /does not match its trailing copy/,
      48,
    ));
  it("rejects a packet block for an undefined interface", () =>
    corrupt("ifid.pcapng", (b) => b.writeUInt32LE(3, 48 + 8), /refers to interface 3/, 48));
  it("rejects a captured length larger than its block", () =>
    corrupt("caplen.pcapng", (b) => b.writeUInt32LE(500, 48 + 20), /captured length 500 exceeds/, 48));
  it("rejects a bad byte-order magic", () =>
    corrupt("magic.pcapng", (b) => b.writeUInt32LE(0x12345678, 8), /byte-order magic/, 0));
  it("rejects an unsupported major version", () =>
    corrupt("version.pcapng", (b) => b.writeUInt16LE(2, 12), /unsupported pcapng version 2/, 0));
});
