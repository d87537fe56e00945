import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** The scikit-learn parity fixtures in ../shared/data/parity, shared by the SVM and logistic-regression tests. */
export const PARITY = fileURLToPath(new URL("../../../shared/data/parity", import.meta.url));

/** dataset.csv: standardised features and the label column `y`. */
export function readParityDataset(file: string): { X: number[][]; y: number[] } {
  const [header, ...rows] = readFileSync(file, "utf8").trim().split("\n");
  const label = header.split(",").indexOf("y");
  assert.ok(label >= 0, "dataset.csv has a y column");
  const X: number[][] = [];
  const y: number[] = [];
  for (const row of rows) {
    const values = row.split(",").map(Number);
    y.push(values[label]);
    X.push(values.filter((_, j) => j !== label));
  }
  return { X, y };
}
