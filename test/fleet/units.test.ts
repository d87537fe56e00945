import assert from "node:assert/strict";
import { appendFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { CLI_DEFAULTS } from "../../src/cli/fleet.ts";
import { forEachLine } from "../../src/fleet/batches.ts";
import { FLEET_INPUTS, fleetInput } from "../../src/fleet/inputs.ts";
import { checkHostName, hostFromToken, hostToken, partitionOf } from "../../src/fleet/names.ts";
import { FLEET_DETECTORS } from "../../src/fleet/registry.ts";
import { DEFAULT_PARTITIONS, serverConfig } from "../../src/fleet/server-config.ts";
import { DEFAULT_LIMITS } from "../../src/fleet/setup.ts";
import { Spool } from "../../src/fleet/spool.ts";
import { tempDir } from "../ransomware/helpers.ts";

/** Fleet pieces that need no server: subject names, batches, the disk spool. */
const tmp = tempDir("threatlens-fleet-units-");
after(tmp.cleanup);

function random(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe("detector registries", () => {
  test("agents' inputs and scorers' detectors name the same detectors and check first lines alike", () => {
    assert.deepEqual(
      FLEET_INPUTS.map((d) => d.kind),
      FLEET_DETECTORS.map((d) => d.kind),
    );
    for (const d of FLEET_DETECTORS) {
      assert.equal(fleetInput(d.kind).checkFirstLine, d.checkFirstLine);
      assert.equal(fleetInput(d.kind).sources, d.sources);
    }
    assert.throws(() => fleetInput("bogus"), /no detector "bogus" \(available: ransomware, network\)/);
  });
});

describe("host tokens", () => {
  test("every host name maps to a valid, distinct token and back (fuzzed)", () => {
    const rnd = random(7);
    const seen = new Map<string, string>();
    for (let i = 0; i < 3000; i++) {
      const length = 1 + Math.floor(rnd() * 20);
      let host = "";
      for (let j = 0; j < length; j++) host += String.fromCharCode(33 + Math.floor(rnd() * 94));
      if (i % 5 === 0) host = `web-${i}.example.org`;
      if (i % 7 === 0) host = `hôte-${i}`;
      const token = hostToken(host);
      assert.match(token, /^[A-Za-z0-9_=-]+$/, host);
      assert.equal(hostFromToken(token), host);
      const other = seen.get(token);
      assert.ok(other === undefined || other === host, `${host} and ${other} share ${token}`);
      seen.set(token, host);
    }
  });

  test("partitions are FNV-1a of the token, as nats-server computes them (values checked against the server)", () => {
    // Measured on nats-server 2.9.10 with partition(4, 2): h1 → 2, h2 → 3, host-3 → 3, web01 → 2, db → 3.
    assert.deepEqual(
      ["h1", "h2", "host-3", "web01", "db"].map((h) => partitionOf(hostToken(h), 4)),
      [2, 3, 3, 2, 3],
    );
  });

  test("host names with spaces or control characters are refused", () => {
    assert.throws(() => checkHostName("my host"), /--host must be/);
    assert.throws(() => checkHostName(""), /--host must be/);
    assert.equal(checkHostName("db-1.example"), "db-1.example");
  });

  test("the server config maps ingest subjects onto partitions", () => {
    const text = serverConfig({ port: 4222, storeDir: "/var/lib/x", partitions: 16 });
    assert.match(
      text,
      /"tl\.in\.\*\.\*": "tl\.ev\.\{\{wildcard\(1\)\}\}\.\{\{partition\(16,2\)\}\}\.\{\{wildcard\(2\)\}\}"/,
    );
    assert.match(text, /listen: "127\.0\.0\.1:4222"/);
    assert.throws(() => serverConfig({ port: 1, storeDir: "x", partitions: 0 }), /partition count/);
  });
});

test("the CLI's defaults are the library's", () => {
  assert.deepEqual(CLI_DEFAULTS, {
    partitions: DEFAULT_PARTITIONS,
    ackWaitS: DEFAULT_LIMITS.ackWaitMs / 1000,
    alertsMaxAgeDays: DEFAULT_LIMITS.alertsMaxAgeMs / 86400e3,
    alertsMaxBytesMiB: DEFAULT_LIMITS.alertsMaxBytes / 2 ** 20,
    eventsMaxBytesMiB: DEFAULT_LIMITS.eventsMaxBytes / 2 ** 20,
  });
});

describe("batches", () => {
  test("lines get their numbers from the runs, across a restart at line 1", () => {
    const payload = Buffer.from("a\nb\nHEADER\nc\n\nd\n");
    const seen: [string, number][] = [];
    const n = forEachLine(
      payload,
      [
        [41, 2],
        [1, 4],
      ],
      (bytes, s, e, line) => {
        seen.push([Buffer.from(bytes.subarray(s, e)).toString(), line]);
      },
    );
    assert.equal(n, 6);
    assert.deepEqual(seen, [
      ["a", 41],
      ["b", 42],
      ["HEADER", 1],
      ["c", 2],
      ["", 3],
      ["d", 4],
    ]);
    assert.equal(
      forEachLine(new Uint8Array(0), [], () => assert.fail()),
      0,
    );
  });
});

describe("disk spool", () => {
  test("keeps unacknowledged records across a restart, in order, and forgets acknowledged ones", () => {
    const dir = join(tmp.dir, "s1");
    const a = new Spool(dir, { segmentBytes: 200 });
    for (let i = 0; i < 20; i++) a.append({ tag: `r${i}` }, Buffer.from(`payload ${i}`));
    const rnd = random(3);
    const acked = new Set<number>();
    for (let i = 0; i < 20; i++) if (rnd() < 0.6) acked.add(i);
    for (const i of acked) a.ack(i);
    a.close();
    const b = new Spool(dir, { segmentBytes: 200 });
    const left = [...Array(20).keys()].filter((i) => !acked.has(i));
    assert.deepEqual(b.unackedSeqs(), left);
    assert.equal(b.recovered, left.length);
    for (const i of left) assert.equal(Buffer.from(b.get(i)!.payload).toString(), `payload ${i}`);
    assert.equal(b.nextSeq, 20);
    assert.equal(b.last?.tag, "r19");
    for (const i of left) b.ack(i);
    b.append({ tag: "r20" }, Buffer.from("x"));
    b.ack(20);
    b.close();
    // Fully acknowledged segments are deleted: only the one being written remains.
    assert.equal(readdirSync(dir).filter((f) => f.endsWith(".spool")).length, 1);
    const c = new Spool(dir);
    assert.equal(c.unacknowledged, 0);
    assert.equal(c.nextSeq, 21);
    c.close();
  });

  test("copies the payload: the caller reuses its buffer as soon as append returns", () => {
    const spool = new Spool(join(tmp.dir, "s-reuse"));
    const buffer = Buffer.from("first batch");
    spool.append({ tag: "a" }, buffer);
    buffer.write("XXXXX", 0);
    spool.append({ tag: "b" }, buffer.subarray(0, 5));
    assert.equal(Buffer.from(spool.get(0)!.payload).toString(), "first batch");
    assert.equal(Buffer.from(spool.get(1)!.payload).toString(), "XXXXX");
    spool.close();
  });

  test("a record torn by a crash is cut and its number reused", () => {
    const dir = join(tmp.dir, "s2");
    const a = new Spool(dir);
    a.append({ tag: "whole" }, Buffer.from("one"));
    a.close();
    const segment = join(dir, readdirSync(dir).find((f) => f.endsWith(".spool"))!);
    const size = statSync(segment).size;
    appendFileSync(segment, Buffer.from([0x50, 0x53, 0x4c, 0x54, 40, 0, 0, 0, 9, 0])); // a frame cut short
    const b = new Spool(dir);
    assert.equal(b.tornBytes, 10);
    assert.equal(statSync(segment).size, size);
    assert.deepEqual(b.unackedSeqs(), [0]);
    assert.equal(b.nextSeq, 1);
    b.close();
  });

  test("is bounded: full at maxBytes, room again once records are acknowledged", async () => {
    const spool = new Spool(join(tmp.dir, "s3"), { maxBytes: 1000 });
    let n = 0;
    while (!spool.full) spool.append({}, Buffer.alloc(100, n++));
    assert.ok(spool.unacknowledgedBytes >= 1000 && n <= 10);
    let roomy = false;
    const waiting = spool.waitForRoom().then(() => (roomy = true));
    await new Promise((r) => setImmediate(r));
    assert.equal(roomy, false);
    spool.ack(0);
    spool.ack(1);
    await waiting;
    assert.equal(roomy, true);
    for (let i = 2; i < n; i++) spool.ack(i);
    await spool.waitForEmpty();
    spool.close();
  });

  test("records beyond the memory budget are read back from disk", () => {
    const spool = new Spool(join(tmp.dir, "s4"), { memoryBytes: 50 });
    for (let i = 0; i < 5; i++) spool.append({}, Buffer.alloc(40, i));
    for (let i = 0; i < 5; i++) assert.deepEqual(Buffer.from(spool.get(i)!.payload), Buffer.alloc(40, i));
    spool.close();
  });
});
