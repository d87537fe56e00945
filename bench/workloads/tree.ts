import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { randomInt, seededRandom } from "../../src/core/random.ts";

/**
 * A seeded tree of user documents for the workloads to work on: office files, pictures, text, code, spread over
 * a home directory's usual folders, of sizes from a few hundred bytes to 256 KiB (log-uniform; 37 KiB on average), so that
 * both fast small files and slow large ones occur. Text formats get readable lines (sed and grep have something
 * to match); the others random bytes (already-compressed formats).
 */
export interface TreeOptions {
  files: number;
  seed: number;
  /** Largest file in bytes. */
  maxBytes?: number;
}

export interface TreeSummary {
  root: string;
  files: number;
  bytes: number;
  directories: number;
}

const FOLDERS = [
  "Documents",
  "Documents/contracts",
  "Documents/taxes/2024",
  "Pictures/holidays",
  "Pictures",
  "Projects/website",
  "Projects/thesis",
  "Downloads",
  "Desktop",
  "Music",
];
const TEXT = ["txt", "md", "csv", "html", "tex", "c", "py"];
const BINARY = ["docx", "xlsx", "pptx", "pdf", "odt", "jpg", "png", "mp3", "zip"];
const WORDS = [
  "invoice",
  "report",
  "draft",
  "final",
  "notes",
  "budget",
  "photo",
  "letter",
  "plan",
  "summary",
];

export function generateTree(root: string, options: TreeOptions): TreeSummary {
  const random = seededRandom(options.seed);
  const maxBytes = options.maxBytes ?? 256 << 10;
  let bytes = 0;
  for (const folder of FOLDERS) mkdirSync(join(root, folder), { recursive: true });
  for (let i = 0; i < options.files; i++) {
    const folder = FOLDERS[randomInt(random, FOLDERS.length)];
    const text = random() < 0.4;
    const ext = text ? TEXT[randomInt(random, TEXT.length)] : BINARY[randomInt(random, BINARY.length)];
    const name = `${WORDS[randomInt(random, WORDS.length)]}_${i}.${ext}`;
    // Log-uniform sizes between 256 bytes and maxBytes.
    const size = Math.round(256 * (maxBytes / 256) ** random());
    const content = text ? textContent(random, size) : binaryContent(random, size);
    writeFileSync(join(root, folder, name), content);
    bytes += content.length;
  }
  return { root, files: options.files, bytes, directories: FOLDERS.length };
}

function textContent(random: () => number, size: number): Buffer {
  const lines: string[] = [];
  let length = 0;
  while (length < size) {
    const line = `${WORDS[randomInt(random, WORDS.length)]} ${randomInt(random, 100000)} ${WORDS[randomInt(random, WORDS.length)]} lorem ipsum dolor`;
    lines.push(line);
    length += line.length + 1;
  }
  return Buffer.from(`${lines.join("\n")}\n`.slice(0, Math.max(size, 1)));
}

function binaryContent(random: () => number, size: number): Buffer {
  const out = Buffer.allocUnsafe(size);
  let i = 0;
  for (; i + 4 <= size; i += 4) out.writeUInt32LE(Math.floor(random() * 2 ** 32), i);
  for (; i < size; i++) out[i] = randomInt(random, 256);
  return out;
}
