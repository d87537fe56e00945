import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { csvField, csvLine, parseCsv, requireColumns } from "../../src/core/csv.ts";
import { InputError } from "../../src/core/errors.ts";
import { randomInt, seededRandom } from "../../src/core/random.ts";

const FILE = "table.csv";

/** Asserts an InputError located at `line` of FILE whose message matches `pattern`. */
function assertCsvError(text: string, line: number, pattern: RegExp): void {
  assert.throws(
    () => parseCsv(text, FILE),
    (error: unknown) => {
      assert.ok(error instanceof InputError, `not an InputError: ${error}`);
      assert.equal(error.location.file, FILE);
      assert.equal(error.location.line, line, error.message);
      assert.match(error.message, new RegExp(`^${FILE}:${line}: `));
      assert.match(error.message, pattern);
      return true;
    },
  );
}

const ALPHABET = ["a", "Z", "0", " ", ",", '"', "\n", "\r", "\r\n", "é", "😀", ";", "\t"];

function randomField(random: () => number): string {
  const length = random() < 0.15 ? 0 : randomInt(random, 8);
  let s = "";
  for (let i = 0; i < length; i++) s += ALPHABET[randomInt(random, ALPHABET.length)];
  return s;
}

/** Header names are trimmed on read, so they are generated without surrounding spaces. */
function randomHeaderName(random: () => number, index: number): string {
  return `${randomField(random).trim()}c${index}`;
}

describe("parseCsv round trip with csvLine", () => {
  test("random tables survive write then parse, with each row's starting line", () => {
    const random = seededRandom(11);
    for (let trial = 0; trial < 500; trial++) {
      const width = 1 + randomInt(random, 5);
      const header = Array.from({ length: width }, (_, i) => randomHeaderName(random, i));
      const rows = Array.from({ length: randomInt(random, 8) }, () =>
        Array.from({ length: width }, () => randomField(random)),
      );
      const eol = random() < 0.5 ? "\n" : "\r\n";
      const bom = random() < 0.2 ? "\uFEFF" : "";
      const finalEol = random() < 0.5 ? eol : "";
      const records = [header, ...rows].map(csvLine);
      const text = bom + records.join(eol) + finalEol;

      const expectedLines: number[] = [];
      let line = 1;
      for (let r = 0; r < records.length; r++) {
        if (r > 0) expectedLines.push(line);
        line += records[r].split("\n").length - 1 + 1;
      }

      const context = `trial ${trial}: ${JSON.stringify(text)}`;
      const table = parseCsv(text, FILE);
      assert.deepEqual(table.header, header, context);
      assert.deepEqual(table.rows, rows, context);
      assert.deepEqual(table.lines, expectedLines, context);
    }
  });

  test("a one-column row holding an empty value is kept, not taken for a blank line", () => {
    assert.equal(csvLine([""]), '""');
    const text = ["name", "x", "", ""].map((v) => csvLine([v])).join("\n");
    assert.deepEqual(parseCsv(text, FILE).rows, [["x"], [""], [""]]);
  });
});

