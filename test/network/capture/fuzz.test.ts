import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { InputError } from "../../../src/core/errors.ts";
import { randomInt, seededRandom } from "../../../src/core/random.ts";
import { extractFlowMeterRows } from "../../../src/network/flowmeter/compat.ts";
import { PortNames } from "../../../src/network/flowmeter/ports.ts";
import { extractFlows } from "../../../src/network/flows/extract.ts";
import {
  type NgBlock,
  type NgSection,
  pcapFile,
  pcapngFile,
  type TestPacket,
  tempDir,
} from "../helpers/captures.ts";
import { ethernet, ipv4, ipv6, ipv6Extension, linuxSll, tcp, udp } from "../helpers/packets.ts";
import { readAll } from "../helpers/read.ts";

const tmp = tempDir();
after(tmp.cleanup);

type Random = () => number;

/** A plausible frame most of the time (so decoders go deep), random bytes otherwise. */
function randomFrame(random: Random): number[] {
  const ip = `10.0.${randomInt(random, 4)}.${randomInt(random, 4)}`;
  const peer = `10.1.0.${randomInt(random, 4)}`;
  const payload = Array.from({ length: randomInt(random, 60) }, () => randomInt(random, 256));
  const l4 =
    random() < 0.5
      ? tcp({ sport: 1000 + randomInt(random, 3), dport: 80, flags: randomInt(random, 512), payload })
      : udp(2000 + randomInt(random, 3), 53, payload);
  const proto = l4.length > 8 && random() < 0.5 ? 6 : 17;
  switch (randomInt(random, 5)) {
    case 0:
      return ethernet(0x0800, ipv4({ src: ip, dst: peer, protocol: proto, payload: l4, mf: random() < 0.1 }));
    case 1:
      return ethernet(
        0x86dd,
        ipv6({
          src: "2001:db8::1",
          dst: "2001:db8::2",
          nextHeader: 0,
          payload: [...ipv6Extension(proto), ...l4],
        }),
      );
    case 2:
      return ethernet(0x0800, ipv4({ src: ip, dst: peer, protocol: proto, payload: l4 }), [[0x8100, 5]]);
    case 3:
      return linuxSll(0x0800, ipv4({ src: ip, dst: peer, protocol: proto, payload: l4 }));
    default:
      return Array.from({ length: randomInt(random, 120) }, () => randomInt(random, 256));
  }
}

function randomPackets(random: Random, nanos: boolean): TestPacket[] {
  let sec = 1_600_000_000 + randomInt(random, 1000);
  return Array.from({ length: 1 + randomInt(random, 40) }, () => {
    sec += randomInt(random, 3);
    const nsec = randomInt(random, 1_000_000) * (nanos ? 997 : 1000);
    return { sec, nsec, data: randomFrame(random) };
  });
}

function randomPcap(random: Random): { bytes: Buffer; packets: TestPacket[] } {
  const nanos = random() < 0.5;
  const packets = randomPackets(random, nanos);
  const linkType = random() < 0.8 ? 1 : 113;
  return { bytes: pcapFile(packets, { littleEndian: random() < 0.5, nanos, linkType }), packets };
}

function randomPcapng(random: Random): { bytes: Buffer; packets: TestPacket[] } {
  const sections: NgSection[] = [];
  const packets: TestPacket[] = [];
  for (let s = 0; s < 1 + randomInt(random, 3); s++) {
    const interfaces = Array.from({ length: 1 + randomInt(random, 3) }, () => ({
      linkType: random() < 0.8 ? 1 : 113,
      tsresol: 9,
    }));
    const blocks: NgBlock[] = [];
    for (const p of randomPackets(random, true)) {
      const interfaceId = randomInt(random, interfaces.length);
      blocks.push({
        kind: "epb",
        interfaceId,
        units: BigInt(p.sec) * 1_000_000_000n + BigInt(p.nsec),
        data: p.data,
      });
      packets.push(p);
      if (random() < 0.1) blocks.push({ kind: "raw", type: 5, body: [1, 2, 3, 4, 5, 6, 7, 8] });
    }
    sections.push({ littleEndian: random() < 0.5, interfaces, blocks });
  }
  return { bytes: pcapngFile(sections), packets };
}

function mutate(random: Random, original: Buffer): Buffer {
  let bytes = Buffer.from(original);
  const kind = randomInt(random, 3);
  if (kind !== 1) {
    for (let i = 0, n = 1 + randomInt(random, 6); i < n; i++)
      bytes[randomInt(random, bytes.length)] ^= 1 << randomInt(random, 8);
  }
  if (kind !== 0) bytes = bytes.subarray(0, randomInt(random, bytes.length + 1));
  return bytes;
}

const portNames = new PortNames(new Map([[80, "http"]]), new Map([[53, "domain"]]));

/** Runs the whole pipeline; anything but success or an InputError fails the test. */
async function exercise(path: string): Promise<"ok" | "input-error"> {
  try {
    for await (const _ of extractFlows(path, { chunkSize: 256 })) {
    }
    for await (const _ of extractFlowMeterRows(path, { portNames, chunkSize: 256 })) {
    }
    return "ok";
  } catch (err) {
    if (err instanceof InputError) {
      assert.equal(err.location.file, path);
      assert.ok(err.location.offset === undefined || err.location.offset >= 0);
      return "input-error";
    }
    throw err;
  }
}

describe("capture readers under random input", () => {
  it("round-trip random valid pcap and pcapng files", async () => {
    const random = seededRandom(7);
    for (let i = 0; i < 60; i++) {
      const { bytes, packets } = i % 2 === 0 ? randomPcap(random) : randomPcapng(random);
      const path = tmp.write(`valid-${i}`, bytes);
      const got = await readAll(path, { chunkSize: 64 + randomInt(random, 300) });
      assert.deepEqual(got.warnings, []);
      assert.deepEqual(
        got.packets.map((p) => [p.sec, p.nsec, p.data]),
        packets.map((p) => [p.sec, p.nsec, p.data]),
      );
      assert.equal(await exercise(path), "ok");
    }
  });

  it("end cleanly, with warnings, or with an InputError on flipped and truncated bytes", {
    timeout: 120_000,
  }, async () => {
    const random = seededRandom(20240611);
    const outcomes = { ok: 0, warned: 0, "input-error": 0 };
    for (let i = 0; i < 400; i++) {
      const { bytes } = i % 2 === 0 ? randomPcap(random) : randomPcapng(random);
      const path = tmp.write(`mutant-${i}`, mutate(random, bytes));
      const outcome = await exercise(path);
      if (outcome === "ok") {
        const { warnings } = await readAll(path).catch(() => ({ warnings: [] }));
        outcomes[warnings.length > 0 ? "warned" : "ok"]++;
      } else outcomes[outcome]++;
    }
    // All three outcomes occur, so the mutations reach past the headers.
    assert.ok(
      outcomes.ok > 0 && outcomes.warned > 0 && outcomes["input-error"] > 0,
      JSON.stringify(outcomes),
    );
  });
});
