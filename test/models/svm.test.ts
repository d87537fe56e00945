import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { describe, test } from "node:test";
import { InputError, ModelFileError } from "../../src/core/errors.ts";
import { randomInt, randomNormal, seededRandom } from "../../src/core/random.ts";
import { loadLibsvm, trainCSvc } from "../../src/models/libsvm.ts";
import {
  decisionFunction,
  predictSvm,
  type SvmModel,
  type SvmParams,
  trainSvm,
  validateSvmModel,
} from "../../src/models/svm.ts";

interface Data {
  X: number[][];
  y: number[];
}

/** Four Gaussian blobs at (±1, ±1); class 1 where both coordinates have the same sign. */
function xor(n: number, seed: number): Data {
  const random = seededRandom(seed);
  const X: number[][] = [];
  const y: number[] = [];
  for (let i = 0; i < n; i++) {
    const a = random() < 0.5 ? -1 : 1;
    const b = random() < 0.5 ? -1 : 1;
    X.push([a + 0.3 * randomNormal(random), b + 0.3 * randomNormal(random)]);
    y.push(a === b ? 1 : 0);
  }
  return { X, y };
}

/** Two overlapping Gaussian classes in `d` dimensions, class 1 shifted by `shift` along every axis. */
function blobs(n: number, d: number, positiveShare: number, shift: number, seed: number): Data {
  const random = seededRandom(seed);
  const X: number[][] = [];
  const y: number[] = [];
  for (let i = 0; i < n; i++) {
    const label = random() < positiveShare ? 1 : 0;
    X.push(Array.from({ length: d }, () => randomNormal(random) + label * shift));
    y.push(label);
  }
  return { X, y };
}

function accuracy(model: SvmModel, { X, y }: Data): number {
  const predicted = predictSvm(model, X);
  return predicted.filter((p, i) => p === y[i]).length / y.length;
}

function positives(predicted: Uint8Array): number {
  return predicted.reduce((sum, p) => sum + p, 0);
}

