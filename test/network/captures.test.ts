import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { closeSync, existsSync, openSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { InputError, UsageError } from "../../src/core/errors.ts";
import {
  type ExtractionProgress,
  FLOW_CSV_COLUMNS_NO_CONTEXT,
  FLOWMETER_CSV_COLUMNS,
  writeFlowsForCaptures,
} from "../../src/network/index.ts";
import { pcapFile, type TestPacket, tempDir } from "./helpers/captures.ts";
import { ethernet, ipv4, tcp } from "./helpers/packets.ts";

const tmp = tempDir();
after(tmp.cleanup);

const packets: TestPacket[] = Array.from({ length: 20 }, (_, i) => ({
  sec: 100,
  nsec: i * 1000,
  data: ethernet(
    0x0800,
    i % 2 === 0
      ? ipv4({ src: "1.1.1.1", dst: "2.2.2.2", protocol: 6, payload: tcp({ sport: 5000, dport: 80 }) })
      : ipv4({ src: "2.2.2.2", dst: "1.1.1.1", protocol: 6, payload: tcp({ sport: 80, dport: 5000 }) }),
  ),
}));

describe("writeFlowsForCaptures", () => {
  const a = tmp.write("a.pcap", pcapFile(packets));
  const cut = pcapFile(packets);
  const b = tmp.write("b.pcap", cut.subarray(0, cut.length - 5));

  it("writes one CSV for several captures, reporting progress and warnings", async () => {
    const out = join(tmp.dir, "flows.csv");
    const progress: ExtractionProgress[] = [];
    const warnings: string[] = [];
    const summary = await writeFlowsForCaptures([a, b], out, {
      onProgress: (p) => progress.push(p),
      onWarning: (w) => warnings.push(w.message),
    });
    assert.deepEqual([summary.captures, summary.packets, summary.rows, summary.compat], [2, 39, 2, false]);
    assert.equal(summary.warnings.length, 1);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /cut short/);
    const lines = readFileSync(out, "utf8").trimEnd().split("\n");
    assert.equal(lines[0], FLOW_CSV_COLUMNS_NO_CONTEXT.join(",")); // context columns only with withContext
    assert.equal(lines.length, 3);
    assert.ok(lines[1].startsWith(`${a},1.1.1.1,5000,2.2.2.2,80,6,4,100.000000000,100.000019000,end,`));
    assert.deepEqual([...new Set(progress.map((p) => p.captureIndex))], [0, 1]);
    const lastOfA = progress.filter((p) => p.captureIndex === 0).at(-1);
    assert.equal(lastOfA?.bytesRead, lastOfA?.bytesTotal);
    assert.deepEqual(
      readdirSync(tmp.dir).filter((f) => f.includes("partial")),
      [],
    );
  });

  it("writes FlowMeter's CSV in compat mode, and needs the port table for it", async () => {
    const ports = tmp.write("ports.json", Buffer.from('{"tcp": {"80": "http"}, "udp": {}}'));
    const out = join(tmp.dir, "fm.csv");
    const summary = await writeFlowsForCaptures([a], out, { flowmeterCompat: true, portNamesPath: ports });
    assert.equal(summary.rows, 1);
    const lines = readFileSync(out, "utf8").trimEnd().split("\n");
    assert.equal(lines[0], FLOWMETER_CSV_COLUMNS.join(","));
    assert.ok(
      lines[1].startsWith(
        "1.1.1.1--2.2.2.2--TCP--5000--80(http),2.2.2.2,1.1.1.1,TCP,80(http),5000,19000.000000,20.000000,",
      ),
    );
    await assert.rejects(writeFlowsForCaptures([a], out, { flowmeterCompat: true }), UsageError);
    await assert.rejects(writeFlowsForCaptures([], out), UsageError);
  });

  it("writes into a pipe or a device in place instead of replacing it (-o /dev/null, a FIFO)", async () => {
    const fifo = join(tmp.dir, "flows.fifo");
    const copy = join(tmp.dir, "from-fifo.csv");
    execFileSync("mkfifo", [fifo]);
    // The reader is another process: opening a FIFO for writing blocks until it has a reader.
    const out = openSync(copy, "w");
    const reader = spawn("cat", [fifo], { stdio: ["ignore", out, "ignore"] });
    closeSync(out);
    const exited = once(reader, "exit");
    try {
      const summary = await writeFlowsForCaptures([a], fifo);
      assert.ok(statSync(fifo).isFIFO(), "the FIFO was replaced by a file");
      assert.deepEqual(await exited, [0, null]);
      assert.equal(readFileSync(copy, "utf8").trimEnd().split("\n").length, 1 + summary.rows);
      assert.deepEqual(
        readdirSync(tmp.dir).filter((f) => f.includes("partial")),
        [],
      );
    } finally {
      reader.kill();
    }
  });

  it("leaves no output behind when a capture is unreadable", async () => {
    const out = join(tmp.dir, "never.csv");
    const bad = tmp.write("bad.pcap", Buffer.from("not a capture at all"));
    await assert.rejects(writeFlowsForCaptures([a, bad], out), InputError);
    assert.equal(existsSync(out), false);
    assert.deepEqual(
      readdirSync(tmp.dir).filter((f) => f.includes("partial")),
      [],
    );
  });
});