describe("parseCsv", () => {
  test("quoted fields with commas, doubled quotes and newlines", () => {
    const table = parseCsv('a,b,c\n"x,y","say ""hi""","two\nlines"\n3,,\n', FILE);
    assert.deepEqual(table.rows, [
      ["x,y", 'say "hi"', "two\nlines"],
      ["3", "", ""],
    ]);
    assert.deepEqual(table.lines, [2, 4]);
  });

  test("BOM is dropped and header names are trimmed; data fields are not", () => {
    const table = parseCsv("\uFEFF id , Name\r\n 1 ,x \r\n", FILE);
    assert.deepEqual(table.header, ["id", "Name"]);
    assert.deepEqual(table.rows, [[" 1 ", "x "]]);
  });

  test("blank lines are skipped but still counted", () => {
    const table = parseCsv("a,b\n\n1,2\r\n\r\n\n3,4\n\n", FILE);
    assert.deepEqual(table.rows, [
      ["1", "2"],
      ["3", "4"],
    ]);
    assert.deepEqual(table.lines, [3, 6]);
  });

  test("lone CR ends a record too", () => {
    const table = parseCsv("a,b\r1,2\r3,4", FILE);
    assert.deepEqual(table.rows, [
      ["1", "2"],
      ["3", "4"],
    ]);
    assert.deepEqual(table.lines, [2, 3]);
  });

  test("header only gives no rows", () => {
    assert.deepEqual(parseCsv("a,b\n", FILE), { header: ["a", "b"], rows: [], lines: [] });
  });

  test("empty input is an error at line 1", () => {
    for (const text of ["", "\uFEFF", "\n\n", "\r\n"]) assertCsvError(text, 1, /empty/);
  });

  test("ragged row names its own starting line", () => {
    assertCsvError("a,b\n1,2\n3\n", 3, /expected 2 fields as in the header, found 1/);
    assertCsvError("a,b\n1,2,3", 2, /expected 2 fields as in the header, found 3/);
    // A multi-line quoted field before it shifts the line count.
    assertCsvError('a,b\n"x\ny\nz",2\n\n3,4,5\n', 6, /found 3/);
    assertCsvError('a,b\n1,"multi\nline",3\n', 2, /found 3/);
  });

  test("unclosed quote reports the line where the quoted field opened", () => {
    assertCsvError('a,b\n1,2\n3,"open\n4,5\n6,7\n', 3, /quoted field is not closed/);
    assertCsvError('a,b\n1,"', 2, /quoted field is not closed/);
  });

  test("stray quote inside an unquoted field", () => {
    assertCsvError('a,b\n1,2\nx"y,3\n', 3, /unexpected quote inside an unquoted field/);
    assertCsvError('a,b\n"q\n",x"\n', 3, /unexpected quote inside an unquoted field/);
  });

  test("text after a closing quote", () => {
    assertCsvError('a,b\n"x"y,1\n', 2, /unexpected text after a closing quote/);
    assertCsvError('a,b\n1,"x"""\n2,"y" \n', 3, /unexpected text after a closing quote/);
    assertCsvError('a,b\n1,"x""y"""z"\n', 2, /unexpected text after a closing quote/);
  });
});

describe("csvField / csvLine", () => {
  test("quotes only fields that need it", () => {
    assert.equal(csvField("plain text"), "plain text");
    assert.equal(csvField(""), "");
    assert.equal(csvField("a,b"), '"a,b"');
    assert.equal(csvField('say "x"'), '"say ""x"""');
    assert.equal(csvField("a\nb"), '"a\nb"');
    assert.equal(csvField("a\rb"), '"a\rb"');
  });

  test("numbers, bigints and booleans", () => {
    assert.equal(csvField(1.5), "1.5");
    assert.equal(csvField(-0.25), "-0.25");
    assert.equal(csvField(18446744073709551615n), "18446744073709551615");
    assert.equal(csvField(true), "true");
    assert.equal(csvLine([1, "a,b", false, 2n]), '1,"a,b",false,2');
  });

  test("multi-column rows of empty values stay unquoted", () => {
    assert.equal(csvLine(["", ""]), ",");
    assert.equal(csvLine([]), "");
  });
});

describe("requireColumns", () => {
  test("finds columns case-insensitively, in the requested order", () => {
    assert.deepEqual(requireColumns(["TS", "Pid", "label"], ["label", "pid"], FILE), [2, 1]);
  });

  test("names every missing column and shows the header", () => {
    assert.throws(
      () => requireColumns(["a", "b"], ["a", "x", "y"], FILE),
      (error: unknown) => {
        assert.ok(error instanceof InputError);
        assert.equal(error.location.line, 1);
        assert.equal(error.message, `${FILE}:1: missing column(s) x, y; header has: a, b`);
        return true;
      },
    );
  });
});
