import { open } from "node:fs/promises";
import { StringDecoder } from "node:string_decoder";

/**
 * Called once per line. `text.slice(start, end)` is the line without its terminator (a trailing CR is already
 * excluded); passing indexes instead of a substring lets hot parsers read fields without allocating.
 */
export type LineVisitor = (text: string, start: number, end: number, lineNumber: number) => void;

export interface LineScanOptions {
  /** Bytes read per system call; larger chunks amortise decoding and call overhead. */
  chunkBytes?: number;
  /** Called after each chunk with bytes consumed so far, for progress bars on big files. */
  onBytes?: (bytesRead: number) => void;
}

/**
 * Visits every line of a UTF-8 text file in one streaming pass. Memory is bounded by the chunk size plus the
 * longest line, whatever the file size. Returns the number of lines visited.
 */
export async function scanLines(
  path: string,
  visit: LineVisitor,
  options: LineScanOptions = {},
): Promise<number> {
  const chunkBytes = options.chunkBytes ?? 4 * 1024 * 1024;
  const handle = await open(path, "r");
  const decoder = new StringDecoder("utf8");
  const buffer = Buffer.allocUnsafe(chunkBytes);
  let carry = "";
  let lineNumber = 0;
  let bytesRead = 0;
  try {
    for (;;) {
      const { bytesRead: n } = await handle.read(buffer, 0, chunkBytes, null);
      if (n === 0) break;
      bytesRead += n;
      const text = carry + decoder.write(n === chunkBytes ? buffer : buffer.subarray(0, n));
      let start = 0;
      for (;;) {
        const newline = text.indexOf("\n", start);
        if (newline < 0) break;
        const end = newline > start && text.charCodeAt(newline - 1) === 13 ? newline - 1 : newline;
        visit(text, start, end, ++lineNumber);
        start = newline + 1;
      }
      carry = start < text.length ? text.slice(start) : "";
      options.onBytes?.(bytesRead);
    }
    carry += decoder.end();
    if (carry.length > 0) {
      const end = carry.charCodeAt(carry.length - 1) === 13 ? carry.length - 1 : carry.length;
      visit(carry, 0, end, ++lineNumber);
    }
  } finally {
    await handle.close();
  }
  return lineNumber;
}
