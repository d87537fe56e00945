import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  decodeBpftraceLine,
  JsonLineError,
  unescapeJsonBytes,
} from "../../src/collector/bpftrace/json-lines.ts";
import { parseRecord, RecordError } from "../../src/collector/bpftrace/records.ts";
import { randomInt, seededRandom } from "../../src/core/random.ts";

/** What bpftrace 0.17's json_escape writes for a byte string (one character per byte). */
function bpftraceEscape(bytes: string): string {
  let out = "";
  for (const ch of bytes) {
    const c = ch.charCodeAt(0);
    if (ch === '"') out += '\\"';
    else if (ch === "\\") out += "\\\\";
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (c < 0x20) out += `\\u${c.toString(16).padStart(4, "0")}`;
    // The byte as a signed char, sign-extended: \uffffffXX.
    else if (c >= 0x80) out += `\\u${((0xffffff00 | c) >>> 0).toString(16)}`;
    else out += ch;
  }
  return out;
}

function printfLine(text: string): string {
  return `{"type": "printf", "data": "${bpftraceEscape(text)}"}`;
}

function randomBytes(random: () => number, max: number): string {
  const n = randomInt(random, max + 1);
  let s = "";
  // Every byte but NUL (a C string cannot hold it), with the awkward ones more often.
  const awkward = [10, 13, 9, 34, 92, 44, 32, 0x7f, 0x80, 0xff, 1, 31];
  for (let i = 0; i < n; i++) {
    s += String.fromCharCode(
      random() < 0.3 ? awkward[randomInt(random, awkward.length)] : 1 + randomInt(random, 255),
    );
  }
  return s;
}

describe("bpftrace JSON lines", () => {
  it("decodes bpftrace's printf escapes, including its sign-extended \\uffffffXX for high bytes", () => {
    // A line written by bpftrace 0.17 for a path with a newline, comma, quote, backslash, 0xff 0xfe, 0x01 and a tab.
    const line = String.raw`{"type": "printf", "data": "E 1 5 7 7 1 0 0 /tmp/a\nb,\"c\\d\uffffffff\ufffffffe\u0001z\t\n"}`;
    const decoded = decodeBpftraceLine(line);
    assert.equal(decoded.kind, "printf");
    assert.equal(
      decoded.kind === "printf" && decoded.text,
      'E 1 5 7 7 1 0 0 /tmp/a\nb,"c\\d\xff\xfe\x01z\t\n',
    );
  });

  it("round-trips random byte strings through bpftrace's escaping (property, 2,000 cases)", () => {
    const random = seededRandom(71);
    for (let i = 0; i < 2000; i++) {
      const bytes = randomBytes(random, 80);
      const decoded = decodeBpftraceLine(printfLine(bytes));
      assert.deepEqual(decoded, { kind: "printf", text: bytes }, JSON.stringify(bytes));
    }
  });

  it("also accepts correct \\u00XX escapes of high bytes (a bpftrace that escapes properly)", () => {
    assert.equal(unescapeJsonBytes(String.raw`a\u00ffb\u0080`, 0, 14), "a\xffb\x80");
  });

  it("reads lost-event counts, maps and other messages", () => {
    assert.deepEqual(decodeBpftraceLine('{"type": "lost_events", "data": {"events": 807}}'), {
      kind: "lost",
      events: 807,
    });
    assert.deepEqual(decodeBpftraceLine('{"type": "map", "data": {"@records": 1616}}'), {
      kind: "map",
      name: "@records",
      value: 1616,
    });
    assert.deepEqual(decodeBpftraceLine('{"type": "attached_probes", "data": {"probes": 22}}'), {
      kind: "other",
      type: "attached_probes",
    });
  });

  it("rejects what bpftrace does not write, saying what it saw", () => {
    assert.throws(() => decodeBpftraceLine("Attaching 3 probes..."), JsonLineError);
    assert.throws(() => decodeBpftraceLine('{"type": "lost_events", "data": {}}'), /without a count/);
    assert.throws(() => unescapeJsonBytes(String.raw`\u0100`, 0, 6), /expected a byte/);
    assert.throws(() => unescapeJsonBytes(String.raw`\q`, 0, 2), /unexpected escape/);
    assert.throws(() => unescapeJsonBytes("a\\", 0, 2), /lone backslash/);
  });

  it("never throws anything but JsonLineError on arbitrary input (fuzz, 5,000 lines)", () => {
    const random = seededRandom(5);
    const pieces = ['{"type": "printf", "data": "', '"}', "\\", "\\u", "ffff", "00", '"', "{", "}", "a", " "];
    for (let i = 0; i < 5000; i++) {
      let line = "";
      const n = randomInt(random, 8);
      for (let k = 0; k < n; k++) line += pieces[randomInt(random, pieces.length)];
      try {
        decodeBpftraceLine(line);
      } catch (error) {
        assert.ok(error instanceof JsonLineError, `${JSON.stringify(line)}: ${error}`);
      }
    }
  });
});

