import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InputError, ModelFileError } from "../../src/core/errors.ts";
import { randomNormal, seededRandom } from "../../src/core/random.ts";
import {
  decisionLogistic,
  fitLogistic,
  type LogisticModel,
  type LogisticParams,
  predictProba,
  validateLogisticModel,
} from "../../src/models/logistic.ts";

interface Sample {
  X: number[][];
  y: number[];
}

/** Rows x ~ N(0, I) (first `d` columns), labels drawn from the logistic model with `weights` and `intercept`. */
function logisticSample(seed: number, n: number, weights: number[], intercept: number): Sample {
  const random = seededRandom(seed);
  const X: number[][] = [];
  const y: number[] = [];
  for (let i = 0; i < n; i++) {
    const row = weights.map(() => randomNormal(random));
    let z = intercept;
    for (let j = 0; j < row.length; j++) z += weights[j] * row[j];
    X.push(row);
    y.push(random() < 1 / (1 + Math.exp(-z)) ? 1 : 0);
  }
  return { X, y };
}

function classWeightsOf(params: LogisticParams, y: number[]): [number, number] {
  const cw = params.classWeight;
  if (cw === undefined) return [1, 1];
  if (cw === "balanced") {
    const positives = y.filter((v) => v === 1).length;
    return [y.length / (2 * (y.length - positives)), y.length / (2 * positives)];
  }
  return [cw.negative, cw.positive];
}

/** The objective written out independently of the solver: C · Σ cw[y]·logloss + penalty(w). */
function objective(sample: Sample, params: LogisticParams, weights: number[], intercept: number): number {
  const [cw0, cw1] = classWeightsOf(params, sample.y);
  let loss = 0;
  sample.X.forEach((row, i) => {
    let z = intercept;
    row.forEach((v, j) => {
      z += weights[j] * v;
    });
    const t = sample.y[i] === 1 ? -z : z;
    loss += (sample.y[i] === 1 ? cw1 : cw0) * (Math.max(t, 0) + Math.log1p(Math.exp(-Math.abs(t))));
  });
  const penalty =
    params.penalty === "l2"
      ? weights.reduce((s, w) => s + w * w, 0) / 2
      : weights.reduce((s, w) => s + Math.abs(w), 0);
  return params.C * loss + penalty;
}

/** Gradient of C · Σ cw[y]·logloss alone (no penalty), coefficients then intercept. */
function lossGradient(sample: Sample, params: LogisticParams, model: LogisticModel): number[] {
  const [cw0, cw1] = classWeightsOf(params, sample.y);
  const d = model.weights.length;
  const g = new Array(d + 1).fill(0);
  const p = predictProba(model, sample.X);
  sample.X.forEach((row, i) => {
    const r = params.C * (sample.y[i] === 1 ? cw1 : cw0) * (p[i] - sample.y[i]);
    for (let j = 0; j < d; j++) g[j] += r * row[j];
    g[d] += r;
  });
  return g;
}

/** Central finite difference of the objective along coordinate j (j = d is the intercept). */
function finiteDifference(
  sample: Sample,
  params: LogisticParams,
  model: LogisticModel,
  j: number,
  h: number,
): number {
  const at = (delta: number): number => {
    const w = model.weights.slice();
    let b = model.intercept;
    if (j === w.length) b += delta;
    else w[j] += delta;
    return objective(sample, params, w, b);
  };
  return (at(h) - at(-h)) / (2 * h);
}

