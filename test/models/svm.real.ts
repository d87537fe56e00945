import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { it } from "node:test";
import { decisionFunction, predictSvm, trainSvm } from "../../src/models/svm.ts";
import { PARITY, readParityDataset } from "./parity.ts";

interface ReferenceCase {
  kernel: "rbf" | "linear";
  C: number;
  gamma: "scale";
  gamma_value: number;
  class_weight: { "0"?: number; "1"?: number } | null;
  n_support: [number, number];
  decision_function_first20: number[];
  predict_all: number[];
}

/**
 * scikit-learn ran libsvm on the unrounded data; dataset.csv holds it to 10 significant digits. libsvm's solver
 * stops once the KKT violation is below its tolerance (1e-3), and where two working-set choices are nearly tied
 * its path can fork under input changes of that size (measured: adding ±5e-10 noise to the CSV flips the RBF
 * C=0.5 case between 1e-8 and 2.6e-4 from the reference, and moves the linear C=5 cases' support-vector counts
 * by a few). So every case must agree to the solver's tolerance and classify every row identically, and most
 * cases, which do not meet a fork, must agree to 1e-5, which only the same solver on the same problem achieves.
 */
const SOLVER_TOLERANCE = 1e-3;
const CLOSE = 1e-5;

it("reproduces scikit-learn's SVC (libsvm) on every parity case", async (t) => {
  if (!existsSync(PARITY)) {
    t.skip(`parity data not found at ${PARITY}`);
    return;
  }
  const { X, y } = readParityDataset(join(PARITY, "dataset.csv"));
  const cases: ReferenceCase[] = JSON.parse(readFileSync(join(PARITY, "sklearn_reference.json"), "utf8")).svc;
  assert.equal(cases.length, 8);
  let close = 0;
  for (const c of cases) {
    const name = `${c.kernel} C=${c.C} class_weight=${JSON.stringify(c.class_weight)}`;
    const model = await trainSvm(X, y, {
      kernel: c.kernel,
      C: c.C,
      gamma: c.gamma,
      classWeight: c.class_weight
        ? { negative: c.class_weight["0"] ?? 1, positive: c.class_weight["1"] ?? 1 }
        : undefined,
    });
    if (c.kernel === "rbf") {
      assert.ok(Math.abs(model.gamma! / c.gamma_value - 1) < 1e-9, `${name}: gamma ${model.gamma}`);
    }
    const decision = decisionFunction(model, X.slice(0, c.decision_function_first20.length));
    const worst = Math.max(
      ...c.decision_function_first20.map((r, i) => Math.abs(decision[i] - r) / Math.max(1, Math.abs(r))),
    );
    const predictions = predictSvm(model, X);
    const mismatches = c.predict_all.filter((p, i) => p !== predictions[i]).length;
    t.diagnostic(
      `${name}: n_support ${model.nSupport} (sklearn ${c.n_support}), max decision difference ${worst.toExponential(2)}, ${mismatches} prediction mismatches`,
    );
    assert.equal(mismatches, 0, `${name}: predictions differ`);
    assert.ok(worst < SOLVER_TOLERANCE, `${name}: decision differs by ${worst}`);
    model.nSupport.forEach((n, k) => {
      assert.ok(Math.abs(n - c.n_support[k]) <= 1, `${name}: n_support ${model.nSupport} vs ${c.n_support}`);
    });
    if (worst < CLOSE && model.nSupport.every((n, k) => n === c.n_support[k])) close++;
  }
  assert.ok(close > cases.length / 2, `only ${close} of ${cases.length} cases agree to ${CLOSE}`);
});
