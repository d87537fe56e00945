// A small inventory service (Node http) with a command-injection flaw on purpose.
// Endpoints: GET / (page), GET /api/items (JSON from a file), POST /api/items (append an item), GET /api/time,
// GET /disk (df through a shell), GET /convert?text=<t> (upper-cases text through `echo … | tr` in a shell: the
// flaw — the text is pasted into the command line). Used by threatlens's syscall benchmarks and live tests; listens
// on 127.0.0.1 only.
import { exec } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const port = Number(process.argv[2]);
const data = process.argv[3] ?? join(dirname(fileURLToPath(import.meta.url)), "data");
mkdirSync(data, { recursive: true });
const itemsFile = join(data, "items.json");
if (!existsSync(itemsFile)) writeFileSync(itemsFile, JSON.stringify([{ id: 1, name: "bolt", count: 40 }]));

function reply(res, code, body, type = "text/plain") {
  res.writeHead(code, { "Content-Type": type });
  res.end(body);
}

createServer((req, res) => {
  const url = new URL(req.url, "http://localhost");
  if (req.method === "GET" && url.pathname === "/") return reply(res, 200, "<h1>inventory</h1>", "text/html");
  if (req.method === "GET" && url.pathname === "/api/items")
    return reply(res, 200, readFileSync(itemsFile, "utf8"), "application/json");
  if (req.method === "POST" && url.pathname === "/api/items") {
    let body = "";
    req.on("data", (chunk) => {
      body += chunk;
    });
    req.on("end", () => {
      const items = JSON.parse(readFileSync(itemsFile, "utf8"));
      items.push({ id: items.length + 1, name: String(body).slice(0, 40), count: 1 });
      writeFileSync(itemsFile, JSON.stringify(items.slice(-50)));
      reply(res, 201, "added");
    });
    return;
  }
  if (url.pathname === "/api/time")
    return reply(res, 200, JSON.stringify({ now: Date.now() }), "application/json");
  if (url.pathname === "/disk") return exec("df -h /", (_e, out) => reply(res, 200, out));
  if (url.pathname === "/convert")
    return exec(`echo ${url.searchParams.get("text") ?? ""} | tr a-z A-Z`, (_e, out, err) =>
      reply(res, 200, out + err),
    );
  reply(res, 404, "not found");
}).listen(port, "127.0.0.1");
