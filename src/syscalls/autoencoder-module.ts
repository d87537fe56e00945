/**
 * TensorFlow.js (and its wasm backend) is loaded only when the autoencoder is one of a detector's signals: the
 * default detector needs none of it, and loading it costs start-up time and memory in every command and worker.
 */
type AutoencoderModule = typeof import("../models/autoencoder.ts");
let loaded: AutoencoderModule | undefined;

export async function loadAutoencoder(): Promise<AutoencoderModule> {
  loaded ??= await import("../models/autoencoder.ts");
  return loaded;
}

/** The module, for code that holds a network (which only exists once the module has been loaded). */
export function autoencoderModule(): AutoencoderModule {
  if (loaded === undefined) throw new Error("the autoencoder module is used before loadAutoencoder()");
  return loaded;
}