describe("fitLogistic", () => {
  it("recovers the generating model's signs and magnitudes with large n", () => {
    const truth = [1.5, -1, 0.5, 0];
    const sample = logisticSample(1, 20000, truth, -0.5);
    for (const penalty of ["l2", "l1"] as const) {
      const model = fitLogistic(sample.X, sample.y, { penalty, C: 100, fitIntercept: true });
      assert.ok(model.converged, penalty);
      truth.forEach((w, j) => {
        assert.ok(
          Math.abs(model.weights[j] - w) < 0.08,
          `${penalty} w${j} = ${model.weights[j]}, truth ${w}`,
        );
        if (w !== 0) assert.equal(Math.sign(model.weights[j]), Math.sign(w));
      });
      assert.ok(Math.abs(model.intercept + 0.5) < 0.08, `${penalty} intercept ${model.intercept}`);
    }
  });

  it("l2: the finite-difference gradient of the objective vanishes at the optimum", () => {
    const sample = logisticSample(2, 400, [0.8, -0.4, 0.2], 0.3);
    const params: LogisticParams = {
      penalty: "l2",
      C: 0.5,
      classWeight: { negative: 1, positive: 3 },
      fitIntercept: true,
    };
    const model = fitLogistic(sample.X, sample.y, params);
    assert.ok(model.converged);
    for (let j = 0; j <= 3; j++) {
      const g = finiteDifference(sample, params, model, j, 1e-5);
      assert.ok(Math.abs(g) < 1e-6, `∂F/∂β${j} = ${g}`);
    }
    // The check has teeth: away from the optimum the same differences are large.
    const off = { ...model, weights: model.weights.map((w) => w + 0.05) };
    assert.ok(Math.abs(finiteDifference(sample, params, off, 0, 1e-5)) > 1e-2);
    // gradientNorm is the norm of the gradient the test computes independently.
    const g = lossGradient(sample, params, model);
    model.weights.forEach((w, j) => {
      g[j] += w;
    });
    assert.ok(Math.abs(Math.hypot(...g) - model.gradientNorm) < 1e-9);
  });

  it("l1: KKT conditions hold at the optimum (finite differences on non-zero coefficients)", () => {
    const sample = logisticSample(3, 500, [1, -0.6, 0, 0, 0.3, 0], -0.2);
    const params: LogisticParams = { penalty: "l1", C: 0.05, fitIntercept: true };
    const model = fitLogistic(sample.X, sample.y, params);
    assert.ok(model.converged);
    const lossGrad = lossGradient(sample, params, model);
    model.weights.forEach((w, j) => {
      if (w === 0) {
        // Zero coefficients: the loss gradient lies inside the penalty's subdifferential [−1, 1].
        assert.ok(Math.abs(lossGrad[j]) <= 1 + 1e-9, `|∂loss/∂w${j}| = ${Math.abs(lossGrad[j])}`);
      } else {
        const g = finiteDifference(sample, params, model, j, 1e-6);
        assert.ok(Math.abs(g) < 1e-5, `∂F/∂w${j} = ${g}`);
      }
    });
    assert.ok(Math.abs(finiteDifference(sample, params, model, 6, 1e-6)) < 1e-5, "intercept");
    assert.ok(
      model.weights.some((w) => w === 0),
      "this setting must exercise zero coefficients",
    );
  });

  it("the returned point is no worse than random perturbations of it", () => {
    const sample = logisticSample(4, 300, [0.5, 0.5, -1], 1);
    for (const penalty of ["l1", "l2"] as const) {
      const params: LogisticParams = { penalty, C: 0.3, classWeight: "balanced", fitIntercept: true };
      const model = fitLogistic(sample.X, sample.y, params);
      const best = objective(sample, params, model.weights, model.intercept);
      const random = seededRandom(5);
      for (let k = 0; k < 50; k++) {
        const w = model.weights.map((v) => v + 1e-3 * randomNormal(random));
        const b = model.intercept + 1e-3 * randomNormal(random);
        assert.ok(objective(sample, params, w, b) >= best - 1e-12, `${penalty} perturbation ${k}`);
      }
    }
  });

  it("l1 at small C sets irrelevant features to exactly zero and keeps the relevant ones", () => {
    const sample = logisticSample(6, 3000, [1.2, -0.8, 0.6, 0, 0, 0, 0, 0], 0);
    const model = fitLogistic(sample.X, sample.y, { penalty: "l1", C: 0.01, fitIntercept: true });
    assert.ok(model.converged);
    for (let j = 0; j < 3; j++) assert.notEqual(model.weights[j], 0, `relevant w${j}`);
    for (let j = 3; j < 8; j++) assert.equal(model.weights[j], 0, `irrelevant w${j} = ${model.weights[j]}`);
    // l2 at the same C keeps every coefficient non-zero: the zeros come from the l1 penalty.
    const ridge = fitLogistic(sample.X, sample.y, { penalty: "l2", C: 0.01, fitIntercept: true });
    assert.ok(ridge.weights.every((w) => w !== 0));
  });

  it("l1 at tiny C leaves only the intercept, at the weighted log-odds of the classes", () => {
    const sample = logisticSample(7, 1000, [1, 1], -1);
    const negatives = sample.y.filter((v) => v === 0).length;
    const positives = sample.y.length - negatives;
    const classWeight = { negative: 0.5, positive: 4 };
    const model = fitLogistic(sample.X, sample.y, {
      penalty: "l1",
      C: 1e-4,
      classWeight,
      fitIntercept: true,
    });
    assert.deepEqual(model.weights, [0, 0]);
    const expected = Math.log((classWeight.positive * positives) / (classWeight.negative * negatives));
    assert.ok(Math.abs(model.intercept - expected) < 1e-8, `${model.intercept} vs ${expected}`);
  });

  it("class weights move the intercept in the expected direction", () => {
    const sample = logisticSample(8, 2000, [1, -1], -2.5); // positives are rare
    const base: LogisticParams = { penalty: "l2", C: 1, fitIntercept: true };
    const plain = fitLogistic(sample.X, sample.y, base);
    const upPositive = fitLogistic(sample.X, sample.y, {
      ...base,
      classWeight: { negative: 1, positive: 10 },
    });
    const upNegative = fitLogistic(sample.X, sample.y, {
      ...base,
      classWeight: { negative: 10, positive: 1 },
    });
    const balanced = fitLogistic(sample.X, sample.y, { ...base, classWeight: "balanced" });
    assert.ok(upPositive.intercept > plain.intercept + 1);
    assert.ok(upNegative.intercept < plain.intercept - 1);
    assert.ok(balanced.intercept > plain.intercept + 1);

    // "balanced" is n / (2·n_class), and only the product C·cw matters.
    const positives = sample.y.filter((v) => v === 1).length;
    const n = sample.y.length;
    const explicit = fitLogistic(sample.X, sample.y, {
      ...base,
      C: 2,
      classWeight: { negative: n / (4 * (n - positives)), positive: n / (4 * positives) },
    });
    balanced.weights.forEach((w, j) => {
      assert.ok(Math.abs(w - explicit.weights[j]) < 1e-9);
    });
    assert.ok(Math.abs(balanced.intercept - explicit.intercept) < 1e-9);
  });

  it("fitIntercept=false gives intercept 0 and absorbs the offset elsewhere", () => {
    const sample = logisticSample(9, 2000, [1, 0.5], 2);
    for (const penalty of ["l1", "l2"] as const) {
      const without = fitLogistic(sample.X, sample.y, { penalty, C: 1, fitIntercept: false });
      const withIt = fitLogistic(sample.X, sample.y, { penalty, C: 1, fitIntercept: true });
      assert.equal(without.intercept, 0);
      assert.ok(withIt.intercept > 1.5, `${penalty} intercept ${withIt.intercept}`);
      assert.ok(without.converged && withIt.converged);
      // Without the intercept every margin lacks the offset, so the mean probability is far too low.
      const meanP = (m: LogisticModel) =>
        predictProba(m, sample.X).reduce((s, v) => s + v, 0) / sample.y.length;
      assert.ok(meanP(withIt) > meanP(without) + 0.2);
    }
  });

  it("is deterministic", () => {
    const sample = logisticSample(10, 1000, [0.3, -0.7, 0.1], 0.2);
    for (const penalty of ["l1", "l2"] as const) {
      const params: LogisticParams = { penalty, C: 0.2, classWeight: "balanced", fitIntercept: true };
      assert.deepEqual(fitLogistic(sample.X, sample.y, params), fitLogistic(sample.X, sample.y, params));
    }
  });

  it("stays finite on perfectly separable data and reports convergence honestly", () => {
    const random = seededRandom(11);
    const X: number[][] = [];
    const y: number[] = [];
    for (let i = 0; i < 300; i++) {
      const a = randomNormal(random);
      const label = a > 0 ? 1 : 0;
      X.push([a + (label ? 0.3 : -0.3), randomNormal(random)]);
      y.push(label);
    }
    for (const penalty of ["l1", "l2"] as const) {
      for (const fitIntercept of [true, false]) {
        const cut = fitLogistic(X, y, { penalty, C: 1e10, fitIntercept, maxIter: 3 });
        assert.equal(cut.iterations, 3);
        assert.equal(cut.converged, false, `${penalty}: 3 iterations cannot reach the optimum at C = 1e10`);
        const full = fitLogistic(X, y, { penalty, C: 1e10, fitIntercept });
        for (const model of [cut, full]) {
          assert.ok(model.weights.every(Number.isFinite) && Number.isFinite(model.intercept));
          assert.ok(Number.isFinite(model.gradientNorm));
          const p = predictProba(model, X);
          assert.ok(
            p.every((v, i) => v > 0.5 === (y[i] === 1)),
            "separates the training set",
          );
        }
        // Weights grow with C on separable data, as the regularised optimum should.
        assert.ok(full.weights[0] > cut.weights[0]);
      }
    }
  });

  it("converges on badly conditioned data: mixed scales, duplicated and dependent columns", () => {
    const random = seededRandom(12);
    const X: number[][] = [];
    const y: number[] = [];
    for (let i = 0; i < 3000; i++) {
      const bytesFwd = Math.exp(6 + randomNormal(random));
      const bytesBwd = Math.exp(8 + 2 * randomNormal(random));
      const nanos = 1e9 * Math.exp(randomNormal(random));
      const z = 0.002 * bytesFwd - 0.0002 * bytesBwd + 1e-9 * nanos - 0.5;
      // bytesFwd, bytesBwd, their exact total, a duplicate column, a nanosecond-scale column, a tiny-scale one.
      X.push([bytesFwd, bytesBwd, bytesFwd + bytesBwd, bytesFwd, nanos, 1e-4 * randomNormal(random)]);
      y.push(random() < 1 / (1 + Math.exp(-z)) ? 1 : 0);
    }
    for (const penalty of ["l1", "l2"] as const) {
      for (const C of [0.01, 1, 1e4]) {
        const model = fitLogistic(X, y, { penalty, C, classWeight: "balanced", fitIntercept: true });
        assert.ok(
          model.converged,
          `${penalty} C=${C}: ${model.iterations} iterations, |g| ${model.gradientNorm}`,
        );
        assert.ok(model.weights.every(Number.isFinite));
        if (penalty === "l2") {
          // Identical columns have identical weights at the (unique, strictly convex) l2 optimum. Only the ridge
          // term tells them apart, which is tiny next to the loss gradient, hence the loose tolerance.
          const [a, , , b] = model.weights;
          assert.ok(Math.abs(a - b) <= 1e-4 * Math.abs(a), `duplicate columns ${a} vs ${b}`);
        }
      }
    }
  });

  it("rejects bad input with InputError", () => {
    const X = [
      [0, 1],
      [1, 0],
      [1, 1],
    ];
    const params: LogisticParams = { penalty: "l2", C: 1, fitIntercept: true };
    const bad: [string, () => unknown][] = [
      ["label count", () => fitLogistic(X, [0, 1], params)],
      ["ragged row", () => fitLogistic([[0, 1], [1], [1, 1]], [0, 1, 1], params)],
      ["NaN feature", () => fitLogistic([[0, Number.NaN], ...X.slice(1)], [0, 1, 1], params)],
      ["label 2", () => fitLogistic(X, [0, 1, 2], params)],
      ["one class", () => fitLogistic(X, [1, 1, 1], params)],
      ["no rows", () => fitLogistic([], [], params)],
      ["C = 0", () => fitLogistic(X, [0, 1, 1], { ...params, C: 0 })],
      ["penalty", () => fitLogistic(X, [0, 1, 1], { ...params, penalty: "elasticnet" as "l1" })],
      [
        "class weight",
        () => fitLogistic(X, [0, 1, 1], { ...params, classWeight: { negative: -1, positive: 1 } }),
      ],
      ["maxIter", () => fitLogistic(X, [0, 1, 1], { ...params, maxIter: 0.5 })],
    ];
    for (const [name, run] of bad) assert.throws(run, InputError, name);
  });
});

