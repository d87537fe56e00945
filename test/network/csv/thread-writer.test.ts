import assert from "node:assert/strict";
import { closeSync, existsSync, openSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { InputError } from "../../../src/core/errors.ts";
import { seededRandom } from "../../../src/core/random.ts";
import { TextBuffer } from "../../../src/core/text-buffer.ts";
import { writeFlowsForCaptures } from "../../../src/network/captures.ts";
import { FlowCsvThreadWriter } from "../../../src/network/csv/thread-writer.ts";
import { FlowCsvRowWriter } from "../../../src/network/csv/write.ts";
import { visitFlows } from "../../../src/network/flows/extract.ts";
import { pcapFile, type TestPacket, tempDir } from "../helpers/captures.ts";
import { ethernet, ipv4, ipv6, TCP_FLAGS, tcp, udp } from "../helpers/packets.ts";
import { benignCapture, maliciousCapture } from "../helpers/traffic.ts";

const tmp = tempDir();
after(tmp.cleanup);

/**
 * More flows than the writer's ring holds at once (4 batches of 4,096), so that batches are reused: one-packet UDP
 * and TCP probes to random ports from random IPv4 and IPv6 sources, answered now and then, over a few seconds.
 */
function manyFlows(seed: number, count: number): TestPacket[] {
  const random = seededRandom(seed);
  const packets: TestPacket[] = [];
  for (let i = 0; i < count; i++) {
    const usec = Math.floor((i * 3_000_000) / count);
    const sport = 1024 + Math.floor(random() * 60000);
    const dport = 1 + Math.floor(random() * 1000);
    const transport =
      random() < 0.5
        ? { protocol: 17, payload: udp(sport, dport, new Array(Math.floor(random() * 40)).fill(7)) }
        : { protocol: 6, payload: tcp({ sport, dport, flags: TCP_FLAGS.SYN }) };
    const data =
      random() < 0.1
        ? ethernet(
            0x86dd,
            ipv6({
              src: `2001:db8::${i.toString(16)}`,
              dst: "2001:db8::1",
              nextHeader: transport.protocol,
              payload: transport.payload,
            }),
          )
        : ethernet(
            0x0800,
            ipv4({
              src: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
              dst: "192.0.2.1",
              ...transport,
            }),
          );
    packets.push({ sec: 1_700_000_000 + Math.floor(usec / 1e6), nsec: (usec % 1e6) * 1000, data });
  }
  return packets;
}

/** The CSV as the single-threaded writer makes it (what `-o -` writes). */
async function singleThreaded(paths: string[], context: boolean): Promise<Buffer> {
  const out = new TextBuffer();
  const chunks: Buffer[] = [];
  const writer = new FlowCsvRowWriter(out, context);
  writer.header();
  await visitFlows(paths, { context }, (flow) => {
    writer.row(flow);
    if (out.length >= out.flushAt) {
      chunks.push(Buffer.from(out.bytes.subarray(0, out.length)));
      out.length = 0;
    }
  });
  chunks.push(Buffer.from(out.bytes.subarray(0, out.length)));
  return Buffer.concat(chunks);
}

describe("FlowCsvThreadWriter", () => {
  const captures = [
    tmp.write("many.pcap", pcapFile(manyFlows(5, 30000))),
    tmp.write("benign.pcap", benignCapture(3)),
    tmp.write("malicious.pcap", maliciousCapture(4)),
  ];

  for (const context of [false, true]) {
    it(`writes the same bytes as the single-threaded writer (${context ? "with" : "without"} context)`, async () => {
      const out = join(tmp.dir, `flows-${context}.csv`);
      const summary = await writeFlowsForCaptures(captures, out, {
        withContext: context,
        writerThread: true,
      });
      const expected = await singleThreaded(captures, context);
      assert.ok(summary.rows > 4 * 4096, `${summary.rows} rows`);
      assert.equal(expected.toString("latin1").split("\n").length - 2, summary.rows);
      assert.ok(readFileSync(out).equals(expected));
    });
  }

  it("stops its thread and leaves no output behind when a later capture is unreadable", async () => {
    const out = join(tmp.dir, "never.csv");
    const bad = tmp.write("bad.pcap", Buffer.from("not a capture at all"));
    await assert.rejects(writeFlowsForCaptures([captures[0], bad], out, { writerThread: true }), InputError);
    assert.equal(existsSync(out), false);
    assert.deepEqual(
      readdirSync(tmp.dir).filter((f) => f.includes("partial")),
      [],
    );
  });

  it("reports a write failure in its thread with the system's error code", async () => {
    const fd = openSync("/dev/full", "w");
    const writer = new FlowCsvThreadWriter(fd, false, [captures[0]]);
    try {
      // Seen by the next ready() or by end(), whichever comes after the thread's first write.
      await assert.rejects(
        (async () => {
          await visitFlows(
            captures[0],
            { context: false },
            (flow) => writer.row(flow),
            () => writer.ready(),
          );
          await writer.end();
        })(),
        { code: "ENOSPC" },
      );
    } finally {
      await writer.abort();
      closeSync(fd);
    }
  });

  it("stops a thread that is waiting for flows when aborted", async () => {
    const fd = openSync(join(tmp.dir, "aborted.csv"), "w");
    const writer = new FlowCsvThreadWriter(fd, true, []);
    const started = performance.now();
    await writer.abort();
    closeSync(fd);
    assert.ok(performance.now() - started < 5000);
  });
});
