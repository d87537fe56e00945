/**
 * Typed arrays in JSON documents (checkpoints): their bytes as base64, tagged with the array type, so a detector's
 * tables round-trip exactly (NaN and ±Infinity included) at 4/3 of their size instead of a number per element.
 */
type Typed = Float64Array | Int32Array | Uint32Array;
type TypedName = "f64" | "i32" | "u32";

export interface TypedJSON {
  type: TypedName;
  base64: string;
}

export function encodeTyped(array: Typed, length = array.length): TypedJSON {
  const type: TypedName = array instanceof Float64Array ? "f64" : array instanceof Int32Array ? "i32" : "u32";
  const bytes = Buffer.from(array.buffer, array.byteOffset, length * array.BYTES_PER_ELEMENT);
  return { type, base64: bytes.toString("base64") };
}

export function decodeTyped(json: TypedJSON, type: "f64"): Float64Array;
export function decodeTyped(json: TypedJSON, type: "i32"): Int32Array;
export function decodeTyped(json: TypedJSON, type: "u32"): Uint32Array;
export function decodeTyped(json: TypedJSON, type: TypedName): Typed {
  if (json?.type !== type || typeof json.base64 !== "string") {
    throw new Error(`expected a ${type} array in the checkpoint, found ${json?.type ?? typeof json}`);
  }
  const bytes = Buffer.from(json.base64, "base64");
  // Copy into a fresh, aligned buffer (a decoded Buffer may sit at any offset of a shared pool).
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  if (type === "f64") return new Float64Array(copy.buffer, 0, copy.length / 8);
  if (type === "i32") return new Int32Array(copy.buffer, 0, copy.length / 4);
  return new Uint32Array(copy.buffer, 0, copy.length / 4);
}

/** Growing a restored array to a given length (tables keep spare capacity the checkpoint did not store). */
export function padTo<T extends Typed>(array: T, length: number, make: (n: number) => T): T {
  if (array.length >= length) return array;
  const out = make(length);
  out.set(array as never);
  return out;
}
