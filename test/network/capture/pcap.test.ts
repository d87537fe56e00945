import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { InputError } from "../../../src/core/errors.ts";
import { readCapture } from "../../../src/network/capture/reader.ts";
import { pcapFile, type TestPacket, tempDir } from "../helpers/captures.ts";
import { readAll } from "../helpers/read.ts";

const tmp = tempDir();
after(tmp.cleanup);

function packets(n: number, nanos: boolean): TestPacket[] {
  return Array.from({ length: n }, (_, i) => ({
    sec: 4_000_000_000 + i, // above 2^31: must stay unsigned
    nsec: nanos ? 999_999_999 - i : (999_999 - i) * 1000,
    data: Array.from({ length: 40 + i * 7 }, (_, j) => (i * 31 + j) & 0xff),
    orig: 1500 + i,
  }));
}

describe("pcap reader", () => {
  for (const littleEndian of [true, false]) {
    for (const nanos of [false, true]) {
      it(`round-trips ${littleEndian ? "little" : "big"}-endian ${nanos ? "ns" : "µs"} files exactly`, async () => {
        const input = packets(25, nanos);
        const path = tmp.write(
          `rt-${littleEndian}-${nanos}.pcap`,
          pcapFile(input, { littleEndian, nanos, linkType: 113 }),
        );
        const { packets: got, warnings, format } = await readAll(path);
        assert.equal(format, "pcap");
        assert.deepEqual(warnings, []);
        assert.equal(got.length, input.length);
        let offset = 24;
        got.forEach((p, i) => {
          assert.equal(p.sec, input[i].sec);
          assert.equal(p.nsec, input[i].nsec);
          assert.deepEqual(p.data, input[i].data);
          assert.equal(p.orig, input[i].orig);
          assert.equal(p.linkType, 113);
          assert.equal(p.snapLen, 262144);
          assert.equal(p.index, i);
          assert.equal(p.fileOffset, offset);
          offset += 16 + input[i].data.length;
        });
      });
    }
  }

  it("streams across chunk boundaries, growing the buffer for a packet bigger than a chunk", async () => {
    const input = packets(30, false);
    input[10].data = Array.from({ length: 5000 }, (_, j) => j & 0xff);
    const path = tmp.write("chunks.pcap", pcapFile(input));
    for (const chunkSize of [64, 100, 1000]) {
      const { packets: got } = await readAll(path, { chunkSize });
      assert.deepEqual(
        got.map((p) => p.data),
        input.map((p) => p.data),
      );
    }
  });

  it("carries out-of-range fractions into the seconds, as libpcap does", async () => {
    const file = pcapFile([{ sec: 10, nsec: 0, data: [1, 2, 3] }], { nanos: false });
    file.writeUInt32LE(2_500_000, 24 + 4); // 2.5 s worth of microseconds
    const { packets: got } = await readAll(tmp.write("carry.pcap", file));
    assert.equal(got[0].sec, 12);
    assert.equal(got[0].nsec, 500_000_000);
  });

  it("keeps the packets before a cut-short last packet and warns with its offset", async () => {
    const input = packets(5, false);
    const full = pcapFile(input);
    const lastOffset = full.length - (16 + input[4].data.length);
    const path = tmp.write("cut.pcap", full.subarray(0, full.length - 3));
    const { packets: got, warnings } = await readAll(path);
    assert.equal(got.length, 4);
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0].offset, lastOffset);
    assert.match(warnings[0].message, /cut short.*truncated/);
    assert.equal(warnings[0].file, path);
  });

  it("warns about a cut-short record header", async () => {
    const full = pcapFile(packets(2, false));
    const path = tmp.write("cuthdr.pcap", Buffer.concat([full, Buffer.alloc(7)]));
    const { packets: got, warnings } = await readAll(path);
    assert.equal(got.length, 2);
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0].offset, full.length);
    assert.match(warnings[0].message, /record header cut short \(7 of 16 bytes\)/);
  });

  it("rejects an absurd captured length with the record's offset", async () => {
    const input = packets(3, false);
    const file = pcapFile(input, { snapLen: 65535 });
    const second = 24 + 16 + input[0].data.length;
    file.writeUInt32LE(0x7fffffff, second + 8);
    const path = tmp.write("absurd.pcap", file);
    await assert.rejects(readAll(path), (err: unknown) => {
      assert.ok(err instanceof InputError);
      assert.equal(err.location.offset, second);
      assert.equal(err.location.file, path);
      assert.match(err.message, /captured length 2147483647/);
      return true;
    });
  });

  it("rejects files that are not captures, or empty", async () => {
    const text = tmp.write("text.pcap", Buffer.from("fiveTuple,srcIP\n"));
    await assert.rejects(
      readAll(text),
      (err: unknown) => err instanceof InputError && /not a pcap or pcapng/.test(err.message),
    );
    const empty = tmp.write("empty.pcap", Buffer.alloc(0));
    await assert.rejects(
      readAll(empty),
      (err: unknown) => err instanceof InputError && /empty file/.test(err.message),
    );
    const short = tmp.write("short.pcap", pcapFile([]).subarray(0, 10));
    await assert.rejects(
      readAll(short),
      (err: unknown) => err instanceof InputError && /global header cut short/.test(err.message),
    );
    await assert.rejects(
      readAll(tmp.dir + "/missing.pcap"),
      (err: unknown) => err instanceof InputError && /cannot open/.test(err.message),
    );
  });

  it("readCapture yields the same packets as the batch API", async () => {
    const input = packets(12, true);
    const path = tmp.write("iter.pcap", pcapFile(input, { nanos: true }));
    const seen: number[][] = [];
    for await (const p of readCapture(path, { chunkSize: 128 }))
      seen.push(Array.from(p.data.subarray(p.offset, p.offset + p.capturedLength)));
    assert.deepEqual(
      seen,
      input.map((p) => p.data),
    );
  });
});
