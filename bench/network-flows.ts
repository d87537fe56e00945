/**
 * Throughput and peak memory of flow extraction.
 *
 *   node --import tsx bench/network-flows.ts shared            # every capture in ../shared/data/pcaps, one by one
 *   node --import tsx bench/network-flows.ts build DIR big|typical COPIES   # builds DIR/NAME.pcap and .pcapng and
 *                                                              # prints "NAME PATH PACKETS" ("typical": without the
 *                                                              # StopDDoS floods)
 *   node --import tsx bench/network-flows.ts file <capture> [--compat <port_names.json>]   # read-only pass, then
 *                                                              # flows (or FlowMeter rows) with peak RSS
 *
 * The big capture concatenates the shared Ethernet captures again and again, each copy shifted in time to start
 * 200 s after the previous one ended (past the idle timeout) and with its IPv4 addresses' second octet bumped, so
 * copies are new flows rather than one long replay. It is built in /tmp and never committed.
 */
import { mkdirSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CaptureReader } from "../src/network/capture/reader.ts";
import { extractFlowMeterRows } from "../src/network/flowmeter/compat.ts";
import { loadPortNames } from "../src/network/flowmeter/ports.ts";
import { extractFlows } from "../src/network/flows/extract.ts";

const SHARED = join(import.meta.dirname, "..", "..", "shared", "data", "pcaps");

function sharedCaptures(): string[] {
  return ["benign", "malicious", "ambiguous"].flatMap((c) =>
    readdirSync(join(SHARED, c))
      .filter((f) => f.endsWith(".pcap"))
      .sort()
      .map((f) => join(SHARED, c, f)),
  );
}

function peakRssMiB(): number {
  return process.resourceUsage().maxRSS / 1024;
}

/** Wall and CPU (user + system) seconds of `fn`: on a busy machine the CPU rate is the per-core figure. */
async function timed(fn: () => Promise<void>): Promise<{ wall: number; cpu: number }> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await fn();
  const c = process.cpuUsage(c0);
  return { wall: (performance.now() - t0) / 1000, cpu: (c.user + c.system) / 1e6 };
}

function rate(packets: number, t: { wall: number; cpu: number }): string {
  const f = (s: number) => Math.round(packets / s).toLocaleString("en");
  return `${t.wall.toFixed(3)} s wall (${f(t.wall)} packets/s), ${t.cpu.toFixed(3)} s CPU (${f(t.cpu)} packets/CPU-s)`;
}

async function runFlows(files: string[]): Promise<void> {
  const stream = extractFlows(files);
  let flows = 0;
  const t = await timed(async () => {
    for await (const _ of stream) flows++;
  });
  const bytes = files.reduce((a, f) => a + statSync(f).size, 0);
  console.log(
    `flows: ${files.length} file(s), ${stream.stats.packets} packets, ${(bytes / 2 ** 20).toFixed(1)} MiB, ` +
      `${flows} flows: ${rate(stream.stats.packets, t)}, peak RSS ${peakRssMiB().toFixed(0)} MiB`,
  );
}

async function runCompat(files: string[], portNames: string): Promise<void> {
  const names = await loadPortNames(portNames);
  const stream = extractFlowMeterRows(files, { portNames: names });
  let rows = 0;
  const t = await timed(async () => {
    for await (const _ of stream) rows++;
  });
  console.log(
    `flowmeter-compat: ${stream.stats.packets} packets, ${rows} rows: ${rate(stream.stats.packets, t)}, ` +
      `peak RSS ${peakRssMiB().toFixed(0)} MiB`,
  );
}

async function runReadOnly(file: string): Promise<void> {
  const reader = await CaptureReader.open(file);
  let bytes = 0;
  const t = await timed(async () => {
    while (await reader.readBatch((p) => (bytes += p.capturedLength) < 0)) {}
  });
  await reader.close();
  console.log(`read only: ${reader.packets} packets, ${rate(reader.packets, t)}`);
}