describe("trainSvm", () => {
  test("the RBF kernel learns XOR, the linear kernel cannot", async () => {
    const train = xor(300, 1);
    const heldOut = xor(300, 2);
    const rbf = await trainSvm(train.X, train.y, { kernel: "rbf", C: 10 });
    const linear = await trainSvm(train.X, train.y, { kernel: "linear", C: 10 });
    assert.ok(accuracy(rbf, heldOut) > 0.95, `rbf held-out accuracy ${accuracy(rbf, heldOut)}`);
    assert.ok(accuracy(linear, heldOut) < 0.7, `linear held-out accuracy ${accuracy(linear, heldOut)}`);
  });

  test("decision > 0 means class 1, whichever class comes first in the rows", async () => {
    const { X, y } = blobs(200, 3, 0.5, 3, 3);
    for (const kernel of ["rbf", "linear"] as const) {
      const classOneFirst = [...y.keys()].sort((a, b) => y[b] - y[a]);
      const model = await trainSvm(
        classOneFirst.map((i) => X[i]),
        classOneFirst.map((i) => y[i]),
        { kernel, C: 1 },
      );
      const [low, high] = decisionFunction(model, [
        [-3, -3, -3],
        [6, 6, 6],
      ]);
      assert.ok(low < 0 && high > 0, `${kernel}: ${low}, ${high}`);
      assert.ok(accuracy(model, { X, y }) > 0.95);
      // The support vectors are listed class 0 first, with the signs of their coefficients.
      const [n0, n1] = model.nSupport;
      assert.equal(n0 + n1, model.supportVectors.length);
      assert.ok(model.dualCoef.slice(0, n0).every((c) => c < 0));
      assert.ok(model.dualCoef.slice(n0).every((c) => c > 0));
    }
  });

  test("the model does not depend on how the two classes are interleaved", async () => {
    const { X, y } = blobs(150, 4, 0.3, 1.5, 4);
    const params: SvmParams = { kernel: "rbf", C: 2 };
    const reference = await trainSvm(X, y, params);
    const random = seededRandom(5);
    for (let trial = 0; trial < 5; trial++) {
      // A random merge of the two classes that keeps each class's own order.
      const queues = [0, 1].map((c) => [...y.keys()].filter((i) => y[i] === c));
      const order: number[] = [];
      while (queues[0].length + queues[1].length > 0) {
        const c = queues[1].length === 0 || (queues[0].length > 0 && random() < 0.5) ? 0 : 1;
        order.push(queues[c].shift()!);
      }
      const model = await trainSvm(
        order.map((i) => X[i]),
        order.map((i) => y[i]),
        params,
      );
      assert.deepEqual(model, reference);
    }
  });

  test("free support vectors sit on the margin: y·f(x) = 1 within libsvm's tolerance", async () => {
    const { X, y } = blobs(300, 5, 0.3, 1.2, 6);
    for (const params of [
      { kernel: "rbf", C: 1 },
      { kernel: "linear", C: 0.5, classWeight: { negative: 1, positive: 3 } },
    ] satisfies SvmParams[]) {
      const model = await trainSvm(X, y, params);
      const decision = decisionFunction(model, model.supportVectors);
      const [n0] = model.nSupport;
      let free = 0;
      model.dualCoef.forEach((coef, k) => {
        const bound = params.C * (k < n0 ? model.classWeight.negative : model.classWeight.positive);
        if (Math.abs(coef) < bound * (1 - 1e-9)) {
          free++;
          const margin = (k < n0 ? -1 : 1) * decision[k];
          assert.ok(Math.abs(margin - 1) < 2e-3, `${params.kernel}: free SV ${k} has y·f = ${margin}`);
        }
      });
      assert.ok(free > 0, "some support vectors are free");
    }
  });

  test("class weights push the boundary towards more positive predictions", async () => {
    const train = blobs(600, 4, 0.1, 1, 7);
    const heldOut = blobs(2000, 4, 0.1, 1, 8);
    const counts: number[] = [];
    for (const classWeight of [undefined, { negative: 1, positive: 4 }, "balanced"] as const) {
      const model = await trainSvm(train.X, train.y, { kernel: "rbf", C: 1, classWeight });
      counts.push(positives(predictSvm(model, heldOut.X)));
    }
    const [plain, weighted, balanced] = counts;
    assert.ok(weighted > plain * 1.5, `positives: plain ${plain}, weighted ${weighted}`);
    assert.ok(balanced > weighted, `positives: weighted 1:4 ${weighted}, balanced ~1:9 ${balanced}`);
  });

  test("resolves gamma='scale' and class_weight='balanced' as scikit-learn does", async () => {
    const X = [
      [0, 1],
      [2, 3],
      [4, 5],
      [6, 8],
    ];
    const y = [0, 0, 0, 1];
    const model = await trainSvm(X, y, { kernel: "rbf", C: 1, classWeight: "balanced" });
    const values = X.flat();
    const mean = values.reduce((s, v) => s + v, 0) / values.length;
    const variance = values.reduce((s, v) => s + (v - mean) ** 2, 0) / values.length;
    assert.equal(model.gamma, 1 / (2 * variance));
    assert.deepEqual(model.classWeight, { negative: 4 / 6, positive: 4 / 2 });
    assert.deepEqual(model.params, { kernel: "rbf", C: 1, classWeight: "balanced" });
    const constant = await trainSvm(
      [
        [1, 1],
        [1, 1],
      ],
      [0, 1],
      { kernel: "rbf", C: 1 },
    );
    assert.equal(constant.gamma, 1);
    const linear = await trainSvm(X, y, { kernel: "linear", C: 1 });
    assert.equal(linear.gamma, null);
  });

  test("the linear model's primal weights give the same decision as the kernel expansion", async () => {
    const { X, y } = blobs(200, 6, 0.4, 1, 9);
    const model = await trainSvm(X, y, { kernel: "linear", C: 1 });
    assert.equal(model.primalWeights?.length, 6);
    const decision = decisionFunction(model, X);
    X.forEach((x, i) => {
      let expansion = model.intercept;
      model.supportVectors.forEach((v, k) => {
        expansion += model.dualCoef[k] * v.reduce((s, vj, j) => s + vj * x[j], 0);
      });
      assert.ok(Math.abs(expansion - decision[i]) < 1e-9, `row ${i}: ${expansion} vs ${decision[i]}`);
    });
  });

  test("rejects degenerate training sets and bad parameters with InputError", async () => {
    const ok: SvmParams = { kernel: "rbf", C: 1 };
    const cases: [number[][], number[], SvmParams, RegExp][] = [
      [[], [], ok, /training set is empty/],
      [[[1], [2], [3]], [1, 1, 1], ok, /only class 1 \(3 rows\)/],
      [[[1], [2]], [0, 0], ok, /only class 0/],
      [[[1], [2]], [0], ok, /2 rows but 1 labels/],
      [[[1], [2]], [0, 2], ok, /label of row 1 is 2/],
      [[[1, 2], [3]], [0, 1], ok, /row 1 has 1 features/],
      [
        [
          [1, Number.NaN],
          [3, 4],
        ],
        [0, 1],
        ok,
        /row 0, feature 1 is NaN/,
      ],
      [[[], []], [0, 1], ok, /no features/],
      [[[1], [2]], [0, 1], { kernel: "rbf", C: 0 }, /C must be a positive/],
      [[[1], [2]], [0, 1], { kernel: "rbf", C: 1, gamma: -1 }, /gamma must be/],
      [[[1], [2]], [0, 1], { kernel: "poly" as "rbf", C: 1 }, /kernel must be/],
      [
        [[1], [2]],
        [0, 1],
        { kernel: "rbf", C: 1, classWeight: { negative: 1, positive: 0 } },
        /class weights/,
      ],
    ];
    for (const [X, y, params, message] of cases) {
      await assert.rejects(trainSvm(X, y, params), (error: unknown) => {
        assert.ok(error instanceof InputError, `${message}: got ${error}`);
        assert.match(error.message, message);
        return true;
      });
    }
  });
});

