/**
 * Reads the lines bpftrace writes with `-f json`. Only the messages the collector uses are decoded; the printf
 * payload is unescaped into a byte string (one character per byte).
 *
 * bpftrace 0.17 escapes bytes ≥ 0x80 of a printf string as `\uffffffXX` (the byte sign-extended to 32 bits:
 * not valid JSON), so JSON.parse cannot be used on them; `\uXXXX` with a byte value is accepted too, for versions
 * that escape correctly. Every other JSON escape is decoded as JSON defines it.
 */
export type BpftraceMessage =
  | { kind: "printf"; text: string }
  | { kind: "lost"; events: number }
  | { kind: "map"; name: string; value: number }
  | { kind: "other"; type: string };

export class JsonLineError extends Error {}

const PRINTF_PREFIX = '{"type": "printf", "data": "';
const PRINTF_SUFFIX = '"}';

export function decodeBpftraceLine(line: string): BpftraceMessage {
  if (line.startsWith(PRINTF_PREFIX) && line.endsWith(PRINTF_SUFFIX)) {
    return {
      kind: "printf",
      text: unescapeJsonBytes(line, PRINTF_PREFIX.length, line.length - PRINTF_SUFFIX.length),
    };
  }
  let message: unknown;
  try {
    message = JSON.parse(line);
  } catch {
    throw new JsonLineError(`not a bpftrace JSON message: ${JSON.stringify(line.slice(0, 120))}`);
  }
  if (
    typeof message !== "object" ||
    message === null ||
    typeof (message as { type: unknown }).type !== "string"
  ) {
    throw new JsonLineError(`a bpftrace message without a type: ${JSON.stringify(line.slice(0, 120))}`);
  }
  const { type, data } = message as { type: string; data: unknown };
  if (type === "lost_events") {
    const events = (data as { events?: unknown } | null)?.events;
    if (typeof events !== "number" || !Number.isInteger(events) || events < 0) {
      throw new JsonLineError(`a lost_events message without a count: ${JSON.stringify(line.slice(0, 120))}`);
    }
    return { kind: "lost", events };
  }
  if (type === "map" && typeof data === "object" && data !== null) {
    const entries = Object.entries(data);
    if (entries.length === 1 && typeof entries[0][1] === "number") {
      return { kind: "map", name: entries[0][0], value: entries[0][1] };
    }
  }
  return { kind: "other", type };
}

const SIMPLE_ESCAPES: Record<string, string> = {
  '"': '"',
  "\\": "\\",
  "/": "/",
  b: "\b",
  f: "\f",
  n: "\n",
  r: "\r",
  t: "\t",
};

function isHex(s: string, from: number, count: number): boolean {
  if (from + count > s.length) return false;
  for (let i = from; i < from + count; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70))) return false;
  }
  return true;
}

/** Decodes the JSON string body `s[start, end)` into bytes (latin1 characters). Throws JsonLineError. */
export function unescapeJsonBytes(s: string, start: number, end: number): string {
  let backslash = s.indexOf("\\", start);
  if (backslash < 0 || backslash >= end) return s.slice(start, end);
  let out = "";
  let from = start;
  while (backslash >= 0 && backslash < end) {
    out += s.slice(from, backslash);
    const c = s[backslash + 1];
    if (backslash + 1 >= end) throw new JsonLineError("a printf string ends with a lone backslash");
    const simple = SIMPLE_ESCAPES[c];
    if (simple !== undefined) {
      out += simple;
      from = backslash + 2;
    } else if (c === "u" && isHex(s, backslash + 2, 4) && backslash + 6 <= end) {
      let code = Number.parseInt(s.slice(backslash + 2, backslash + 6), 16);
      from = backslash + 6;
      if (code === 0xffff && isHex(s, backslash + 6, 4) && backslash + 10 <= end) {
        // bpftrace 0.17's sign-extended byte: \uffffffXX.
        const low = Number.parseInt(s.slice(backslash + 6, backslash + 10), 16);
        if (low < 0xff80)
          throw new JsonLineError(`unexpected escape \\uffff${s.slice(backslash + 6, backslash + 10)}`);
        code = low & 0xff;
        from = backslash + 10;
      } else if (code > 0xff) {
        throw new JsonLineError(
          `unexpected escape \\u${s.slice(backslash + 2, backslash + 6)} (expected a byte)`,
        );
      }
      out += String.fromCharCode(code);
    } else {
      throw new JsonLineError(`unexpected escape \\${c} in a printf string`);
    }
    backslash = s.indexOf("\\", from);
  }
  return out + s.slice(from, end);
}
