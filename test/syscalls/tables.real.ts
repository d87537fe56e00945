import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { it } from "node:test";
import { PACKAGE_ROOT } from "../../src/core/package-root.ts";
import { loadSyscallTable, parseSyscallTableTsv } from "../../src/syscalls/tables.ts";

const ADFA = join(PACKAGE_ROOT, "..", "shared", "data", "adfa-ld");

it("the shipped i386 table maps every ADFA-LD number as the data set's own table does", async (t) => {
  if (!existsSync(ADFA)) {
    t.skip(`ADFA-LD not found at ${ADFA}`);
    return;
  }
  const reference = parseSyscallTableTsv(
    readFileSync(join(ADFA, "syscalls_i386.tsv"), "utf8"),
    "i386",
    "syscalls_i386.tsv",
  );
  const shipped = await loadSyscallTable("i386");

  const used = new Set<number>();
  for (const folder of ["Training_Data_Master", "Validation_Data_Master", "Attack_Data_Master"]) {
    for (const path of readdirSync(join(ADFA, folder), { recursive: true, encoding: "utf8" })) {
      if (!path.endsWith(".txt")) continue;
      for (const token of readFileSync(join(ADFA, folder, path), "utf8").split(/\s+/)) {
        if (token !== "") used.add(Number(token));
      }
    }
  }
  for (const number of used) {
    assert.notEqual(shipped.name(number), undefined, `ADFA-LD number ${number} is not in the shipped table`);
    assert.equal(shipped.name(number), reference.name(number), `number ${number}`);
  }

  const onlyShipped = shipped.entries().filter(([n, name]) => reference.name(n) !== name);
  const onlyReference = reference.entries().filter(([n, name]) => shipped.name(n) !== name);
  t.diagnostic(
    `${used.size} distinct numbers in ADFA-LD, all mapped alike; shipped table ${shipped.size} entries, ` +
      `data set's ${reference.size}; differing entries: ${JSON.stringify({ onlyShipped, onlyReference })}`,
  );
});
