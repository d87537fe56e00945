/**
 * Parses the strace output the collector asks for: `strace -f -xx -X raw -s 63 --absolute-timestamps=unix,ns
 * -o FIFO`. Each line is `TID  SECONDS.NANOSECONDS BODY`; strings are all `\xHH` escapes (-xx), named constants
 * are raw numbers (-X raw). Written for the collector (the syscall detector's own strace reader handles any
 * strace output but keeps no arguments).
 */
export type StraceLine =
  /** A system call's entry: complete (`= result`) or `<unfinished ...>` (result null). */
  | { kind: "call"; tid: number; ts: string; name: string; args: string; result: string | null }
  | { kind: "resumed"; tid: number; ts: string; name: string; result: string | null }
  /** `+++ exited with N +++` or `+++ killed by SIG… +++`: the thread is gone. */
  | { kind: "exit"; tid: number; ts: string }
  /** Signals, `+++ superseded by execve +++` and other notes. */
  | { kind: "other"; tid: number; ts: string };

export class StraceLineError extends Error {}

const LINE = /^(\d+) +(\d+)\.(\d{1,9}) (.*)$/;
const UNFINISHED = " <unfinished ...>";
const RESUMED = /^<\.\.\. ([A-Za-z_][A-Za-z0-9_]*|\?\?\?) resumed>(.*)$/;
const CALL = /^([A-Za-z_][A-Za-z0-9_]*)\(/;
const RESULT = /\) += (.*)$/;

export function parseStraceLine(line: string): StraceLine {
  const m = LINE.exec(line);
  if (m === null)
    throw new StraceLineError(
      `expected "TID SECONDS.NANOSECONDS CALL", got ${JSON.stringify(line.slice(0, 100))}`,
    );
  const tid = Number(m[1]);
  const ts = m[2] + m[3].padEnd(9, "0");
  const body = m[4];
  if (body.startsWith("+++ exited with ") || body.startsWith("+++ killed by "))
    return { kind: "exit", tid, ts };
  if (body.startsWith("+++ ") || body.startsWith("--- ")) return { kind: "other", tid, ts };
  const resumed = RESUMED.exec(body);
  if (resumed !== null) {
    const result = RESULT.exec(resumed[2]);
    return { kind: "resumed", tid, ts, name: resumed[1], result: result === null ? null : result[1] };
  }
  const call = CALL.exec(body);
  if (call === null)
    throw new StraceLineError(`expected a system call, got ${JSON.stringify(body.slice(0, 100))}`);
  const open = call[0].length;
  if (body.endsWith(UNFINISHED)) {
    return {
      kind: "call",
      tid,
      ts,
      name: call[1],
      args: body.slice(open, body.length - UNFINISHED.length),
      result: null,
    };
  }
  const close = closingParen(body, open);
  if (close < 0) throw new StraceLineError(`unbalanced arguments in ${JSON.stringify(body.slice(0, 100))}`);
  const rest = body.slice(close + 1);
  const result = /^ += (.*)$/.exec(rest);
  return {
    kind: "call",
    tid,
    ts,
    name: call[1],
    args: body.slice(open, close),
    result: result === null ? "" : result[1],
  };
}

/** Index of the `)` that closes the argument list opened just before `from`, skipping strings and nesting. */
function closingParen(s: string, from: number): number {
  let depth = 0;
  for (let i = from; i < s.length; i++) {
    const c = s[i];
    if (c === '"') {
      i = skipString(s, i);
      if (i < 0) return -1;
    } else if (c === "(" || c === "[" || c === "{") depth++;
    else if (c === "]" || c === "}") depth--;
    else if (c === ")") {
      if (depth === 0) return i;
      depth--;
    }
  }
  return -1;
}

/** Index of the closing quote of the string that opens at `i`, or -1. */
function skipString(s: string, i: number): number {
  for (let j = i + 1; j < s.length; j++) {
    if (s[j] === "\\") j++;
    else if (s[j] === '"') return j;
  }
  return -1;
}

/** Splits an argument list at its top-level commas (strings, brackets, braces and comments kept whole). */
export function splitArgs(args: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < args.length; i++) {
    const c = args[i];
    if (c === '"') {
      const end = skipString(args, i);
      if (end < 0) break;
      i = end;
    } else if (c === "/" && args[i + 1] === "*") {
      const end = args.indexOf("*/", i + 2);
      if (end < 0) break;
      i = end + 1;
    } else if (c === "(" || c === "[" || c === "{") depth++;
    else if (c === ")" || c === "]" || c === "}") depth--;
    else if (c === "," && depth === 0) {
      out.push(args.slice(start, i).trim());
      start = i + 1;
    }
  }
  const last = args.slice(start).trim();
  if (last !== "" || out.length > 0) out.push(last);
  return out;
}

const C_ESCAPES: Record<string, string> = {
  n: "\n",
  t: "\t",
  r: "\r",
  v: "\v",
  f: "\f",
  '"': '"',
  "\\": "\\",
};

/**
 * A strace string argument (`"…"`, maybe followed by `...` when cut at -s) as a byte string, or null when the
 * argument is not a string (NULL, an address). Accepts -xx hex escapes and strace's other C escapes.
 */
export function decodeStraceString(token: string): string | null {
  if (!token.startsWith('"')) return null;
  const end = skipString(token, 0);
  if (end < 0) return null;
  let out = "";
  for (let i = 1; i < end; i++) {
    const c = token[i];
    if (c !== "\\") {
      out += c;
      continue;
    }
    const next = token[i + 1];
    if (next === "x" && /^[0-9a-fA-F]{2}$/.test(token.slice(i + 2, i + 4))) {
      out += String.fromCharCode(Number.parseInt(token.slice(i + 2, i + 4), 16));
      i += 3;
    } else if (next >= "0" && next <= "7") {
      const octal = /^[0-7]{1,3}/.exec(token.slice(i + 1))![0];
      out += String.fromCharCode(Number.parseInt(octal, 8) & 0xff);
      i += octal.length;
    } else if (C_ESCAPES[next] !== undefined) {
      out += C_ESCAPES[next];
      i += 1;
    } else {
      out += next ?? "";
      i += 1;
    }
  }
  return out;
}

/** A raw (-X raw) integer argument: `0x80000`, `0600` (octal), `-100`, `0x1200000|17` (the first part). */
export function parseRawInteger(token: string): number | null {
  const first = token.split("|")[0].trim();
  if (/^-?0x[0-9a-fA-F]+$/.test(first)) return Number.parseInt(first, 16);
  if (/^0[0-7]+$/.test(first)) return Number.parseInt(first, 8);
  if (/^-?\d+$/.test(first)) return Number(first);
  return null;
}

/** The value of `name=` inside a struct argument such as clone3's `{flags=0x3d0f00, …}` or openat2's how. */
export function structField(token: string, name: string): string | null {
  const m = new RegExp(`[{ ,]${name}=([^,} ]+)`).exec(token);
  return m === null ? null : m[1];
}
