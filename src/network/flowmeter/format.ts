/**
 * Go's fmt "%f" (6 decimals) for a float64. Both Go and JavaScript's toFixed round the exact binary value, but on
 * an exact tie Go rounds half to even and toFixed away from zero. A tie at the 7th decimal needs a value that is
 * an odd multiple of 1/128 (7 binary fraction digits give exactly 7 decimal digits, the last one a 5), which is
 * cheap to detect.
 */
export function goFormatFloat(x: number): string {
  if (Number.isNaN(x)) return "NaN";
  if (x === Number.POSITIVE_INFINITY) return "+Inf";
  if (x === Number.NEGATIVE_INFINITY) return "-Inf";
  if (Object.is(x, -0)) return "-0.000000";
  if (Math.abs(x) >= 1e21) return `${BigInt(x)}.000000`; // toFixed switches to exponent notation there
  const scaled = x * 128;
  if (Number.isInteger(scaled) && scaled % 2 !== 0) {
    const seven = Math.abs(x).toFixed(7);
    const lastKept = seven.charCodeAt(seven.length - 2) - 48;
    if (lastKept % 2 === 0) return (x < 0 ? "-" : "") + seven.slice(0, -1);
  }
  return x.toFixed(6);
}

/** A field as Go's encoding/csv Writer writes it (quoted only when needed, by Go's own rule). */
export function goCsvField(field: string): string {
  if (field === "") return field;
  const needsQuotes =
    field === "\\." || /[",\r\n]/.test(field) || field.charCodeAt(0) === 32 || /^\s/u.test(field);
  return needsQuotes ? `"${field.replaceAll('"', '""')}"` : field;
}