describe("predictProba / decisionLogistic", () => {
  const model: LogisticModel = {
    weights: [2, -1],
    intercept: 0.5,
    params: { penalty: "l2", C: 1, fitIntercept: true },
    iterations: 1,
    gradientNorm: 0,
    converged: true,
  };

  it("computes w·x + b and its sigmoid", () => {
    const z = decisionLogistic(model, [
      [1, 1],
      [0, 3],
    ]);
    assert.deepEqual(Array.from(z), [1.5, -2.5]);
    const p = predictProba(model, [[1, 1]]);
    assert.ok(Math.abs(p[0] - 1 / (1 + Math.exp(-1.5))) < 1e-15);
  });

  it("is numerically stable at extreme margins", () => {
    const p = predictProba(model, [
      [1000, 0],
      [-1000, 0],
      [-300, 0],
    ]);
    assert.equal(p[0], 1);
    assert.equal(p[1], 0);
    assert.ok(p[2] > 0 && p[2] < 1e-250, "tiny probabilities are not rounded to 0");
  });

  it("rejects rows of the wrong width", () => {
    assert.throws(() => decisionLogistic(model, [[1, 2, 3]]), InputError);
  });
});

describe("validateLogisticModel", () => {
  const sample = logisticSample(13, 200, [1, -1, 0.5], 0);
  const fitted = fitLogistic(sample.X, sample.y, {
    penalty: "l1",
    C: 0.5,
    classWeight: "balanced",
    fitIntercept: true,
  });

  it("accepts a fitted model after a JSON round trip", () => {
    const back = validateLogisticModel(JSON.parse(JSON.stringify(fitted)), { features: 3 });
    assert.deepEqual(back, fitted);
  });

  it("rejects corrupted objects with ModelFileError naming the file", () => {
    const corrupt = (change: (m: Record<string, unknown>) => void): unknown => {
      const copy = JSON.parse(JSON.stringify(fitted));
      change(copy);
      return copy;
    };
    const cases: [string, unknown][] = [
      ["null", null],
      ["array", [1, 2]],
      ["missing weights", corrupt((m) => delete m.weights)],
      ["empty weights", corrupt((m) => (m.weights = []))],
      ["NaN weight", corrupt((m) => ((m.weights as number[])[1] = Number.NaN))],
      ["string weight", corrupt((m) => ((m.weights as unknown[])[0] = "1"))],
      ["infinite intercept", corrupt((m) => (m.intercept = Number.POSITIVE_INFINITY))],
      ["missing params", corrupt((m) => delete m.params)],
      ["bad penalty", corrupt((m) => ((m.params as Record<string, unknown>).penalty = "l3"))],
      ["negative C", corrupt((m) => ((m.params as Record<string, unknown>).C = -1))],
      [
        "bad class weight",
        corrupt((m) => ((m.params as Record<string, unknown>).classWeight = { negative: 1 })),
      ],
      [
        "intercept without fitIntercept",
        corrupt((m) => ((m.params as Record<string, unknown>).fitIntercept = false)),
      ],
      ["fractional iterations", corrupt((m) => (m.iterations = 1.5))],
      ["negative gradient norm", corrupt((m) => (m.gradientNorm = -1))],
      ["converged not boolean", corrupt((m) => (m.converged = "yes"))],
    ];
    for (const [name, obj] of cases) {
      assert.throws(
        () => validateLogisticModel(obj, { file: "models/network.json" }),
        (error: unknown) =>
          error instanceof ModelFileError && error.message.startsWith("models/network.json: "),
        name,
      );
    }
    assert.throws(
      () => validateLogisticModel(JSON.parse(JSON.stringify(fitted)), { features: 4 }),
      ModelFileError,
    );
  });
});