describe("collector records", () => {
  it("parses each record kind", () => {
    assert.deepEqual(parseRecord("B 4242"), { kind: "begin", pid: 4242 });
    assert.deepEqual(parseRecord("P"), { kind: "pong" });
    assert.deepEqual(parseRecord("S 99"), { kind: "stopping", ts: "99" });
    assert.deepEqual(parseRecord("T 1 123456789012"), { kind: "tick", cpu: 1, ts: "123456789012" });
    assert.deepEqual(parseRecord("F 10 77 bash"), { kind: "fork", ts: "10", childTid: 77, comm: "bash" });
    assert.deepEqual(parseRecord("N 11 77 my prog"), { kind: "name", ts: "11", tid: 77, comm: "my prog" });
    assert.deepEqual(parseRecord("X 12 77 77 1 0 /usr/bin/a b"), {
      kind: "exec",
      ts: "12",
      pid: 77,
      tid: 77,
      ppid: 1,
      uid: 0,
      filename: "/usr/bin/a b",
    });
    assert.deepEqual(parseRecord("Z 13 77 78 0"), {
      kind: "exit",
      ts: "13",
      pid: 77,
      tid: 78,
      groupDead: false,
    });
    assert.deepEqual(parseRecord("R 5 15 77 78 1 1000 512 -2 old dir"), {
      kind: "file",
      op: 5,
      ts: "15",
      pid: 77,
      tid: 78,
      ppid: 1,
      uid: 1000,
      flags: "512",
      result: -2,
      filename: "old dir",
    });
    assert.deepEqual(parseRecord("E 13 14 77 78 1 1000 -1 "), {
      kind: "file",
      op: 13,
      ts: "14",
      pid: 77,
      tid: 78,
      ppid: 1,
      uid: 1000,
      flags: "-1",
      filename: "",
    });
    assert.deepEqual(parseRecord("C 15 77 78 39"), {
      kind: "syscall",
      ts: "15",
      pid: 77,
      tid: 78,
      number: 39,
    });
  });

  it("keeps the trailing string whole whatever it holds (property: spaces, digits, newlines)", () => {
    const random = seededRandom(9);
    for (let i = 0; i < 2000; i++) {
      const name = randomBytes(random, 63);
      const r = parseRecord(`E 1 ${1 + randomInt(random, 1e9)} 5 6 1 0 524288 ${name}`);
      assert.equal(r.kind === "file" && r.filename, name);
    }
  });

  it("rejects unknown letters, missing or extra fields and non-integers", () => {
    for (const bad of [
      "Q 1",
      "E 1 2 3",
      "T 1",
      "T 1 2 3",
      "Px",
      "P 1",
      "E x 2 3 4 5 6 7 a",
      "C 1 2 3 4.5",
      "Z 1 2 3 4 5",
    ]) {
      assert.throws(() => parseRecord(bad), RecordError, bad);
    }
  });
});
