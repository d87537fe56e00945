"""A small notes service (Python http.server, one thread per request) with a command-injection flaw on purpose.

Endpoints: GET / (index page), GET /notes/<name> (a note), POST /notes/<name> (save a note), GET /api/stats
(JSON about the notes), GET /count?file=<name> (line count through `wc -l` in a shell: the flaw — the name is pasted
into the command line), GET /search?q=<word> (matching notes through grep in a shell: the same flaw).
Used by threatlens's syscall benchmarks and live tests; listens on 127.0.0.1 only.
"""
import json
import os
import subprocess
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

DATA = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
os.makedirs(DATA, exist_ok=True)
for i in range(5):
    path = os.path.join(DATA, f"note{i}.txt")
    if not os.path.exists(path):
        with open(path, "w") as f:
            f.write("\n".join(f"line {k} of note {i}" for k in range(3 + i)) + "\n")


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, code, body, kind="text/plain"):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(code)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        url = urlparse(self.path)
        query = parse_qs(url.query)
        if url.path == "/":
            names = sorted(os.listdir(DATA))
            self.reply(200, "<ul>" + "".join(f"<li>{n}</li>" for n in names) + "</ul>", "text/html")
        elif url.path.startswith("/notes/"):
            path = os.path.join(DATA, os.path.basename(url.path[7:]))
            if not os.path.exists(path):
                self.reply(404, "no such note")
                return
            with open(path, "rb") as f:
                self.reply(200, f.read())
        elif url.path == "/api/stats":
            sizes = {n: os.stat(os.path.join(DATA, n)).st_size for n in os.listdir(DATA)}
            self.reply(200, json.dumps({"notes": len(sizes), "bytes": sum(sizes.values())}), "application/json")
        elif url.path == "/count":
            name = query.get("file", ["note0.txt"])[0]
            out = subprocess.run(f"wc -l {DATA}/{name}", shell=True, capture_output=True, text=True)
            self.reply(200, out.stdout + out.stderr)
        elif url.path == "/search":
            word = query.get("q", ["line"])[0]
            out = subprocess.run(f"grep -l {word} {DATA}/*.txt", shell=True, capture_output=True, text=True)
            self.reply(200, out.stdout)
        else:
            self.reply(404, "not found")

    def do_POST(self):
        url = urlparse(self.path)
        if not url.path.startswith("/notes/"):
            self.reply(404, "not found")
            return
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        with open(os.path.join(DATA, os.path.basename(url.path[7:])), "wb") as f:
            f.write(body)
        self.reply(201, "saved")


ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