describe("decisionFunction", () => {
  test("scores rows in blocks exactly as one by one", async () => {
    const { X, y } = blobs(203, 7, 0.3, 1, 10);
    const model = await trainSvm(X, y, { kernel: "rbf", C: 3, gamma: 0.2 });
    const all = decisionFunction(model, X);
    X.forEach((x, i) => {
      assert.equal(decisionFunction(model, [x])[0], all[i]);
    });
    // Typed-array rows are accepted as well.
    assert.deepEqual(
      decisionFunction(
        model,
        X.map((x) => Float64Array.from(x)),
      ),
      all,
    );
  });

  test("matches a direct evaluation of the RBF expansion", async () => {
    const { X, y } = blobs(120, 3, 0.5, 1, 11);
    const model = await trainSvm(X, y, { kernel: "rbf", C: 1 });
    const decision = decisionFunction(model, X);
    const gamma = model.gamma!;
    X.forEach((x, i) => {
      let direct = model.intercept;
      model.supportVectors.forEach((v, k) => {
        const squared = v.reduce((s, vj, j) => s + (vj - x[j]) ** 2, 0);
        direct += model.dualCoef[k] * Math.exp(-gamma * squared);
      });
      assert.ok(Math.abs(direct - decision[i]) < 1e-12, `row ${i}: ${direct} vs ${decision[i]}`);
    });
  });

  test("rejects rows of the wrong width or with non-finite values", async () => {
    const model = await trainSvm(
      [
        [0, 0],
        [1, 1],
      ],
      [0, 1],
      { kernel: "rbf", C: 1 },
    );
    assert.throws(() => decisionFunction(model, [[1, 2, 3]]), /row 0 has 3 features, expected 2/);
    assert.throws(
      () =>
        predictSvm(model, [
          [0, 0],
          [1, Infinity],
        ]),
      InputError,
    );
  });
});

