import assert from "node:assert/strict";
import { before, test } from "node:test";
import type * as tfTypes from "@tensorflow/tfjs";
import { seededRandom } from "../../src/core/random.ts";
import { createBackend } from "../../src/models/tfjs-backend.ts";
import { dense, lookupRows, meanSoftmaxCrossEntropy } from "../../src/models/tfjs-ops.ts";

/**
 * The hand-written gradients of tfjs-ops.ts against two references: tfjs's own autodiff of the same function written
 * with stock ops (matMul + add + relu, gather, logSoftmax), and central finite differences of the forward value.
 * A weighted sum of the output with fixed random weights makes every output element matter to the gradient.
 */
let tf: typeof tfTypes;
before(async () => {
  tf = await createBackend();
});

const random = seededRandom(12);
function randomTensor(shape: number[], scale = 1): tfTypes.Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(
    Float32Array.from({ length: size }, () => (random() * 2 - 1) * scale),
    shape,
  );
}

function assertClose(
  actual: tfTypes.Tensor,
  expected: tfTypes.Tensor,
  tolerance: number,
  what: string,
): void {
  const a = actual.dataSync();
  const e = expected.dataSync();
  assert.equal(a.length, e.length, `${what}: sizes`);
  let worst = 0;
  let norm = 0;
  for (let i = 0; i < a.length; i++) {
    worst = Math.max(worst, Math.abs(a[i] - e[i]));
    norm = Math.max(norm, Math.abs(e[i]));
  }
  assert.ok(norm > 0, `${what}: the reference gradient is all zeros`);
  assert.ok(
    worst <= tolerance * Math.max(1, norm),
    `${what}: max difference ${worst} (reference max ${norm})`,
  );
}

/** Central differences of f at a few entries of `input` (float64 arithmetic on a float32 model: step 1e-2). */
function finiteDifferences(
  f: (x: tfTypes.Tensor) => number,
  input: tfTypes.Tensor,
  entries: number[],
): number[] {
  const values = Float32Array.from(input.dataSync());
  const h = 1e-2;
  return entries.map((i) => {
    const plus = values.slice();
    plus[i] += h;
    const minus = values.slice();
    minus[i] -= h;
    const up = f(tf.tensor(plus, input.shape));
    const down = f(tf.tensor(minus, input.shape));
    return (up - down) / (2 * h);
  });
}

for (const activation of ["relu", "linear"] as const) {
  test(`dense (${activation}): gradients of x, kernel and bias match tfjs autodiff and finite differences`, () => {
    const x = randomTensor([6, 5]);
    const kernel = randomTensor([5, 4]);
    const bias = randomTensor([4], 0.5);
    const weights = randomTensor([6, 4]);
    const ours = (a: tfTypes.Tensor, k: tfTypes.Tensor, b: tfTypes.Tensor) =>
      tf.sum(
        tf.mul(
          dense(a as tfTypes.Tensor2D, k as tfTypes.Tensor2D, b as tfTypes.Tensor1D, activation),
          weights,
        ),
      );
    const stock = (a: tfTypes.Tensor, k: tfTypes.Tensor, b: tfTypes.Tensor) => {
      const linear = tf.add(tf.matMul(a as tfTypes.Tensor2D, k as tfTypes.Tensor2D), b);
      return tf.sum(tf.mul(activation === "relu" ? tf.relu(linear) : linear, weights));
    };
    const got = tf.grads(ours)([x, kernel, bias]);
    const want = tf.grads(stock)([x, kernel, bias]);
    for (const [i, name] of ["x", "kernel", "bias"].entries())
      assertClose(got[i], want[i], 1e-5, `${activation} d/d${name}`);
    const numeric = finiteDifferences((k) => ours(x, k, bias).dataSync()[0], kernel, [0, 7, 19]);
    const analytic = got[1].dataSync();
    for (const [j, entry] of [0, 7, 19].entries())
      assert.ok(
        Math.abs(numeric[j] - analytic[entry]) < 2e-2,
        `kernel[${entry}]: ${numeric[j]} vs ${analytic[entry]}`,
      );
  });
}

test("embedding lookup: the table's gradient scatter-adds like tf.gather's, repeated ids included", () => {
  const table = randomTensor([9, 3]);
  const ids = tf.tensor1d([4, 0, 4, 8, 2, 4], "int32");
  const weights = randomTensor([6, 3]);
  const ours = (t: tfTypes.Tensor) => tf.sum(tf.mul(lookupRows(t as tfTypes.Tensor2D, ids), weights));
  const stock = (t: tfTypes.Tensor) => tf.sum(tf.mul(tf.gather(t, ids), weights));
  assertClose(ours(table), stock(table), 1e-6, "lookup value");
  const got = tf.grad(ours)(table);
  assertClose(got, tf.grad(stock)(table), 1e-6, "d/dtable");
  const numeric = finiteDifferences((t) => ours(t).dataSync()[0], table, [12, 13, 3]);
  const analytic = got.dataSync();
  for (const [j, entry] of [12, 13, 3].entries())
    assert.ok(
      Math.abs(numeric[j] - analytic[entry]) < 1e-2,
      `table[${entry}]: ${numeric[j]} vs ${analytic[entry]}`,
    );
});

test("softmax cross-entropy: value and gradient match the logSoftmax form and finite differences", () => {
  const logits = randomTensor([7, 5], 3);
  const targets = tf.tensor1d([0, 4, 2, 2, 1, 3, 4], "int32");
  const stock = (l: tfTypes.Tensor) =>
    tf.neg(tf.mean(tf.sum(tf.mul(tf.logSoftmax(l as tfTypes.Tensor2D), tf.oneHot(targets, 5)), 1)));
  const ours = (l: tfTypes.Tensor) => meanSoftmaxCrossEntropy(l as tfTypes.Tensor2D, targets);
  assertClose(ours(logits), stock(logits), 1e-5, "loss value");
  const got = tf.grad(ours)(logits);
  assertClose(got, tf.grad(stock)(logits), 1e-5, "d/dlogits");
  const numeric = finiteDifferences((l) => ours(l).dataSync()[0], logits, [0, 9, 33]);
  const analytic = got.dataSync();
  for (const [j, entry] of [0, 9, 33].entries())
    assert.ok(
      Math.abs(numeric[j] - analytic[entry]) < 1e-3,
      `logits[${entry}]: ${numeric[j]} vs ${analytic[entry]}`,
    );
});
