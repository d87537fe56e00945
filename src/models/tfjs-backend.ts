/**
 * TensorFlow.js on the WebAssembly backend. tfjs-node cannot be installed here and the plain JS backend is about 5×
 * slower, so training must run on wasm — and `tf.setBackend('wasm')` reports failure by returning false rather than
 * throwing, which would otherwise let a run fall back silently.
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";

let ready: Promise<typeof tf> | undefined;
let active = false;

/** Selects the wasm backend (once per process) and throws if it is not the active backend afterwards. */
export function createBackend(): Promise<typeof tf> {
  ready ??= (async () => {
    registerUnsortedSegmentSum();
    const ok = await tf.setBackend("wasm");
    await tf.ready();
    if (!ok || tf.getBackend() !== "wasm") {
      throw new Error(`TensorFlow.js wasm backend failed to initialise (active backend: ${tf.getBackend()})`);
    }
    active = true;
    return tf;
  })();
  return ready;
}

/** The tfjs module, for synchronous code that runs after `createBackend()` has resolved. */
export function wasmTf(): typeof tf {
  if (!active || tf.getBackend() !== "wasm")
    throw new Error("call createBackend() first: tensors must live on the wasm backend");
  return tf;
}

/**
 * The gradient of `gather` (used by embedding lookups) is an UnsortedSegmentSum, which the wasm backend does not
 * provide. Scatter-add on the wasm heap in JS: it touches batch × window × embeddingDim floats per step, which is
 * small next to the dense layers.
 */
function registerUnsortedSegmentSum(): void {
  if (tf.getKernel("UnsortedSegmentSum", "wasm") !== undefined) return;
  tf.registerKernel({
    kernelName: "UnsortedSegmentSum",
    backendName: "wasm",
    kernelFunc: ({ inputs, backend, attrs }) => {
      const wasm = backend as BackendWasm;
      const x = inputs.x as tf.TensorInfo;
      const ids = inputs.segmentIds as tf.TensorInfo;
      const numSegments = (attrs as { numSegments: number }).numSegments;
      const idCount = ids.shape.reduce((a, b) => a * b, 1);
      const rowShape = x.shape.slice(ids.shape.length);
      const rowSize = rowShape.reduce((a, b) => a * b, 1);
      const out = wasm.makeOutput([numSegments, ...rowShape], x.dtype);
      const outValues = wasm.typedArrayFromHeap(out);
      outValues.fill(0);
      const xValues = wasm.typedArrayFromHeap(x);
      const idValues = wasm.typedArrayFromHeap(ids);
      for (let i = 0; i < idCount; i++) {
        const segment = idValues[i];
        // TensorFlow drops negative and out-of-range ids instead of failing.
        if (segment < 0 || segment >= numSegments) continue;
        const src = i * rowSize;
        const dst = segment * rowSize;
        for (let j = 0; j < rowSize; j++) outValues[dst + j] += xValues[src + j];
      }
      return out;
    },
  });
}
