import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { after, describe, test } from "node:test";
import { randomInt, seededRandom } from "../../../src/core/random.ts";
import type { PacketRecord } from "../../../src/network/capture/types.ts";
import { CaptureFileSource, CaptureStreamSource } from "../../../src/network/live/sources.ts";
import { pcapFile, pcapngFile, tempDir } from "../helpers/captures.ts";
import { benignCapture, maliciousCapture } from "../helpers/traffic.ts";

/** Packet sources for the streaming engine: files (resumable) and streams (any chunking). */
const tmp = tempDir();
after(tmp.cleanup);

interface Seen {
  sec: number;
  nsec: number;
  bytes: string;
  orig: number;
}

async function collect(
  source: CaptureFileSource | CaptureStreamSource,
  onEach?: (n: number) => void,
): Promise<Seen[]> {
  const out: Seen[] = [];
  await source.run((p: PacketRecord) => {
    out.push({
      sec: p.tsSec,
      nsec: p.tsNsec,
      bytes: Buffer.from(p.data.subarray(p.offset, p.offset + p.capturedLength)).toString("hex"),
      orig: p.originalLength,
    });
    onEach?.(out.length);
  });
  return out;
}

/** A stream that delivers `bytes` in chunks of random sizes (1 byte to 3 KiB), yielding between them. */
function randomlyChunked(bytes: Buffer, seed: number): PassThrough {
  const random = seededRandom(seed);
  const stream = new PassThrough();
  void (async () => {
    for (let i = 0; i < bytes.length; ) {
      const n = 1 + randomInt(random, random() < 0.3 ? 16 : 3072);
      stream.write(bytes.subarray(i, i + n));
      i += n;
      if (random() < 0.5) await new Promise((r) => setImmediate(r));
    }
    stream.end();
  })();
  return stream;
}

function write(name: string, bytes: Buffer): string {
  const path = join(tmp.dir, name);
  writeFileSync(path, bytes);
  return path;
}

describe("CaptureStreamSource", () => {
  test("property: any chunking of a pcap or pcapng stream gives the file's packets", async () => {
    const pcap = Buffer.concat([maliciousCapture(3)]);
    const pcapPath = write("s.pcap", pcap);
    const packets = [
      { units: 1_700_000_000_000_005n, data: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14] },
      { units: 1_700_000_001_000_007n, data: new Array(1500).fill(7) },
      { units: 1_700_000_002_000_009n, data: [0xff, 0xee] },
    ];
    const ng = pcapngFile([
      {
        interfaces: [{ linkType: 1 }],
        blocks: packets.map((p) => ({ kind: "epb" as const, interfaceId: 0, ...p })),
      },
    ]);
    const ngPath = write("s.pcapng", ng);
    const fromPcapFile = await collect(new CaptureFileSource(pcapPath));
    const fromNgFile = await collect(new CaptureFileSource(ngPath));
    assert.ok(fromPcapFile.length > 30);
    assert.equal(fromNgFile.length, 3);
    for (let seed = 1; seed <= 25; seed++) {
      const a = await collect(new CaptureStreamSource("pcap", randomlyChunked(pcap, seed)));
      assert.deepEqual(a, fromPcapFile, `pcap, seed ${seed}`);
      const b = await collect(new CaptureStreamSource("pcapng", randomlyChunked(ng, seed)));
      assert.deepEqual(b, fromNgFile, `pcapng, seed ${seed}`);
    }
  });

  test("a stream cut inside a packet: the packets before it, and a notice with the offset", async () => {
    const bytes = benignCapture(4);
    const cut = bytes.subarray(0, bytes.length - 10);
    const whole = await collect(new CaptureFileSource(write("whole.pcap", bytes)));
    const source = new CaptureStreamSource("cut", randomlyChunked(cut, 9));
    const got = await collect(source);
    assert.deepEqual(got, whole.slice(0, whole.length - 1));
    assert.equal(source.notices.length, 1);
    assert.match(source.notices[0], /cut/);
  });

  test("not a capture: an error naming the input and offset 0", async () => {
    const stream = new PassThrough();
    stream.end(Buffer.from("GET / HTTP/1.1\r\n\r\n"));
    await assert.rejects(collect(new CaptureStreamSource("stdin", stream)), /stdin.*not a pcap or pcapng/);
  });

  test("stop while waiting for a silent stream ends the run at once", async () => {
    const stream = new PassThrough();
    stream.write(pcapFile([{ sec: 1, nsec: 0, data: [1, 2, 3] }]));
    const source = new CaptureStreamSource("silent", stream);
    let count = 0;
    const run = collect(source, (n) => {
      count = n;
    });
    await new Promise((r) => setTimeout(r, 50));
    source.stop();
    await run;
    assert.equal(count, 1);
  });
});

describe("CaptureFileSource", () => {
  test("resumes after the packets a checkpoint counted, and only in the same file", async () => {
    const path = write("r.pcap", maliciousCapture(5));
    const whole = await collect(new CaptureFileSource(path));
    const first = new CaptureFileSource(path);
    const head = await collect(first, (n) => {
      if (n === 17) first.stop();
    });
    assert.equal(head.length, 17);
    const position = first.position();
    assert.equal(position.line, 17);
    const second = new CaptureFileSource(path);
    second.resume(position);
    assert.deepEqual([...head, ...(await collect(second))], whole);
    // Another file at that path (a new inode) is read from its start, with a notice.
    const other = write("r.pcap.new", maliciousCapture(6));
    const moved = new CaptureFileSource(other);
    moved.resume({ ...position, path: other, inode: -1 });
    assert.equal((await collect(moved)).length, (await collect(new CaptureFileSource(other))).length);
    assert.match(moved.notices[0], /not the file of the checkpoint/);
    assert.equal(new CaptureFileSource(path).behind(), 0);
  });
});
