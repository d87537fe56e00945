import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { InputError } from "../../src/core/errors.ts";
import { randomInt, seededRandom } from "../../src/core/random.ts";
import {
  EVENT_COLUMNS,
  EventType,
  EXTENDED_COLUMNS,
  eventComm,
  eventFilename,
  eventLayoutOf,
  type FileEvent,
  formatTimestamp,
  newEvent,
  parseEventRow,
  RowError,
  readEventLog,
} from "../../src/ransomware/events.ts";

const HEADER = "TS,PID,TYPE,FLAG,PATTERN,OPEN,CREATE,DELETE,ENCRYPT,FILENAME";
const UINT64_MAX = 2n ** 64n - 1n;
const utf8 = new TextEncoder();
const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

interface Parsed {
  ts: bigint;
  pid: number;
  type: number;
  flag: number;
  pattern: number;
  thresholds: number;
  name: Buffer;
}

function snapshot(e: FileEvent): Parsed {
  return {
    ts: BigInt(formatTimestamp(e.tsSec, e.tsNsec)),
    pid: e.pid,
    type: e.type,
    flag: e.flag,
    pattern: e.pattern,
    thresholds: e.thresholds,
    name: Buffer.from(e.bytes.subarray(e.nameStart, e.nameEnd)),
  };
}

/**
 * Parses `row` placed between junk bytes (digits, commas, quotes) so that reading outside [start, end) would show.
 */
function parseBytes(row: Uint8Array): Parsed {
  const prefix = utf8.encode('7,"');
  const suffix = utf8.encode(',9"x');
  const buf = new Uint8Array(prefix.length + row.length + suffix.length);
  buf.set(prefix, 0);
  buf.set(row, prefix.length);
  buf.set(suffix, prefix.length + row.length);
  const event = newEvent();
  parseEventRow(buf, prefix.length, prefix.length + row.length, event);
  return snapshot(event);
}

const parse = (row: string) => parseBytes(utf8.encode(row));

function assertRowError(row: string, pattern: RegExp): void {
  assert.throws(
    () => parse(row),
    (error: unknown) => {
      assert.ok(error instanceof RowError, `not a RowError: ${error}`);
      assert.match(error.message, pattern, `row ${JSON.stringify(row)}`);
      return true;
    },
  );
}

