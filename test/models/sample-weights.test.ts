import assert from "node:assert/strict";
import { test } from "node:test";
import { sampleWeights } from "../../src/models/sample-weights.ts";

// Class 1: a capture of 16 flows and one of 1; class 0: four captures of 1 flow.
const y = [...new Array(17).fill(1), 0, 0, 0, 0];
const groups = [...new Array(16).fill(0), 1, 2, 3, 4, 5];

function classTotals(w: Float64Array): number[] {
  const t = [0, 0];
  w.forEach((v, i) => {
    t[y[i]] += v;
  });
  return t;
}

test("sample weights: every mode balances the classes to n/2 each", () => {
  for (const mode of ["flows", "captures", "sqrt"] as const) {
    const [negative, positive] = classTotals(sampleWeights(y, groups, mode));
    assert.ok(Math.abs(negative - y.length / 2) < 1e-9, `${mode}: class 0 sums to ${negative}`);
    assert.ok(Math.abs(positive - y.length / 2) < 1e-9, `${mode}: class 1 sums to ${positive}`);
  }
});

test("sample weights: a capture of 16 flows weighs 16×, 1× or 4× a capture of one (flows, captures, sqrt)", () => {
  const ratio = (w: Float64Array) => (16 * w[0]) / w[16];
  assert.ok(Math.abs(ratio(sampleWeights(y, groups, "flows")) - 16) < 1e-9);
  assert.ok(Math.abs(ratio(sampleWeights(y, groups, "captures")) - 1) < 1e-9);
  assert.ok(Math.abs(ratio(sampleWeights(y, groups, "sqrt")) - 4) < 1e-9);
});