describe("libsvm binding", () => {
  test("reads the same solution from the wasm heap as libsvm-js's own serialisation", async () => {
    await loadLibsvm(); // so the package below reuses the loaded module instead of loading (and printing) again
    const require = createRequire(import.meta.url);
    type PackageSvm = new (
      options: object,
    ) => {
      train(samples: number[][], labels: number[]): void;
      serializeModel(): string;
      getSVIndices(): number[];
      free(): void;
    };
    const SVM = (await require("libsvm-js")) as PackageSvm;
    const { X, y } = blobs(250, 4, 0.4, 1, 12);
    const options = {
      kernel: "rbf",
      C: 2,
      gamma: 0.3,
      classWeight: { negative: 1, positive: 2.5 },
      cacheSizeMb: 100,
      tolerance: 1e-3,
      shrinking: true,
    } as const;
    const ours = await trainCSvc(X, y, options);
    const svm = new SVM({ kernel: 2, cost: 2, gamma: 0.3, weight: { 0: 1, 1: 2.5 }, quiet: true });
    svm.train(X, y);
    const text = svm.serializeModel();
    const indices = svm.getSVIndices();
    svm.free();

    const field = (name: string) =>
      text
        .match(new RegExp(`^${name} (.*)$`, "m"))![1]
        .split(" ")
        .map(Number);
    assert.deepEqual(field("label"), ours.labels);
    assert.deepEqual(field("nr_sv"), ours.nSV);
    assert.deepEqual(indices, Array.from(ours.svIndices));
    // rho is printed with %g (6 significant digits), the coefficients with %.16g.
    const rho = field("rho")[0];
    assert.ok(Math.abs(rho - ours.rho) <= 5e-6 * Math.abs(ours.rho), `rho ${rho} vs ${ours.rho}`);
    const coefficients = text
      .split("SV\n")[1]
      .trim()
      .split("\n")
      .map((line) => Number(line.split(" ")[0]));
    coefficients.forEach((c, k) => {
      assert.ok(
        Math.abs(c - ours.svCoef[k]) <= 1e-15 * Math.abs(c),
        `coefficient ${k}: ${c} vs ${ours.svCoef[k]}`,
      );
    });
    assert.deepEqual(ours.messages, []);
  });
});

