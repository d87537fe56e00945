import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { it } from "node:test";
import { fitLogistic, type LogisticParams, predictProba } from "../../src/models/logistic.ts";
import { PARITY, readParityDataset } from "./parity.ts";

interface ReferenceCase {
  penalty: "l1" | "l2";
  C: number;
  class_weight: { "0": number; "1": number } | null;
  fit_intercept: boolean;
  coef: number[];
  intercept: number;
  proba_first5: number[];
}

it("matches scikit-learn's optimum on every logistic-regression parity case", (t) => {
  if (!existsSync(PARITY)) {
    t.skip(`parity data not found at ${PARITY}`);
    return;
  }
  const { X, y } = readParityDataset(join(PARITY, "dataset.csv"));
  const cases: ReferenceCase[] = JSON.parse(
    readFileSync(join(PARITY, "sklearn_reference.json"), "utf8"),
  ).logistic_regression;
  assert.equal(cases.length, 16);

  let worst = 0;
  for (const ref of cases) {
    const params: LogisticParams = {
      penalty: ref.penalty,
      C: ref.C,
      fitIntercept: ref.fit_intercept,
      classWeight: ref.class_weight
        ? { negative: ref.class_weight["0"], positive: ref.class_weight["1"] }
        : undefined,
    };
    const name = JSON.stringify(params);
    const model = fitLogistic(X, y, params);
    assert.ok(model.converged, `${name} did not converge`);
    assert.equal(model.weights.length, ref.coef.length);
    let delta = Math.abs(model.intercept - ref.intercept);
    model.weights.forEach((w, j) => {
      delta = Math.max(delta, Math.abs(w - ref.coef[j]));
      // sklearn's exact l1 zeros are exact zeros here too.
      if (ref.coef[j] === 0) assert.equal(w, 0, `${name} w${j}`);
    });
    assert.ok(delta < 1e-4, `${name}: max |Δcoef| ${delta}`);
    const proba = predictProba(model, X.slice(0, 5));
    ref.proba_first5.forEach((p, i) => {
      assert.ok(Math.abs(proba[i] - p) < 1e-4, `${name}: P(row ${i}) ${proba[i]} vs ${p}`);
    });
    worst = Math.max(worst, delta);
    t.diagnostic(`${name}: ${model.iterations} iterations, max |Δcoef| ${delta.toExponential(2)}`);
  }
  t.diagnostic(`worst max |Δcoef| over ${cases.length} cases: ${worst.toExponential(2)}`);
});
