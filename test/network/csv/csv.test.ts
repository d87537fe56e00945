import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { after, describe, it } from "node:test";
import { InputError } from "../../../src/core/errors.ts";
import { readFlowCsv, splitCsvLine } from "../../../src/network/csv/read.ts";
import { FLOW_CSV_COLUMNS, flowsToRows, writeFlowsCsv } from "../../../src/network/csv/write.ts";
import { FLOWMETER_CSV_COLUMNS, type FlowMeterRow } from "../../../src/network/flowmeter/compat.ts";
import { flowFeatureNames } from "../../../src/network/flows/features.ts";
import type { Flow } from "../../../src/network/flows/table.ts";
import { tempDir } from "../helpers/captures.ts";

const tmp = tempDir();
after(tmp.cleanup);

function sampleFlow(i: number): Flow {
  return {
    capture: i === 0 ? "dir,with comma/a.pcap" : "b.pcap",
    ipVersion: 4,
    protocol: 6,
    srcIp: `10.0.0.${i}`,
    srcPort: 40000 + i,
    dstIp: "10.0.0.254",
    dstPort: 443,
    startSec: 1_700_000_000,
    startNsec: 5,
    endSec: 1_700_000_001,
    endNsec: 999_999_999,
    endReason: "fin",
    features: Float64Array.from(flowFeatureNames, (_, j) => j * 0.5 + i + 1e-7),
  };
}

const meterRow: FlowMeterRow = {
  capture: "x.pcap",
  fiveTuple: "1.1.1.1--2.2.2.2--TCP--3283(Apple Remote Desktop (Net Assistant))--80(http)",
  srcIP: "2.2.2.2",
  dstIP: "1.1.1.1",
  protocol: "TCP",
  srcPort: "80(http)",
  dstPort: "3283(Apple Remote Desktop (Net Assistant))",
  values: Float64Array.from({ length: 33 }, (_, i) => (i === 0 ? 2e9 : i / 3)),
};

async function written(flows: Flow[] | FlowMeterRow[], compat: boolean): Promise<string> {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on("data", (c: Buffer) => chunks.push(c));
  const n = compat
    ? await writeFlowsCsv(stream, flows as FlowMeterRow[], { compat: true })
    : await writeFlowsCsv(stream, flows as Flow[]);
  assert.equal(n, flows.length);
  stream.end();
  return Buffer.concat(chunks).toString("utf8");
}

describe("flow CSV", () => {
  it("writes threatlens flows and reads them back exactly", async () => {
    const flows = [sampleFlow(0), sampleFlow(1)];
    const text = await written(flows, false);
    const lines = text.trimEnd().split("\n");
    assert.equal(lines[0], FLOW_CSV_COLUMNS.join(","));
    assert.ok(
      lines[1].startsWith(
        '"dir,with comma/a.pcap",10.0.0.0,40000,10.0.0.254,443,6,4,1700000000.000000005,1700000001.999999999,fin,',
      ),
    );
    assert.deepEqual(flowsToRows(flows)[1].slice(0, 3), ["b.pcap", "10.0.0.1", 40001]);
    const table = await readFlowCsv(tmp.write("own.csv", Buffer.from(text)));
    assert.equal(table.kind, "threatlens");
    assert.deepEqual(table.featureNames, flowFeatureNames);
    assert.deepEqual(
      table.rows.map((r) => [r.line, r.meta[0], Array.from(r.features)]),
      flows.map((f, i) => [i + 2, f.capture, Array.from(f.features)]),
    );
  });

  it("writes FlowMeter rows byte-for-byte in its format and reads its 39 features", async () => {
    const text = await written([meterRow], true);
    const [header, line] = text.trimEnd().split("\n");
    assert.equal(header, FLOWMETER_CSV_COLUMNS.join(","));
    assert.ok(
      line.startsWith(
        `${meterRow.fiveTuple},2.2.2.2,1.1.1.1,TCP,80(http),3283(Apple Remote Desktop (Net Assistant)),2000000000.000000,0.333333,`,
      ),
    );
    const rows: number[][] = [];
    const table = await readFlowCsv(tmp.write("fm.csv", Buffer.from(text)), (r) =>
      rows.push(Array.from(r.features)),
    );
    assert.equal(table.kind, "flowmeter");
    assert.equal(table.rows.length, 0); // streamed to the callback instead
    assert.equal(rows[0].length, 39);
    assert.equal(rows[0][1], 0.333333);
    assert.equal(rows[0][33], 0.333333 / 2e9);
  });

  it("names file, line and column for bad input", async () => {
    const header = FLOWMETER_CSV_COLUMNS.join(",");
    const good = `a--b--TCP--1--2,b,a,TCP,2,1,${new Array(33).fill("1.000000").join(",")}`;
    const cases: [string, RegExp, number][] = [
      ["", /empty file/, 1],
      [`fiveTuple,srcIP,dstIP\n${good}`, /column 4 is "\(missing\)", expected "protocol"/, 1],
      [`${header},extra\n`, /1 extra column\(s\)/, 1],
      [`capture,srcIp\n`, /column 3 is "\(missing\)", expected "srcPort"/, 1],
      [
        `${header}\n${good}\n${good.replace("1.000000", "x")}\n`,
        /column flowDuration: "x" is not a number/,
        3,
      ],
      [`${header}\n${good}\n\n${good},1\n`, /row has 40 fields, the header has 39/, 4],
      [`${header}\n"a,${good}\n`, /unterminated quoted field/, 2],
    ];
    for (const [i, [text, pattern, line]] of cases.entries()) {
      const file = tmp.write(`bad${i}.csv`, Buffer.from(text));
      await assert.rejects(readFlowCsv(file), (err: unknown) => {
        assert.ok(err instanceof InputError, String(err));
        assert.match(err.message, pattern);
        assert.deepEqual([err.location.file, err.location.line], [file, line]);
        return true;
      });
    }
  });

  it("splits quoted fields and Go's infinities", async () => {
    assert.deepEqual(splitCsvLine('a,"b,""c""",,"d"', "f", 1), ["a", 'b,"c"', "", "d"]);
    const header = FLOWMETER_CSV_COLUMNS.join(",");
    const file = tmp.write(
      "inf.csv",
      Buffer.from(
        `\ufeff${header}\r\nk,b,a,TCP,2,1,${["+Inf", "NaN", ...new Array(31).fill("-Inf")].join(",")}\r\n`,
      ),
    );
    const { rows } = await readFlowCsv(file);
    assert.equal(rows[0].features[0], Number.POSITIVE_INFINITY);
    assert.ok(Number.isNaN(rows[0].features[1]));
  });

  it("streams with back-pressure", async () => {
    const flows = Array.from({ length: 3000 }, (_, i) => sampleFlow(i % 200));
    const text = await written(flows, false);
    assert.equal(text.trimEnd().split("\n").length, 3001);
  });
});
