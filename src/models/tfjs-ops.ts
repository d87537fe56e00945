/**
 * Ops whose tfjs defaults are slow on the wasm backend. Its matMul is fast only without transpose flags (XNNPACK
 * path); with `transposeA/B` — which tfjs's own matMul gradient uses — it runs 5–15× slower. Transposing explicitly
 * and multiplying plainly is cheaper, so the dense layers use this matMul with a hand-written gradient.
 */
import type * as tfTypes from "@tensorflow/tfjs";
import { wasmTf } from "./tfjs-backend.ts";

type MatMul = (a: tfTypes.Tensor2D, b: tfTypes.Tensor2D) => tfTypes.Tensor2D;
let cached: MatMul | undefined;

/** `a · b` for 2-D tensors, with a gradient that avoids the slow transposed-operand kernels. */
export function plainMatMul(a: tfTypes.Tensor2D, b: tfTypes.Tensor2D): tfTypes.Tensor2D {
  if (cached === undefined) {
    const tf = wasmTf();
    cached = tf.customGrad((...args: (tfTypes.Tensor | tfTypes.GradSaveFunc)[]) => {
      const [left, right, save] = args as [tfTypes.Tensor2D, tfTypes.Tensor2D, tfTypes.GradSaveFunc];
      save([left, right]);
      return {
        value: tf.matMul(left, right),
        gradFunc: (dy, saved) => {
          const [sx, sw] = saved as tfTypes.Tensor2D[];
          const g = dy as tfTypes.Tensor2D;
          return [tf.matMul(g, tf.transpose(sw)), tf.matMul(tf.transpose(sx), g)];
        },
      };
    }) as unknown as MatMul;
  }
  return cached(a, b);
}
