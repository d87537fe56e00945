import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { ModelFileError } from "../../src/core/errors.ts";
import { seededRandom } from "../../src/core/random.ts";
import {
  binThresholds,
  DEFAULT_GBDT_PARAMS,
  gbdtDecision,
  trainGbdt,
  validateGbdt,
} from "../../src/models/gbdt.ts";

/** scikit-learn's HistGradientBoostingClassifier on the same data (scripts/gbdt-sklearn-fixture.py). */
interface Fixture {
  X: number[][];
  y: number[];
  w: number[];
  X_test: number[][];
  cases: {
    params: Record<string, number>;
    weighted: boolean;
    train_decision: number[];
    test_decision: number[];
  }[];
}
const fixture: Fixture = JSON.parse(
  readFileSync(join(import.meta.dirname, "fixtures", "gbdt-sklearn.json"), "utf8"),
);
const flat = (rows: number[][]) => Float64Array.from(rows.flat());

describe("gradient-boosted trees against scikit-learn", () => {
  for (const c of fixture.cases) {
    it(`${JSON.stringify(c.params)}${c.weighted ? " with sample weights" : ""}`, () => {
      const p = c.params;
      const model = trainGbdt(flat(fixture.X), 6, fixture.y, c.weighted ? fixture.w : null, {
        ...DEFAULT_GBDT_PARAMS,
        iterations: p.max_iter,
        learningRate: p.learning_rate,
        maxLeafNodes: p.max_leaf_nodes,
        minSamplesLeaf: p.min_samples_leaf,
        l2: p.l2_regularization,
        maxDepth: p.max_depth ?? null,
        maxBins: p.max_bins ?? 255,
      });
      const train = gbdtDecision(model, flat(fixture.X), fixture.X.length);
      const test = gbdtDecision(model, flat(fixture.X_test), fixture.X_test.length);
      // sklearn keeps gradients in float32: agreement to ~1e-5 on log-odds, not bit for bit.
      let worst = 0;
      for (const [i, v] of c.train_decision.entries()) worst = Math.max(worst, Math.abs(v - train[i]));
      for (const [i, v] of c.test_decision.entries()) worst = Math.max(worst, Math.abs(v - test[i]));
      assert.ok(worst < 1e-4, `largest log-odds difference ${worst}`);
    });
  }

  it("bins like sklearn: midpoints of distinct values, percentile midpoints past maxBins", () => {
    assert.deepEqual(Array.from(binThresholds(Float64Array.from([3, 1, 2, 2, 1]), 255)), [1.5, 2.5]);
    const many = Float64Array.from({ length: 1001 }, (_, i) => i);
    const t = binThresholds(many, 5);
    assert.deepEqual(Array.from(t), [200, 400, 600, 800]);
  });

  it("learns an XOR that no linear model can, and is deterministic", () => {
    const random = seededRandom(3);
    const n = 2000;
    const X = new Float64Array(n * 2);
    const y = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      X[2 * i] = random();
      X[2 * i + 1] = random();
      y[i] = X[2 * i] > 0.5 !== X[2 * i + 1] > 0.5 ? 1 : 0;
    }
    const params = { ...DEFAULT_GBDT_PARAMS, iterations: 30, maxLeafNodes: 4 };
    const a = trainGbdt(X, 2, y, null, params);
    const b = trainGbdt(X, 2, y, null, params);
    assert.deepEqual(a, b);
    const s = gbdtDecision(a, X, n);
    let correct = 0;
    for (let i = 0; i < n; i++) if (s[i] > 0 === (y[i] === 1)) correct++;
    assert.ok(correct / n > 0.9, `accuracy ${correct / n}`); // a linear model scores about 0.5
  });

  it("refuses stored trees that would not end at a leaf or read outside the row", () => {
    const good = trainGbdt(Float64Array.from([0, 1, 2, 3]), 1, [0, 0, 1, 1], null, {
      ...DEFAULT_GBDT_PARAMS,
      iterations: 1,
      minSamplesLeaf: 1,
    });
    assert.deepEqual(validateGbdt(JSON.parse(JSON.stringify(good)), { file: "m", features: 1 }), good);
    const bad = (edit: (m: typeof good) => void) => {
      const m = JSON.parse(JSON.stringify(good));
      edit(m);
      return () => validateGbdt(m, { file: "m", features: 1 });
    };
    assert.throws(
      bad((m) => (m.trees[0].left[0] = 0)),
      ModelFileError,
    );
    assert.throws(
      bad((m) => (m.trees[0].feature[0] = 5)),
      /out of range/,
    );
    assert.throws(
      bad((m) => m.trees[0].value.pop()),
      /value has/,
    );
    assert.throws(() => validateGbdt(good, { file: "m", features: 2 }), /1 features/);
  });
});