describe("validateSvmModel", () => {
  async function trained(kernel: "rbf" | "linear"): Promise<SvmModel> {
    const { X, y } = blobs(80, 3, 0.5, 1.5, 13);
    return trainSvm(X, y, { kernel, C: 1 });
  }

  test("accepts a model after a JSON round trip, which scores identically", async () => {
    for (const kernel of ["rbf", "linear"] as const) {
      const model = await trained(kernel);
      const loaded = validateSvmModel(JSON.parse(JSON.stringify(model)));
      assert.deepEqual(loaded, model);
      const rows = blobs(50, 3, 0.5, 1.5, 14).X;
      assert.deepEqual(decisionFunction(loaded, rows), decisionFunction(model, rows));
    }
  });

  test("rejects corrupted models with a ModelFileError naming the problem", async () => {
    const rbf = await trained("rbf");
    const linear = await trained("linear");
    const corrupt = (model: SvmModel, change: (m: Record<string, unknown>) => void) => {
      const copy = structuredClone(model) as unknown as Record<string, unknown>;
      change(copy);
      return copy;
    };
    const cases: [unknown, RegExp][] = [
      [null, /not an object/],
      [[1, 2], /not an object/],
      [corrupt(rbf, (m) => delete m.supportVectors), /supportVectors must be a non-empty array/],
      [corrupt(rbf, (m) => delete m.intercept), /intercept must be a finite number, got undefined/],
      [corrupt(rbf, (m) => (m.kernel = "poly")), /kernel must be "rbf" or "linear", got "poly"/],
      [corrupt(rbf, (m) => (m.gamma = 0)), /gamma must be a positive number/],
      [corrupt(rbf, (m) => (m.nFeatures = 4)), /supportVectors\[0\] has 3 values, expected 4/],
      [corrupt(rbf, (m) => (m.dualCoef as number[]).pop()), /dualCoef has \d+ values, expected \d+/],
      [
        corrupt(rbf, (m) => ((m.supportVectors as number[][])[2][1] = Number.NaN)),
        /supportVectors\[2\]\[1\] is NaN/,
      ],
      [corrupt(rbf, (m) => ((m.dualCoef as unknown[])[0] = "1")), /dualCoef\[0\] is "1"/],
      [corrupt(rbf, (m) => (m.intercept = Number.POSITIVE_INFINITY)), /intercept must be a finite number/],
      [corrupt(rbf, (m) => ((m.nSupport as number[])[0] += 1)), /nSupport must be two counts/],
      [corrupt(rbf, (m) => (m.primalWeights = [1, 2, 3])), /primalWeights must be null/],
      [corrupt(rbf, (m) => (m.classWeight = { negative: 1 })), /classWeight must hold/],
      [corrupt(rbf, (m) => delete m.params), /params must be an object/],
      [corrupt(linear, (m) => (m.gamma = 0.5)), /gamma must be null/],
      [corrupt(linear, (m) => (m.primalWeights as number[]).pop()), /primalWeights has 2 values, expected 3/],
      [corrupt(linear, (m) => ((m.primalWeights as number[])[1] += 0.01)), /primalWeights do not match/],
    ];
    for (const [value, message] of cases) {
      assert.throws(
        () => validateSvmModel(value),
        (error: unknown) => {
          assert.ok(error instanceof ModelFileError, `${message}: got ${error}`);
          assert.match(error.message, /^invalid SVM model: /);
          assert.match(error.message, message);
          return true;
        },
      );
    }
  });

  test("fuzz: random damage to a model file gives a usable model or a ModelFileError, nothing else", async () => {
    const models = [await trained("rbf"), await trained("linear")];
    const random = seededRandom(15);
    const junk = [null, "x", -1, 0, 1e308, [], {}, true, Number.NaN, [Number.NaN]];
    let rejected = 0;
    for (let trial = 0; trial < 400; trial++) {
      const copy = structuredClone(models[trial % 2]) as unknown as Record<string, unknown>;
      // Walk to a random node and replace, delete or truncate it.
      let parent: Record<string, unknown> | unknown[] = copy;
      let key: string | number = "";
      for (let depth = 0; depth < 4; depth++) {
        const keys: (string | number)[] = Array.isArray(parent) ? [...parent.keys()] : Object.keys(parent);
        if (keys.length === 0) break;
        key = keys[randomInt(random, keys.length)];
        const child: unknown = (parent as Record<string | number, unknown>)[key];
        if (typeof child !== "object" || child === null || random() < 0.3) break;
        parent = child as Record<string, unknown> | unknown[];
      }
      const node = parent as Record<string | number, unknown>;
      const action = randomInt(random, 3);
      if (action === 0) node[key] = junk[randomInt(random, junk.length)];
      else if (action === 1) delete node[key];
      else if (Array.isArray(node[key])) (node[key] as unknown[]).length = randomInt(random, 3);
      try {
        const model = validateSvmModel(copy);
        const scores = decisionFunction(model, [new Array(model.nFeatures).fill(0.5)]);
        assert.ok(Number.isFinite(scores[0]), `accepted model scores ${scores[0]}`);
      } catch (error) {
        assert.ok(error instanceof ModelFileError, `trial ${trial}: ${(error as Error).stack}`);
        rejected++;
      }
    }
    assert.ok(rejected > 200, `only ${rejected} of 400 damaged models rejected`);
  });
});
