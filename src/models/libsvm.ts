/**
 * A typed, quiet binding to the C-SVC trainer of libsvm-js 0.2.1 (libsvm compiled to WebAssembly).
 *
 * The package's own `SVM` class is bypassed: it offers no decision values and serialises rho with `%g` (six
 * significant digits). Instead this module drives the exported C functions and reads the trained `svm_model`
 * struct straight from the wasm heap, so coefficients and rho come out exactly as libsvm computed them.
 */
import { createRequire } from "node:module";

/** The parts of the emscripten module (libsvm-js/out/wasm/libsvm.js) used here; the package ships no types. */
interface LibsvmWasm {
  load(): Promise<void>;
  HEAPU8: Uint8Array;
  HEAP32: Int32Array;
  HEAPF64: Float64Array;
  print: (text: string) => void;
  printErr: (text: string) => void;
  _malloc(bytes: number): number;
  _free(pointer: number): void;
  _create_svm_nodes(rows: number, features: number): number;
  _add_instance(problem: number, features: number, nFeatures: number, label: number, row: number): void;
  _libsvm_train_problem(problem: number, command: number): number;
  _svm_free_model(model: number): void;
  _free_problem(problem: number): void;
}

export interface CSvcOptions {
  kernel: "rbf" | "linear";
  C: number;
  /** RBF width; ignored by the linear kernel. */
  gamma: number;
  /** Multipliers of C per class label (libsvm's `-w<label>` option). */
  classWeight: { negative: number; positive: number };
  cacheSizeMb: number;
  tolerance: number;
  shrinking: boolean;
}

/** A trained binary C-SVC as libsvm stores it: decision(x) = Σ svCoef_i·K(x_svIndices[i], x) − rho > 0 ⇒ labels[0]. */
export interface CSvcSolution {
  /** Class labels in libsvm's internal order (the order of first appearance in the training rows). */
  labels: [number, number];
  /** Number of support vectors of labels[0] and labels[1]. */
  nSV: [number, number];
  /** 0-based indices of the support vectors in the training rows, grouped by class like libsvm. */
  svIndices: Int32Array;
  svCoef: Float64Array;
  rho: number;
  /** Lines libsvm wrote to stdout/stderr during training (e.g. "reaching max number of iterations"). */
  messages: string[];
}

const KERNEL_TYPE = { linear: 0, rbf: 2 } as const;

/**
 * Byte offsets in the wasm32 layout of libsvm 3.2x's `struct svm_model`: a 96-byte `svm_parameter` (int svm_type,
 * kernel_type, degree; double gamma @16, coef0, cache_size, eps, C @48; …), then int nr_class @96, int l @100,
 * svm_node **SV @104, double **sv_coef @108, double *rho @112, probA, probB, int *sv_indices @124,
 * int *label @128, int *nSV @132. `readSolution` checks the parameters it reads back against the ones sent.
 */
const MODEL = {
  kernelType: 4,
  gamma: 16,
  C: 48,
  nrClass: 96,
  l: 100,
  svCoef: 108,
  rho: 112,
  svIndices: 124,
  label: 128,
  nSV: 132,
} as const;

/** libsvm-js copies the command into a `char[256]` without a bound check. */
const MAX_COMMAND_BYTES = 255;

/**
 * The emscripten module object has a `then` method, so a promise resolving to it would adopt it as a thenable and
 * spin forever; it travels wrapped.
 */
interface LoadedLibsvm {
  readonly wasm: LibsvmWasm;
}

let loading: Promise<LoadedLibsvm> | undefined;

/** Loads the wasm module once per thread (worker threads each load their own). */
export function loadLibsvm(): Promise<LoadedLibsvm> {
  loading ??= instantiate();
  return loading;
}

async function instantiate(): Promise<LoadedLibsvm> {
  const require = createRequire(import.meta.url);
  // Node 20 has a global fetch, so the emscripten loader first tries WebAssembly.instantiateStreaming on a file
  // path, fails, prints "wasm streaming compile failed" and falls back to reading the file. Hiding fetch during
  // the (synchronous) require sends it straight to the file read. The loader also installs an
  // `unhandledRejection` handler that exits the process silently with code 1; remove it so Node's own reporting
  // (message and stack) stays in charge.
  const fetchDescriptor = Object.getOwnPropertyDescriptor(globalThis, "fetch");
  const rejectionListeners = new Set(process.listeners("unhandledRejection"));
  let wasm: LibsvmWasm;
  try {
    Object.defineProperty(globalThis, "fetch", { value: undefined, configurable: true, writable: true });
    wasm = require("libsvm-js/out/wasm/libsvm.js") as LibsvmWasm;
  } finally {
    if (fetchDescriptor) Object.defineProperty(globalThis, "fetch", fetchDescriptor);
    else delete (globalThis as { fetch?: unknown }).fetch;
    for (const listener of process.listeners("unhandledRejection")) {
      if (!rejectionListeners.has(listener)) process.removeListener("unhandledRejection", listener);
    }
  }
  await wasm.load();
  return { wasm };
}