/** Builds the big pcap and a pcapng twin (one interface, nanosecond resolution) with at least `target` packets. */
async function buildBig(
  outDir: string,
  copies: number,
  name: string,
  skipFloods: boolean,
): Promise<{ pcap: string; pcapng: string; packets: number }> {
  mkdirSync(outDir, { recursive: true });
  const sources: { records: { sec: number; nsec: number; data: Buffer; orig: number }[] }[] = [];
  for (const file of sharedCaptures()) {
    if (skipFloods && file.includes("stopddos__")) continue;
    const reader = await CaptureReader.open(file);
    const records: { sec: number; nsec: number; data: Buffer; orig: number }[] = [];
    let ethernet = true;
    while (
      await reader.readBatch((p) => {
        if (p.linkType !== 1) ethernet = false;
        records.push({
          sec: p.tsSec,
          nsec: p.tsNsec,
          orig: p.originalLength,
          data: Buffer.from(p.data.subarray(p.offset, p.offset + p.capturedLength)),
        });
      })
    ) {}
    await reader.close();
    // Captures with bogus timestamps spanning months (two nDPI files) would push the clock past 2106.
    const span = records.length > 0 ? records[records.length - 1].sec - records[0].sec : 0;
    if (ethernet && records.length > 0 && Math.abs(span) < 86400) sources.push({ records });
  }
  const pcapParts: Buffer[] = [];
  const ngParts: Buffer[] = [];
  const header = Buffer.alloc(24);
  header.writeUInt32LE(0xa1b23c4d, 0);
  header.writeUInt16LE(2, 4);
  header.writeUInt16LE(4, 6);
  header.writeUInt32LE(262144, 16);
  header.writeUInt32LE(1, 20);
  pcapParts.push(header);
  ngParts.push(pcapngHeader());
  let packets = 0;
  let clock = 1_600_000_000;
  for (let copy = 0; copy < copies; copy++) {
    for (const { records } of sources) {
      const first = records[0].sec;
      let last = clock;
      for (const r of records) {
        const sec = clock + Math.max(0, r.sec - first);
        last = Math.max(last, sec);
        const data = Buffer.from(r.data);
        if (data.length >= 34 && data.readUInt16BE(12) === 0x0800) {
          data[27] = (data[27] + copy) & 0xff; // source address, 2nd octet
          data[31] = (data[31] + copy) & 0xff; // destination address, 2nd octet
        }
        const rec = Buffer.alloc(16);
        rec.writeUInt32LE(sec, 0);
        rec.writeUInt32LE(r.nsec, 4);
        rec.writeUInt32LE(data.length, 8);
        rec.writeUInt32LE(r.orig, 12);
        pcapParts.push(rec, data);
        ngParts.push(enhancedPacketBlock(BigInt(sec) * 1_000_000_000n + BigInt(r.nsec), data, r.orig));
        packets++;
      }
      clock = last + 200;
    }
  }
  const pcap = join(outDir, `${name}.pcap`);
  const pcapng = join(outDir, `${name}.pcapng`);
  writeFileSync(pcap, Buffer.concat(pcapParts));
  writeFileSync(pcapng, Buffer.concat(ngParts));
  return { pcap, pcapng, packets };
}

function pcapngHeader(): Buffer {
  const shb = Buffer.alloc(28);
  shb.writeUInt32LE(0x0a0d0d0a, 0);
  shb.writeUInt32LE(28, 4);
  shb.writeUInt32LE(0x1a2b3c4d, 8);
  shb.writeUInt16LE(1, 12);
  shb.writeBigInt64LE(-1n, 16);
  shb.writeUInt32LE(28, 24);
  const idb = Buffer.alloc(32);
  idb.writeUInt32LE(1, 0);
  idb.writeUInt32LE(32, 4);
  idb.writeUInt16LE(1, 8);
  idb.writeUInt32LE(262144, 12);
  idb.writeUInt16LE(9, 16); // if_tsresol = 10^-9
  idb.writeUInt16LE(1, 18);
  idb.writeUInt8(9, 20);
  idb.writeUInt32LE(32, 28);
  return Buffer.concat([shb, idb]);
}

function enhancedPacketBlock(units: bigint, data: Buffer, orig: number): Buffer {
  const padded = (data.length + 3) & ~3;
  const len = 32 + padded;
  const b = Buffer.alloc(len);
  b.writeUInt32LE(6, 0);
  b.writeUInt32LE(len, 4);
  b.writeUInt32LE(0, 8);
  b.writeUInt32LE(Number(units >> 32n), 12);
  b.writeUInt32LE(Number(units & 0xffffffffn), 16);
  b.writeUInt32LE(data.length, 20);
  b.writeUInt32LE(orig, 24);
  data.copy(b, 28);
  b.writeUInt32LE(len, len - 4);
  return b;
}

const [mode = "shared", ...rest] = process.argv.slice(2);
if (mode === "shared") {
  await runFlows(sharedCaptures());
} else if (mode === "file") {
  const [file, flag, ports] = rest;
  await runReadOnly(file);
  if (flag === "--compat") await runCompat([file], ports);
  else await runFlows([file]);
} else if (mode === "build") {
  // Only builds: measuring in this process would report the builder's peak RSS (maxrss survives exec on Linux).
  const [dir, name, copies] = rest;
  const { pcap, packets } = await buildBig(dir, Number(copies ?? 8), name, name === "typical");
  console.log(`${name} ${pcap} ${packets}`);
} else {
  console.error(`unknown mode ${mode}; see the header of ${import.meta.filename}`);
  process.exitCode = 2;
}