describe("parseEventRow: valid rows", () => {
  test("all fields", () => {
    const p = parse("1700000000123456789,4242,3,2,4294967295,1,0,1,1,/home/u/doc.txt");
    assert.equal(p.ts, 1700000000123456789n);
    assert.equal(p.pid, 4242);
    assert.equal(p.type, 3);
    assert.equal(p.flag, 2);
    assert.equal(p.pattern, 4294967295);
    assert.equal(p.thresholds, 0b1101);
    assert.equal(p.name.toString(), "/home/u/doc.txt");
  });

  test("threshold columns map to bits 0..3 (OPEN, CREATE, DELETE, ENCRYPT)", () => {
    for (let bits = 0; bits < 16; bits++) {
      const flags = [0, 1, 2, 3].map((b) => (bits >> b) & 1).join(",");
      assert.equal(parse(`1,1,0,0,0,${flags},f`).thresholds, bits);
    }
  });

  test("TS split into exact seconds and nanoseconds", () => {
    const event = newEvent();
    const row = utf8.encode("1700000001000000042,1,0,0,0,0,0,0,0,f");
    parseEventRow(row, 0, row.length, event);
    assert.equal(event.tsSec, 1700000001);
    assert.equal(event.tsNsec, 42);
    const small = utf8.encode("999999999,1,0,0,0,0,0,0,0,f");
    parseEventRow(small, 0, small.length, event);
    assert.equal(event.tsSec, 0);
    assert.equal(event.tsNsec, 999999999);
  });

  test("TS above 2^53 is kept exact: random 19–20 digit values round-trip through formatTimestamp", () => {
    const random = seededRandom(21);
    const event = newEvent();
    for (let trial = 0; trial < 5000; trial++) {
      let ts: bigint;
      do {
        const digits = random() < 0.5 ? 19 : 20;
        let s = String(1 + randomInt(random, 9));
        while (s.length < digits) s += String(randomInt(random, 10));
        ts = BigInt(s);
      } while (ts > UINT64_MAX);
      const row = utf8.encode(`${ts},1,0,0,0,0,0,0,0,f`);
      parseEventRow(row, 0, row.length, event);
      assert.equal(BigInt(formatTimestamp(event.tsSec, event.tsNsec)), ts);
      assert.equal(formatTimestamp(event.tsSec, event.tsNsec), String(ts));
      assert.equal(BigInt(event.tsSec), ts / 1_000_000_000n);
      assert.equal(BigInt(event.tsNsec), ts % 1_000_000_000n);
    }
  });

  test("TS of every length 1..20, including leading zeros and the 64-bit maximum", () => {
    const random = seededRandom(22);
    for (let digits = 1; digits <= 20; digits++) {
      for (let k = 0; k < 50; k++) {
        let s = "";
        while (s.length < digits) s += String(randomInt(random, 10));
        if (BigInt(s) > UINT64_MAX) continue;
        assert.equal(parse(`${s},1,0,0,0,0,0,0,0,f`).ts, BigInt(s), s);
      }
    }
    assert.equal(parse(`${UINT64_MAX},1,0,0,0,0,0,0,0,f`).ts, UINT64_MAX);
    assert.equal(parse("0,0,0,0,0,0,0,0,0,f").ts, 0n);
  });

  test("unquoted FILENAME is the rest of the row, whatever it holds", () => {
    assert.equal(parse("1,1,0,0,0,0,0,0,0,").name.length, 0);
    assert.equal(parse("1,1,0,0,0,0,0,0,0,/tmp/a b/ü😀.txt").name.toString(), "/tmp/a b/ü😀.txt");
    assert.equal(parse('1,1,0,0,0,0,0,0,0,a"b,c').name.toString(), 'a"b,c');
  });

  test("quoted FILENAME with commas and doubled quotes", () => {
    assert.equal(parse('1,1,0,0,0,0,0,0,0,"/tmp/a,b ""c"".txt"').name.toString(), '/tmp/a,b "c".txt');
    assert.equal(parse('1,1,0,0,0,0,0,0,0,""').name.length, 0);
    assert.equal(parse('1,1,0,0,0,0,0,0,0,""""').name.toString(), '"');
    assert.equal(parse('1,1,0,0,0,0,0,0,0,",,"').name.toString(), ",,");
  });

  test("eventFilename decodes UTF-8, for plain and quoted names", () => {
    const event = newEvent();
    for (const [row, name] of [
      ["1,1,0,0,0,0,0,0,0,/tmp/é😀", "/tmp/é😀"],
      ['1,1,0,0,0,0,0,0,0,"/tmp/é,""😀"""', '/tmp/é,"😀"'],
    ]) {
      const bytes = utf8.encode(row);
      parseEventRow(bytes, 0, bytes.length, event);
      assert.equal(eventFilename(event), name);
    }
  });
});

