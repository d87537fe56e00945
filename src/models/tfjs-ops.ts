/**
 * Training ops that are slow in their tfjs form on the wasm backend, each with a hand-written gradient (measured on
 * the syscall autoencoder, 20 k windows of 7, batch 512):
 * - matMul is fast only without transpose flags (XNNPACK path); with `transposeA/B` — which tfjs's own matMul
 *   gradient uses — it runs 5–15× slower, so gradients transpose explicitly and multiply plainly;
 * - the gradient of a broadcast bias add is a Sum over axis 0, which the wasm backend runs as a transpose plus a
 *   scalar reduction (3.5 ms for 512 × 1071); a ones-row matMul gives the same sums through XNNPACK in ~0.1 ms;
 * - `logSoftmax` uses the scalar Exp kernel twice per step (forward and gradient, 3.4 ms each for 3.5 k × 153),
 *   while the Softmax kernel is vectorised (0.5 ms): cross-entropy is computed from one softmax, reused by the
 *   gradient;
 * - GatherV2 checks each index through a closure-taking assert (1.5 ms per embedding lookup): rows are copied by
 *   the GATHER_ROWS kernel instead.
 */
import type * as tfTypes from "@tensorflow/tfjs";
import { GATHER_ROWS, wasmTf } from "./tfjs-backend.ts";

type Tf = typeof tfTypes;
type Dense = (x: tfTypes.Tensor2D, kernel: tfTypes.Tensor2D, bias: tfTypes.Tensor1D) => tfTypes.Tensor2D;
type Lookup = (table: tfTypes.Tensor2D, ids: tfTypes.Tensor1D) => tfTypes.Tensor2D;
type CrossEntropy = (logits: tfTypes.Tensor2D, targets: tfTypes.Tensor1D) => tfTypes.Scalar;

/**
 * Probabilities below this are reported as this when the loss is read: float32 softmax underflows to 0 near
 * e^-88, where the logSoftmax form would still give a finite loss. The gradient does not depend on it.
 */
const MIN_PROBABILITY = 1e-30;

let ops: { relu: Dense; linear: Dense; lookup: Lookup; crossEntropy: CrossEntropy } | undefined;

function gatherRowsKernel(tf: Tf, table: tfTypes.Tensor2D, ids: tfTypes.Tensor1D): tfTypes.Tensor2D {
  return tf.engine().runKernel(GATHER_ROWS, { x: table, indices: ids }) as tfTypes.Tensor2D;
}

function build(tf: Tf): NonNullable<typeof ops> {
  const dense = (activation: "relu" | "linear"): Dense =>
    tf.customGrad((...args: (tfTypes.Tensor | tfTypes.GradSaveFunc)[]) => {
      const [x, kernel, bias, save] = args as [
        tfTypes.Tensor2D,
        tfTypes.Tensor2D,
        tfTypes.Tensor1D,
        tfTypes.GradSaveFunc,
      ];
      const linear = tf.add(tf.matMul(x, kernel), bias) as tfTypes.Tensor2D;
      const y = activation === "relu" ? tf.relu(linear) : linear;
      save([x, kernel, y]);
      return {
        value: y,
        gradFunc: (dy, saved) => {
          const [sx, sk, sy] = saved as tfTypes.Tensor2D[];
          const g = (activation === "relu" ? tf.mul(dy, tf.step(sy)) : dy) as tfTypes.Tensor2D;
          return [
            tf.matMul(g, tf.transpose(sk)),
            tf.matMul(tf.transpose(sx), g),
            tf.matMul(tf.ones([1, g.shape[0]]), g).reshape([g.shape[1]]),
          ];
        },
      };
    }) as unknown as Dense;

  const lookup = tf.customGrad((...args: (tfTypes.Tensor | tfTypes.GradSaveFunc)[]) => {
    const [table, ids, save] = args as [tfTypes.Tensor2D, tfTypes.Tensor1D, tfTypes.GradSaveFunc];
    save([ids]);
    return {
      value: gatherRowsKernel(tf, table, ids),
      gradFunc: (dy, saved) => {
        const [sids] = saved as tfTypes.Tensor1D[];
        return [tf.unsortedSegmentSum(dy as tfTypes.Tensor2D, sids, table.shape[0]), tf.zerosLike(sids)];
      },
    };
  }) as unknown as Lookup;

  const crossEntropy = tf.customGrad((...args: (tfTypes.Tensor | tfTypes.GradSaveFunc)[]) => {
    const [logits, targets, save] = args as [tfTypes.Tensor2D, tfTypes.Tensor1D, tfTypes.GradSaveFunc];
    const [rows, classes] = logits.shape;
    const probabilities = tf.softmax(logits) as tfTypes.Tensor2D;
    const flat = tf.add(tf.mul(tf.range(0, rows, 1, "int32"), classes), targets) as tfTypes.Tensor1D;
    const picked = gatherRowsKernel(tf, probabilities.reshape([rows * classes, 1]), flat);
    save([probabilities, targets]);
    return {
      value: tf.neg(tf.mean(tf.log(tf.maximum(picked, MIN_PROBABILITY)))) as tfTypes.Scalar,
      gradFunc: (dy, saved) => {
        const [p, t] = saved as [tfTypes.Tensor2D, tfTypes.Tensor1D];
        // Not oneHot(…, "float32"): the wasm OneHot kernel returns all zeros for a float32 dtype.
        const residual = tf.sub(p, tf.oneHot(t, classes));
        return [tf.mul(residual, tf.div(dy, rows)), tf.zerosLike(t)];
      },
    };
  }) as unknown as CrossEntropy;

  return { relu: dense("relu"), linear: dense("linear"), lookup, crossEntropy };
}

function get(): NonNullable<typeof ops> {
  ops ??= build(wasmTf());
  return ops;
}

/**
 * `activation(x · kernel + bias)`, with a gradient that avoids the slow wasm paths above. Not `tf.fused.matMul`:
 * the wasm _FusedMatMul kernel took 8.4 ms where BatchMatMul + Add took 4 ms (512 × 128 · 128 × 1071).
 */
export function dense(
  x: tfTypes.Tensor2D,
  kernel: tfTypes.Tensor2D,
  bias: tfTypes.Tensor1D,
  activation: "relu" | "linear",
): tfTypes.Tensor2D {
  return get()[activation](x, kernel, bias);
}

/** Rows `ids` of `table` (an embedding lookup); the gradient scatter-adds into the table. */
export function lookupRows(table: tfTypes.Tensor2D, ids: tfTypes.Tensor1D): tfTypes.Tensor2D {
  return get().lookup(table, ids);
}

/**
 * Mean cross-entropy of `logits` (rows × classes) against int32 class `targets`, as
 * `mean(-logSoftmax(logits)[row, target])`; the gradient is `(softmax − oneHot) / rows`.
 */
export function meanSoftmaxCrossEntropy(logits: tfTypes.Tensor2D, targets: tfTypes.Tensor1D): tfTypes.Scalar {
  return get().crossEntropy(logits, targets);
}
