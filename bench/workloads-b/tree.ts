/**
 * A seeded tree of user documents under /home, for the workloads: what ransomware is after. Directories and names
 * like a person's home (Documents, Pictures, Projects…), sizes from a few KiB to a few hundred.
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { randomInt, seededRandom } from "../../src/core/random.ts";

const DIRS = [
  "Documents",
  "Documents/taxes",
  "Pictures",
  "Pictures/2025",
  "Projects/report",
  "Projects/site",
  "Desktop",
  "Music",
];
const EXTENSIONS = ["docx", "xlsx", "pdf", "odt", "txt", "jpg", "png", "csv", "md", "pptx"];

export interface DocumentTree {
  root: string;
  files: string[];
  remove(): void;
}

export function makeDocumentTree(name: string, files: number, seed: number): DocumentTree {
  const root = join("/home", `tl-${name}-${process.pid}-${seed}`);
  rmSync(root, { recursive: true, force: true });
  const random = seededRandom(seed);
  const paths: string[] = [];
  for (const d of DIRS) mkdirSync(join(root, d), { recursive: true });
  for (let i = 0; i < files; i++) {
    const dir = DIRS[randomInt(random, DIRS.length)];
    const ext = EXTENSIONS[randomInt(random, EXTENSIONS.length)];
    const path = join(root, dir, `${ext === "txt" || ext === "md" ? "notes" : "file"}-${i}.${ext}`);
    const size = 2048 + Math.floor(random() ** 3 * 200_000);
    const text = ext === "txt" || ext === "md" || ext === "csv";
    const body = text
      ? Buffer.from(
          "the quick brown fox jumps over the lazy dog\n".repeat(Math.ceil(size / 44)).slice(0, size),
        )
      : noise(size, random);
    writeFileSync(path, body);
    paths.push(path);
  }
  return { root, files: paths, remove: () => rmSync(root, { recursive: true, force: true }) };
}

function noise(size: number, random: () => number): Buffer {
  const out = Buffer.allocUnsafe(size);
  let x = Math.floor(random() * 0xffffffff) | 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}