describe("parseEventRow: errors name the column", () => {
  const base = ["1700000000000000000", "10", "0", "0", "0", "0", "0", "0", "0", "f"];
  const limits: [string, number, (p: Parsed) => number][] = [
    ["PID", 0xffffffff, (p) => p.pid],
    ["TYPE", 3, (p) => p.type],
    ["FLAG", 2, (p) => p.flag],
    ["PATTERN", 0xffffffff, (p) => p.pattern],
    ["OPEN", 1, (p) => p.thresholds & 1],
    ["CREATE", 1, (p) => (p.thresholds >> 1) & 1],
    ["DELETE", 1, (p) => (p.thresholds >> 2) & 1],
    ["ENCRYPT", 1, (p) => (p.thresholds >> 3) & 1],
  ];

  test("each integer column accepts its maximum and refuses max + 1, negatives, text and empty", () => {
    for (const [name, max, read] of limits) {
      const column = EVENT_COLUMNS.indexOf(name);
      const row = (value: string) => base.map((v, i) => (i === column ? value : v)).join(",");
      assert.equal(read(parse(row(String(max)))), max);
      if (String(max).length < 10) assert.equal(read(parse(row(`0${max}`))), max);
      for (const bad of [String(max + 1), "-1", "x", "", "1.5", " 1", "1 ", "12345678901", "99999999999"]) {
        assertRowError(row(bad), new RegExp(`^${name} must be`));
      }
    }
  });

  test("TS: not an integer, too long, or above 2^64 - 1", () => {
    const row = (ts: string) => [ts, ...base.slice(1)].join(",");
    for (const bad of ["", "-1", "x", "1.5", " 1", "1e9", "123456789012345678901"]) {
      assertRowError(row(bad), /^TS must be a non-negative integer/);
    }
    for (const bad of [
      UINT64_MAX + 1n,
      18446744073999999999n,
      18446744074000000000n,
      99999999999999999999n,
    ]) {
      assertRowError(row(String(bad)), /^TS exceeds the 64-bit range/);
    }
  });

  test("short rows say how many columns they have", () => {
    assertRowError("", /^TS must be/);
    assertRowError("1", /^TS must be/);
    assertRowError("1,2", /^PID must be/);
    for (let columns = 2; columns <= 9; columns++) {
      const row = base.slice(0, columns).join(",");
      if (columns >= 3)
        assertRowError(row, new RegExp(`^expected 10 columns, the row ends after ${columns}$`));
      // With a trailing comma the last column is present but empty (nine commas make a valid row, empty FILENAME).
      if (columns <= 8) {
        assertRowError(`${row},`, new RegExp(`^expected 10 columns, the row ends after ${columns + 1}$`));
      }
    }
  });

  test("quoted FILENAME must close at the end of the row", () => {
    const prefix = base.slice(0, 9).join(",");
    assertRowError(`${prefix},"abc`, /^FILENAME has an opening quote but no closing quote$/);
    assertRowError(`${prefix},"`, /^FILENAME has an opening quote/);
    assertRowError(`${prefix},"a""`, /^FILENAME has an opening quote/);
    assertRowError(`${prefix},"abc"x`, /^unexpected text after the quoted FILENAME$/);
    assertRowError(`${prefix},"a"b"`, /^unexpected text after the quoted FILENAME$/);
  });

  test("the offending value is quoted in the message", () => {
    assertRowError("17x,1,0,0,0,0,0,0,0,f", /got "17x"/);
    assertRowError("1,1,7,0,0,0,0,0,0,f", /^TYPE must be an integer from 0 to 3, got "7"$/);
  });
});

