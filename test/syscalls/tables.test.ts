import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { InputError, UsageError } from "../../src/core/errors.ts";
import {
  loadSyscallTable,
  parseArch,
  parseSyscallTableTsv,
  parseUnistdHeader,
  SyscallTable,
} from "../../src/syscalls/tables.ts";

const HEADER = `#ifndef _ASM_UNISTD_32_H
#define _ASM_UNISTD_32_H

#define __NR_restart_syscall 0
#define __NR_exit 1
#define __NR_set_mempolicy_home_node 450


#endif /* _ASM_UNISTD_32_H */
`;

describe("syscall tables", () => {
  it("parses a uapi unistd header", () => {
    assert.deepEqual(parseUnistdHeader(HEADER), [
      [0, "restart_syscall"],
      [1, "exit"],
      [450, "set_mempolicy_home_node"],
    ]);
    assert.throws(
      () => parseUnistdHeader("#include <asm/unistd_32.h>\n", "unistd.h"),
      /unistd\.h: no `#define/,
    );
  });

  it("parses TSV tables and locates their errors", () => {
    const table = parseSyscallTableTsv("# comment\n0\tread\n1\twrite\n\n", "x86_64");
    assert.equal(table.name(1), "write");
    assert.equal(table.number("read"), 0);
    assert.equal(table.name(7), undefined);
    assert.throws(
      () => parseSyscallTableTsv("0\tread\n1 write\n", "x", "t.tsv"),
      (error: unknown) => {
        assert.ok(error instanceof InputError);
        assert.equal(error.location.line, 2);
        return true;
      },
    );
    assert.throws(() => parseSyscallTableTsv("0\tread\n0\twrite\n", "x"), /number 0 is listed twice/);
    assert.throws(
      () =>
        new SyscallTable("x", [
          [0, "read"],
          [1, "read"],
        ]),
      /name read is listed twice/,
    );
  });

  it("ships i386 and x86_64 tables with the known numbers", async () => {
    const i386 = await loadSyscallTable("i386");
    const x64 = await loadSyscallTable("x86_64");
    assert.deepEqual(
      ["read", "execve", "socketcall", "mmap2"].map((n) => i386.number(n)),
      [3, 11, 102, 192],
    );
    assert.deepEqual(
      ["read", "execve", "socket", "openat"].map((n) => x64.number(n)),
      [0, 59, 41, 257],
    );
    assert.equal(x64.number("socketcall"), undefined);
    assert.ok(i386.size >= 440 && x64.size >= 362);
    assert.equal(await loadSyscallTable("i386"), i386, "loaded once");
  });

  it("agrees with the installed kernel headers when linux-libc-dev is present", async (t) => {
    for (const [arch, header] of [
      ["i386", "/usr/include/x86_64-linux-gnu/asm/unistd_32.h"],
      ["x86_64", "/usr/include/x86_64-linux-gnu/asm/unistd_64.h"],
    ] as const) {
      if (!existsSync(header)) {
        t.skip(`${header} not installed (apt-get install linux-libc-dev)`);
        return;
      }
      const shipped = await loadSyscallTable(arch);
      const installed = new Map(parseUnistdHeader(readFileSync(header, "utf8")));
      // Newer headers may add syscalls; numbers already assigned never change.
      for (const [number, name] of shipped.entries())
        assert.equal(installed.get(number), name, `${arch} ${number}`);
    }
  });

  it("validates architecture names", () => {
    assert.equal(parseArch("x86_64"), "x86_64");
    assert.throws(() => parseArch("arm64"), UsageError);
  });
});
