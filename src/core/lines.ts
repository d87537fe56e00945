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
  // Two buffers: the next chunk is read into one while the lines of the other are visited, so parsing overlaps the
  // read instead of waiting for it. Each buffer keeps `head` spare bytes in front of its chunk, where the partial
  // line left over from the previous chunk is copied.
  let head = Math.max(256, chunkBytes >> 4);
  let buffers = [Buffer.allocUnsafe(head + chunkBytes), Buffer.allocUnsafe(head + chunkBytes)];
  let current = 0;
  let carry: Buffer | null = null;
  let lineNumber = 0;
  let bytesRead = 0;
  const readInto = (buffer: Buffer) => handle.read(buffer, head, chunkBytes, null);
  try {
    let pending = readInto(buffers[current]);
    for (;;) {
      const { bytesRead: n } = await pending;
      if (n === 0) break;
      const buffer = buffers[current];
      bytesRead += n;
      let start = head;
      if (carry !== null) {
        if (carry.length > head) {
          // A line longer than the spare room: grow both buffers' heads (rare: only for very long lines).
          const merged = Buffer.concat([carry, buffer.subarray(head, head + n)]);
          head = carry.length * 2;
          buffers = [Buffer.allocUnsafe(head + chunkBytes), Buffer.allocUnsafe(head + chunkBytes)];
          merged.copy(buffers[current], head - carry.length);
        } else carry.copy(buffer, head - carry.length);
        start = head - carry.length;
        carry = null;
      }
      const data = buffers[current];
      const filled = head + n;
      pending = readInto(buffers[1 - current]);
      for (;;) {
        const newline = data.indexOf(10, start);
        if (newline < 0 || newline >= filled) break;
        const end = newline > start && data[newline - 1] === 13 ? newline - 1 : newline;
        visit(data, start, end, ++lineNumber);
        start = newline + 1;
      }
      if (start < filled) carry = Buffer.from(data.subarray(start, filled));
      current = 1 - current;
      options.onBytes?.(bytesRead);
    }
    if (carry !== null && carry.length > 0) {
      const end = carry[carry.length - 1] === 13 ? carry.length - 1 : carry.length;
      visit(carry, 0, end, ++lineNumber);
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