/** Independent reference parser over bytes: the expected outcome (value or the column the error must name). */
function referenceParse(row: Uint8Array): Parsed | { error: RegExp } {
  const maxima = [UINT64_MAX, 0xffffffffn, 3n, 2n, 0xffffffffn, 1n, 1n, 1n, 1n];
  const maxDigits = [20, 10, 10, 10, 10, 10, 10, 10, 10];
  const values: bigint[] = [];
  let at = 0;
  for (let f = 0; f < 9; f++) {
    const comma = row.indexOf(44, at);
    const segment = row.subarray(at, comma < 0 ? row.length : comma);
    const allDigits = segment.every((b) => b >= 48 && b <= 57);
    const name = EVENT_COLUMNS[f];
    if (comma < 0 && allDigits && f >= 2)
      return { error: new RegExp(`^expected 10 columns, the row ends after ${f + 1}$`) };
    if (comma < 0 || !allDigits || segment.length === 0 || segment.length > maxDigits[f]) {
      return { error: new RegExp(`^${name} `) };
    }
    const value = BigInt(Buffer.from(segment).toString("latin1"));
    if (value > maxima[f]) return { error: new RegExp(`^${name} `) };
    values.push(value);
    at = comma + 1;
  }
  let name = Buffer.from(row.subarray(at));
  if (name[0] === 34) {
    const inner = name.subarray(1).toString("latin1");
    // Body: runs of non-quotes or doubled quotes, then the closing quote as the very last byte.
    const match = /^((?:[^"]|"")*)"$/.exec(inner);
    if (match === null) return { error: /^(FILENAME has an opening quote|unexpected text after the quoted)/ };
    name = Buffer.from(match[1].replaceAll('""', '"'), "latin1");
  }
  return {
    ts: values[0],
    pid: Number(values[1]),
    type: Number(values[2]),
    flag: Number(values[3]),
    pattern: Number(values[4]),
    thresholds: Number(values[5] | (values[6] << 1n) | (values[7] << 2n) | (values[8] << 3n)),
    name,
  };
}

function randomValidRow(random: () => number): Uint8Array {
  const ts = (BigInt(Math.floor(random() * 2 ** 32)) << 32n) | BigInt(Math.floor(random() * 2 ** 32));
  const fields = [
    String(random() < 0.2 ? ts % 1000n : ts),
    String(randomInt(random, 2 ** 32)),
    String(randomInt(random, 4)),
    String(randomInt(random, 3)),
    String(random() < 0.5 ? randomInt(random, 10) : randomInt(random, 2 ** 32)),
    ...[0, 1, 2, 3].map(() => String(randomInt(random, 2))),
  ];
  const pieces = ["a", "/", ".", " ", ",", '"', "é", "😀", "x1"];
  let name = "";
  for (let k = randomInt(random, 12); k > 0; k--) name += pieces[randomInt(random, pieces.length)];
  const quoted = name.includes(",") || name.includes('"') || random() < 0.2;
  fields.push(quoted ? `"${name.replaceAll('"', '""')}"` : name);
  return utf8.encode(fields.join(","));
}

const INTERESTING = [48, 49, 57, 44, 34, 45, 32, 13, 10, 0, 0xff, 0xc3];

function mutate(row: Uint8Array, random: () => number): Uint8Array {
  const bytes = [...row];
  for (let m = 1 + randomInt(random, 3); m > 0; m--) {
    const at = randomInt(random, bytes.length + 1);
    const byte = random() < 0.7 ? INTERESTING[randomInt(random, INTERESTING.length)] : randomInt(random, 256);
    const op = randomInt(random, 5);
    if (op === 0 && at < bytes.length) bytes[at] = byte;
    else if (op === 1) bytes.splice(at, 0, byte);
    else if (op === 2) bytes.splice(at, 1);
    else if (op === 3) bytes.length = at;
    else bytes.splice(at, 0, ...bytes.slice(at, at + 1 + randomInt(random, 4)));
  }
  return Uint8Array.from(bytes);
}

describe("parseEventRow: fuzz", () => {
  test("valid random rows parse exactly as the reference parser says", () => {
    const random = seededRandom(31);
    for (let trial = 0; trial < 3000; trial++) {
      const row = randomValidRow(random);
      const expected = referenceParse(row);
      assert.ok(!("error" in expected), Buffer.from(row).toString());
      assert.deepEqual(parseBytes(row), expected);
    }
  });

  test("mutated and truncated rows either parse like the reference or throw a RowError naming the same column", () => {
    const random = seededRandom(32);
    let parsed = 0;
    let refused = 0;
    for (let trial = 0; trial < 20000; trial++) {
      const row = mutate(randomValidRow(random), random);
      const expected = referenceParse(row);
      const refusal = "error" in expected ? expected.error : null;
      const context = JSON.stringify(Buffer.from(row).toString("latin1"));
      let actual: Parsed | undefined;
      try {
        actual = parseBytes(row);
      } catch (error) {
        assert.ok(error instanceof RowError, `${context}: ${error}`);
        assert.ok(refusal !== null, `${context}: refused (${error.message}) but the reference accepts it`);
        assert.match(error.message, refusal, context);
        refused++;
        continue;
      }
      assert.equal(refusal, null, `${context}: accepted but the reference expects ${refusal}`);
      assert.deepEqual(actual, expected, context);
      parsed++;
    }
    // The mutations exercise both outcomes substantially.
    assert.ok(parsed > 2000 && refused > 2000, `parsed ${parsed}, refused ${refused}`);
  });
});

describe("formatTimestamp / newEvent", () => {
  test("exact decimal string", () => {
    assert.equal(formatTimestamp(0, 0), "0");
    assert.equal(formatTimestamp(0, 5), "5");
    assert.equal(formatTimestamp(1, 5), "1000000005");
    assert.equal(formatTimestamp(18446744073, 709551615), "18446744073709551615");
  });

  test("newEvent is zeroed with an empty name", () => {
    const e = newEvent();
    assert.equal(e.tsSec + e.tsNsec + e.pid + e.type + e.flag + e.pattern + e.thresholds, 0);
    assert.equal(eventFilename(e), "");
  });
});

describe("readEventLog", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "threatlens-events-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  let counter = 0;
  async function logFile(text: string): Promise<string> {
    const file = join(dir, `log-${counter++}.csv`);
    await writeFile(file, text);
    return file;
  }

  async function collect(file: string, skipInvalid = false) {
    const events: { ts: string; pid: number; name: string }[] = [];
    const progress: number[] = [];
    const summary = await readEventLog(
      file,
      (e) => events.push({ ts: formatTimestamp(e.tsSec, e.tsNsec), pid: e.pid, name: eventFilename(e) }),
      { skipInvalid, onBytes: (n) => progress.push(n) },
    );
    return { events, summary, progress };
  }

  async function assertLogError(file: string, line: number, pattern: RegExp, skipInvalid = false) {
    await assert.rejects(collect(file, skipInvalid), (error: unknown) => {
      assert.ok(error instanceof InputError, `not an InputError: ${error}`);
      assert.equal(error.location.file, file);
      assert.equal(error.location.line, line, error.message);
      assert.ok(error.message.startsWith(`${file}:${line}: `), error.message);
      assert.match(error.message, pattern);
      return true;
    });
  }

  const ROWS = [
    "1700000000000000001,10,0,0,0,0,0,0,0,/a",
    '18446744073709551615,4294967295,3,2,7,1,1,1,1,"/b,""c"""',
    "5,11,1,1,0,0,0,0,0,/é",
  ];
  const EXPECTED = [
    { ts: "1700000000000000001", pid: 10, name: "/a" },
    { ts: "18446744073709551615", pid: 4294967295, name: '/b,"c"' },
    { ts: "5", pid: 11, name: "/é" },
  ];

  test("reads every row, LF or CRLF, with or without a final newline, skipping blank lines", async () => {
    for (const eol of ["\n", "\r\n"]) {
      for (const final of [eol, ""]) {
        const text = [HEADER, ROWS[0], "", ROWS[1], ROWS[2]].join(eol) + final;
        const { events, summary, progress } = await collect(await logFile(text));
        assert.deepEqual(events, EXPECTED);
        assert.deepEqual(summary, { rows: 3, skipped: 0, skippedExamples: [] });
        assert.equal(progress.at(-1), Buffer.byteLength(text));
      }
    }
  });

  test("header is matched ignoring case, spaces and a BOM", async () => {
    const header = `\uFEFF${HEADER.toLowerCase().replaceAll(",", ", ")}`;
    const { events } = await collect(await logFile(`${header}\r\n${ROWS[0]}\r\n`));
    assert.deepEqual(events, EXPECTED.slice(0, 1));
  });

  test("header only: no rows", async () => {
    assert.deepEqual((await collect(await logFile(`${HEADER}\n`))).summary, {
      rows: 0,
      skipped: 0,
      skippedExamples: [],
    });
  });

  test("empty file is an InputError at line 1", async () => {
    await assertLogError(await logFile(""), 1, /the file is empty; expected the header TS,PID,/);
  });

  test("wrong header is an InputError at line 1 showing what was found", async () => {
    for (const header of ["TS,PID,TYPE", `${HEADER},EXTRA`, "", ROWS[0]]) {
      await assertLogError(
        await logFile(`${header}\n${ROWS[0]}\n`),
        1,
        new RegExp(escapeRegExp(`expected the header ${HEADER}, found ${JSON.stringify(header)}`)),
      );
    }
  });

  test("a malformed row stops the read with the file, exact line and reason", async () => {
    const file = await logFile(
      [HEADER, ROWS[0], "", "", ROWS[1], "1,2,9,0,0,0,0,0,0,x", ROWS[2]].join("\r\n"),
    );
    await assertLogError(file, 6, /TYPE must be an integer from 0 to 3, got "9" \(use --skip-invalid/);
  });

  test("skipInvalid counts malformed rows and lists the first five as file:line: reason", async () => {
    const bad = ["x,1,0,0,0,0,0,0,0,f", "1,1,4,0,0,0,0,0,0,f", "1,1", "1,1,0,3,0,0,0,0,0,f"];
    const lines = [HEADER];
    const badLines: number[] = [];
    for (let k = 0; k < 8; k++) {
      lines.push(ROWS[k % 3]);
      lines.push(bad[k % bad.length]);
      badLines.push(lines.length);
    }
    const file = await logFile(lines.join("\n"));
    const { events, summary } = await collect(file, true);
    assert.equal(summary.rows, 8);
    assert.equal(events.length, 8);
    assert.equal(summary.skipped, 8);
    assert.equal(summary.skippedExamples.length, 5);
    assert.deepEqual(
      summary.skippedExamples.map((s) => s.split(": ")[0]),
      badLines.slice(0, 5).map((line) => `${file}:${line}`),
    );
    assert.match(summary.skippedExamples[0], /: TS must be/);
    assert.match(summary.skippedExamples[1], /: TYPE must be/);
    assert.match(summary.skippedExamples[3], /: FLAG must be/);
  });

  test("skipInvalid does not hide a wrong header", async () => {
    await assertLogError(await logFile(`TS\n${ROWS[0]}\n`), 1, /expected the header/, true);
  });

  test("an error thrown by the visitor propagates unchanged", async () => {
    const file = await logFile(`${HEADER}\n${ROWS[0]}\n`);
    const boom = new Error("visitor failed");
    await assert.rejects(
      readEventLog(file, () => {
        throw boom;
      }),
      (error: unknown) => error === boom,
    );
  });

  test("a missing file rejects", async () => {
    await assert.rejects(
      readEventLog(join(dir, "missing.csv"), () => {}),
      { code: "ENOENT" },
    );
  });
});

describe("parseEventRow: the collector's extended layout", () => {
  const enc = new TextEncoder();
  const parse = (row: string) => {
    const e = newEvent();
    const bytes = enc.encode(row);
    parseEventRow(bytes, 0, bytes.length, e, "extended");
    return e;
  };

  test("the header names the layout", () => {
    assert.equal(eventLayoutOf(`${EVENT_COLUMNS.join(",")}`), "standard");
    assert.equal(eventLayoutOf(`${[...EVENT_COLUMNS, ...EXTENDED_COLUMNS].join(",")}`), "extended");
    assert.equal(eventLayoutOf("TS,PID,TYPE"), null);
  });

  test("extra columns: thread, parent, user, command, flags, and a rename", () => {
    const e = parse('10,42,1,0,0,0,0,0,0,"/home/a,b.txt.locked",43,7,1000,"my ""tool""",577,rename');
    assert.equal(eventFilename(e), "/home/a,b.txt.locked");
    assert.deepEqual([e.pid, e.tid, e.ppid, e.uid, e.flags, e.rename], [42, 43, 7, 1000, 577, true]);
    assert.equal(eventComm(e), 'my "tool"');
    const open = parse("10,42,0,0,0,0,0,0,0,/etc/passwd,42,7,0,cat,524288,openat");
    assert.equal(open.rename, false);
    assert.equal(eventComm(open), "cat");
  });

  test("lifecycle rows (exec 4, exit 5) and EVP_CipherInit_ex's enc of -1", () => {
    assert.equal(parse("10,42,4,0,0,0,0,0,0,/usr/bin/openssl,42,7,0,openssl,0,exec").type, EventType.Exec);
    assert.equal(parse("10,42,5,0,0,0,0,0,0,,42,7,0,openssl,0,exit").type, EventType.Exit);
    assert.equal(
      parse("10,42,3,0,0,0,0,0,0,EVP_CipherInit_ex,42,7,0,openssl,-1,EVP_CipherInit_ex").flags,
      -1,
    );
  });

  test("errors name what is wrong", () => {
    assert.throws(() => parse("10,42,6,0,0,0,0,0,0,/x,42,7,0,c,0,op"), /TYPE must be an integer from 0 to 5/);
    assert.throws(() => parse("10,42,0,0,0,0,0,0,0,/x,42,7"), RowError);
    assert.throws(() => parse("10,42,0,0,0,0,0,0,0,/x,42,seven,0,c,0,op"), /PPID must be an integer/);
    assert.throws(() => parse('10,42,0,0,0,0,0,0,0,"/x,42,7,0,c,0,op'), /opening quote but no closing quote/);
    // The standard layout keeps TYPE to 0–3: lifecycle rows exist only in the extended one.
    const e = newEvent();
    const bytes = enc.encode("10,42,4,0,0,0,0,0,0,/usr/bin/ls");
    assert.throws(
      () => parseEventRow(bytes, 0, bytes.length, e, "standard"),
      /TYPE must be an integer from 0 to 3/,
    );
  });
});
