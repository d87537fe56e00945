import { open } from "node:fs/promises";

/**
 * Called once per line with the raw bytes: `buf[start, end)` is the line without its terminator (a trailing CR is
 * already excluded). Working on bytes lets hot parsers skip UTF-8 decoding of fields that are only compared or
 * hashed. `buf` is reused for the next chunk: copy what must outlive the call.
 */
export type LineVisitor = (buf: Uint8Array, start: number, end: number, lineNumber: number) => void;

export interface LineScanOptions {
  /** Bytes read per system call; larger chunks amortise call overhead. */
  chunkBytes?: number;
  /** Called after each chunk with bytes consumed so far, for progress bars on big files. */
  onBytes?: (bytesRead: number) => void;
}

/**
 * Visits every line of a file in one streaming pass. Memory is bounded by the chunk size plus the longest line,
 * whatever the file size. Returns the number of lines visited.
 */
export async function scanLines(
  path: string,
  visit: LineVisitor,
  options: LineScanOptions = {},
): Promise<number> {
  const chunkBytes = options.chunkBytes ?? 1024 * 1024;
  const handle = await open(path, "r");
  let buffer = Buffer.allocUnsafe(chunkBytes);
  // Bytes [0, carry) of `buffer` are the start of a line continued in the next read.
  let carry = 0;
  let lineNumber = 0;
  let bytesRead = 0;
  try {
    for (;;) {
      if (carry === buffer.length) {
        const grown = Buffer.allocUnsafe(buffer.length * 2);
        buffer.copy(grown, 0, 0, carry);
        buffer = grown;
      }
      const { bytesRead: n } = await handle.read(buffer, carry, buffer.length - carry, null);
      if (n === 0) break;
      bytesRead += n;
      const filled = carry + n;
      let start = 0;
      for (;;) {
        const newline = buffer.indexOf(10, start);
        if (newline < 0 || newline >= filled) break;
        const end = newline > start && buffer[newline - 1] === 13 ? newline - 1 : newline;
        visit(buffer, start, end, ++lineNumber);
        start = newline + 1;
      }
      carry = filled - start;
      if (carry > 0 && start > 0) buffer.copyWithin(0, start, filled);
      options.onBytes?.(bytesRead);
    }
    if (carry > 0) {
      const end = buffer[carry - 1] === 13 ? carry - 1 : carry;
      visit(buffer, 0, end, ++lineNumber);
    }
  } finally {
    await handle.close();
  }
  return lineNumber;
}

/** A line as text: `text.slice(start, end)` is the line (formats whose parsers work on strings). */
export type TextLineVisitor = (text: string, start: number, end: number, lineNumber: number) => void;

const utf8 = new TextDecoder();

/** `scanLines`, decoding each line from UTF-8 (invalid bytes become U+FFFD) before visiting it. */
export function scanTextLines(
  path: string,
  visit: TextLineVisitor,
  options: LineScanOptions = {},
): Promise<number> {
  return scanLines(
    path,
    (buf, start, end, lineNumber) => {
      const line = utf8.decode(buf.subarray(start, end));
      visit(line, 0, line.length, lineNumber);
    },
    options,
  );
}
