/**
 * FlowMeter compatibility against the real FlowMeter's output: every golden file in
 * ../shared/data/flowmeter/golden must equal our compat output for its capture, cell by cell (rows keyed by
 * fiveTuple, since FlowMeter's row order is random); captures without a golden file must give no row.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { it } from "node:test";
import { fileURLToPath } from "node:url";
import { readFlowCsv, splitCsvLine } from "../../src/network/csv/read.ts";
import { flowMeterRowToLine } from "../../src/network/csv/write.ts";
import { extractFlowMeterRows, FLOWMETER_CSV_COLUMNS } from "../../src/network/flowmeter/compat.ts";
import { loadPortNames } from "../../src/network/flowmeter/ports.ts";
import { FLOWMETER_FEATURES } from "../../src/network/flows/features.ts";

const DATA = fileURLToPath(new URL("../../../shared/data", import.meta.url));
const FLOWMETER = join(DATA, "flowmeter");
const PCAPS = join(DATA, "pcaps");

function captures(): Map<string, string> {
  const byName = new Map<string, string>();
  for (const category of readdirSync(PCAPS, { withFileTypes: true })) {
    if (!category.isDirectory()) continue;
    for (const f of readdirSync(join(PCAPS, category.name))) {
      if (f.endsWith(".pcap")) byName.set(f.slice(0, -5), join(PCAPS, category.name, f));
    }
  }
  return byName;
}

function keyed(lines: string[], where: string): Map<string, string[]> {
  const rows = new Map<string, string[]>();
  lines.forEach((line, i) => {
    const cells = splitCsvLine(line, where, i + 2);
    assert.ok(!rows.has(cells[0]), `${where}: duplicate fiveTuple ${cells[0]}`);
    rows.set(cells[0], cells);
  });
  return rows;
}

it("reproduces every FlowMeter golden file cell by cell", { timeout: 300_000 }, async (t) => {
  if (!existsSync(join(FLOWMETER, "golden")) || !existsSync(PCAPS)) {
    t.skip(`FlowMeter golden files or captures not found under ${DATA}`);
    return;
  }
  const portNames = await loadPortNames(join(FLOWMETER, "port_names.json"));
  const goldens = new Map(
    readdirSync(join(FLOWMETER, "golden"))
      .filter((f) => f.endsWith(".flowmeter.csv"))
      .map((f) => [f.slice(0, -".flowmeter.csv".length), join(FLOWMETER, "golden", f)]),
  );
  const all = captures();
  const mismatches: string[] = [];
  let cells = 0;
  for (const name of goldens.keys())
    if (!all.has(name)) mismatches.push(`${name}: golden file without a capture`);
  for (const [name, pcap] of all) {
    const lines: string[] = [];
    for await (const row of extractFlowMeterRows(pcap, { portNames })) lines.push(flowMeterRowToLine(row));
    const golden = goldens.get(name);
    if (golden === undefined) {
      if (lines.length > 0)
        mismatches.push(
          `${name}: no golden file, but ${lines.length} row(s), e.g. ${lines[0].split(",")[0]}`,
        );
      continue;
    }
    const [header, ...expectedLines] = readFileSync(golden, "utf8").trimEnd().split("\n");
    assert.equal(header, FLOWMETER_CSV_COLUMNS.join(","), `${golden}: header`);
    const expected = keyed(expectedLines, golden);
    const got = keyed(lines, `${name} (ours)`);
    for (const [key, exp] of expected) {
      const row = got.get(key);
      if (row === undefined) {
        mismatches.push(`${name} ${key}: row missing`);
        continue;
      }
      for (let c = 0; c < exp.length; c++) {
        cells++;
        if (row[c] !== exp[c])
          mismatches.push(`${name} ${key} ${FLOWMETER_CSV_COLUMNS[c]}: expected ${exp[c]}, got ${row[c]}`);
      }
    }
    for (const key of got.keys()) if (!expected.has(key)) mismatches.push(`${name} ${key}: extra row`);
  }
  assert.ok(cells > 0, "no cell compared");
  assert.deepEqual(mismatches.slice(0, 50), [], `${mismatches.length} mismatch(es) over ${cells} cells`);
});

it("matches FlowMeter's model parameters and reads its shipped training CSV", async (t) => {
  if (!existsSync(join(FLOWMETER, "parameters"))) {
    t.skip(`FlowMeter data not found at ${FLOWMETER}`);
    return;
  }
  for (const f of ["mean.txt", "std.txt", "weights.txt"]) {
    const values = readFileSync(join(FLOWMETER, "parameters", f), "utf8")
      .trim()
      .split("\n");
    assert.equal(values.length, FLOWMETER_FEATURES.length, f);
  }
  const webgoat = await readFlowCsv(join(FLOWMETER, "webgoat_flow_stats.csv"));
  assert.equal(webgoat.kind, "flowmeter");
  assert.equal(webgoat.rows.length, 249);
  const fwdFlowLength = FLOWMETER_FEATURES.indexOf("fwdFlowLength");
  // Made in FlowMeter's (accidental) local-IP mode: every flow is one-directional.
  assert.ok(webgoat.rows.every((r) => r.features[fwdFlowLength] === 0));
  assert.ok(webgoat.rows.every((r) => r.features.length === 39));
});
