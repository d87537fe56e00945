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
    registerGatherRows();
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

/** Name of the row-gather kernel registered below (see `gatherRows` in tfjs-ops.ts). */
export const GATHER_ROWS = "ThreatlensGatherRows";

/**
 * Copies rows of a 2-D float tensor: out[k] = x[indices[k]]. The wasm GatherV2 kernel checks every index through a
 * closure-taking assert and reshapes twice, which made an embedding lookup of 3.5 k tokens cost ~1.5 ms; this copy
 * is exact and takes a few microseconds.
 */
function registerGatherRows(): void {
  if (tf.getKernel(GATHER_ROWS, "wasm") !== undefined) return;
  tf.registerKernel({
    kernelName: GATHER_ROWS,
    backendName: "wasm",
    kernelFunc: ({ inputs, backend }) => {
      const wasm = backend as BackendWasm;
      const x = inputs.x as tf.TensorInfo;
      const indices = inputs.indices as tf.TensorInfo;
      const [rows, width] = x.shape;
      const count = indices.shape.reduce((a, b) => a * b, 1);
      const out = wasm.makeOutput([count, width], x.dtype);
      const outValues = wasm.typedArrayFromHeap(out);
      const xValues = wasm.typedArrayFromHeap(x);
      const idValues = wasm.typedArrayFromHeap(indices);
      for (let k = 0; k < count; k++) {
        const row = idValues[k];
        if (!(row >= 0 && row < rows)) throw new Error(`gatherRows: index ${row} is outside [0, ${rows})`);
        const src = row * width;
        const dst = k * width;
        for (let j = 0; j < width; j++) outValues[dst + j] = xValues[src + j];
      }
      return out;
    },
  });
}