/**
 * Trains a binary C-SVC. `rows` must be rectangular with finite values and `labels` must hold exactly two
 * distinct integer labels; the caller validates that (libsvm itself checks nothing and may abort the process).
 */
export async function trainCSvc(
  rows: readonly ArrayLike<number>[],
  labels: ArrayLike<number>,
  options: CSvcOptions,
): Promise<CSvcSolution> {
  const { wasm } = await loadLibsvm();
  const nFeatures = rows[0].length;
  const command = commandLine(options, labels);
  const messages: string[] = [];
  const { print, printErr } = wasm;
  const collect = (text: string) => {
    if (text.trim() !== "") messages.push(text.trim());
  };
  wasm.print = collect;
  wasm.printErr = collect;
  let problem = 0;
  let model = 0;
  let buffer = 0;
  let commandPointer = 0;
  try {
    problem = wasm._create_svm_nodes(rows.length, nFeatures);
    buffer = wasm._malloc(8 * nFeatures);
    for (let i = 0; i < rows.length; i++) {
      // HEAPF64 is re-read every time: growing the wasm memory replaces the typed-array views.
      wasm.HEAPF64.set(rows[i], buffer >> 3);
      wasm._add_instance(problem, buffer, nFeatures, labels[i], i);
    }
    commandPointer = writeCString(wasm, command);
    model = wasm._libsvm_train_problem(problem, commandPointer);
    return { ...readSolution(wasm, model, options), messages };
  } catch (error) {
    // emscripten aborts (e.g. out of memory) by throwing a string.
    if (typeof error === "string") throw new Error(`libsvm failed: ${error}${tail(messages)}`);
    throw error;
  } finally {
    if (model !== 0) wasm._svm_free_model(model);
    if (problem !== 0) wasm._free_problem(problem);
    if (buffer !== 0) wasm._free(buffer);
    if (commandPointer !== 0) wasm._free(commandPointer);
    wasm.print = print;
    wasm.printErr = printErr;
  }
}

function commandLine(options: CSvcOptions, labels: ArrayLike<number>): string {
  const distinct = [...new Set(Array.from(labels))].sort((a, b) => a - b);
  if (distinct.length !== 2 || !distinct.every(Number.isInteger)) {
    throw new Error(`trainCSvc needs exactly two integer labels, got ${distinct.join(", ")}`);
  }
  const parts = [
    "-s 0",
    `-t ${KERNEL_TYPE[options.kernel]}`,
    `-g ${options.gamma}`,
    `-c ${options.C}`,
    `-e ${options.tolerance}`,
    `-m ${options.cacheSizeMb}`,
    `-h ${options.shrinking ? 1 : 0}`,
    "-b 0",
    `-w${distinct[0]} ${options.classWeight.negative}`,
    `-w${distinct[1]} ${options.classWeight.positive}`,
    // -q routes libsvm's progress output to a no-op; its value is ignored.
    "-q 1",
  ];
  const command = parts.join(" ");
  if (command.length > MAX_COMMAND_BYTES) throw new Error(`libsvm command too long: ${command}`);
  return command;
}

function writeCString(wasm: LibsvmWasm, text: string): number {
  const bytes = new TextEncoder().encode(text);
  const pointer = wasm._malloc(bytes.length + 1);
  wasm.HEAPU8.set(bytes, pointer);
  wasm.HEAPU8[pointer + bytes.length] = 0;
  return pointer;
}

function readSolution(wasm: LibsvmWasm, model: number, options: CSvcOptions): Omit<CSvcSolution, "messages"> {
  if (model === 0) throw new Error("libsvm returned no model");
  const int = (address: number) => wasm.HEAP32[address >> 2];
  const double = (address: number) => wasm.HEAPF64[address >> 3];
  const layoutOk =
    int(model + MODEL.kernelType) === KERNEL_TYPE[options.kernel] &&
    double(model + MODEL.C) === options.C &&
    double(model + MODEL.gamma) === options.gamma &&
    int(model + MODEL.nrClass) === 2;
  if (!layoutOk) throw new Error("libsvm model layout is not the one this binding was written for");
  const total = int(model + MODEL.l);
  const labelPointer = int(model + MODEL.label);
  const nSVPointer = int(model + MODEL.nSV);
  const coefPointer = int(int(model + MODEL.svCoef));
  const indexPointer = int(model + MODEL.svIndices);
  const nSV: [number, number] = [int(nSVPointer), int(nSVPointer + 4)];
  if (nSV[0] + nSV[1] !== total) throw new Error("libsvm model has inconsistent support-vector counts");
  const svIndices = new Int32Array(total);
  for (let k = 0; k < total; k++) svIndices[k] = int(indexPointer + 4 * k) - 1;
  return {
    labels: [int(labelPointer), int(labelPointer + 4)],
    nSV,
    svIndices,
    svCoef: wasm.HEAPF64.slice(coefPointer >> 3, (coefPointer >> 3) + total),
    rho: double(int(model + MODEL.rho)),
  };
}

function tail(messages: string[]): string {
  return messages.length > 0 ? ` (${messages.slice(-3).join("; ")})` : "";
}
