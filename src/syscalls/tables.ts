import { readFile } from "node:fs/promises";
import { InputError, UsageError } from "../core/errors.ts";
import { dataPath } from "../core/package-root.ts";

/**
 * System-call number ↔ name tables. Numbers are per architecture (read is 3 on i386, 0 on x86_64), so traces that
 * record numbers (ADFA-LD) need the table of the machine that recorded them. The shipped tables in data/syscalls/
 * are generated from Linux's uapi headers by scripts/gen-syscall-tables.ts.
 */
export const ARCHES = ["i386", "x86_64"] as const;
export type Arch = (typeof ARCHES)[number];

export class SyscallTable {
  readonly arch: string;
  private readonly byNumber: (string | undefined)[] = [];
  private readonly byName = new Map<string, number>();

  /** Throws InputError (located in `file` when given) on a duplicate number or name. */
  constructor(arch: string, entries: Iterable<readonly [number, string]>, file?: string) {
    this.arch = arch;
    for (const [number, name] of entries) {
      if (this.byNumber[number] !== undefined) {
        throw new InputError(`syscall number ${number} is listed twice`, { file });
      }
      if (this.byName.has(name)) throw new InputError(`syscall name ${name} is listed twice`, { file });
      this.byNumber[number] = name;
      this.byName.set(name, number);
    }
  }

  name(number: number): string | undefined {
    return this.byNumber[number];
  }

  number(name: string): number | undefined {
    return this.byName.get(name);
  }

  get size(): number {
    return this.byName.size;
  }

  /** `[number, name]` pairs by ascending number. */
  entries(): [number, string][] {
    const out: [number, string][] = [];
    this.byNumber.forEach((name, number) => {
      if (name !== undefined) out.push([number, name]);
    });
    return out;
  }
}

/** What a syscall name looks like in headers, tables and strace output (`_llseek`, `syscall_0x1b3` included). */
export const SYSCALL_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Parses `number<TAB>name` lines; blank lines and `#` comments are ignored. */
export function parseSyscallTableTsv(text: string, arch: string, file?: string): SyscallTable {
  const entries: [number, string][] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].replace(/\r$/, "");
    if (line.trim() === "" || line.startsWith("#")) continue;
    const match = /^(\d+)\t(\S+)$/.exec(line);
    if (match === null || !SYSCALL_NAME.test(match[2])) {
      throw new InputError(`expected "number<TAB>name", got ${JSON.stringify(line.slice(0, 80))}`, {
        file,
        line: i + 1,
      });
    }
    entries.push([Number(match[1]), match[2]]);
  }
  if (entries.length === 0) throw new InputError("the syscall table is empty", { file });
  return new SyscallTable(arch, entries, file);
}

/**
 * Reads the `#define __NR_<name> <number>` lines of a uapi `asm/unistd_32.h` or `asm/unistd_64.h`. Other lines
 * (include guards, blank lines) are ignored; a header with no such line is an error, because the likely cause is the
 * wrong file (asm/unistd.h only includes the per-ABI headers).
 */
export function parseUnistdHeader(text: string, file?: string): [number, string][] {
  const entries: [number, string][] = [];
  for (const match of text.matchAll(/^#define[ \t]+__NR_([A-Za-z0-9_]+)[ \t]+(\d+)[ \t]*$/gm)) {
    entries.push([Number(match[2]), match[1]]);
  }
  if (entries.length === 0) throw new InputError("no `#define __NR_<name> <number>` lines found", { file });
  entries.sort((a, b) => a[0] - b[0]);
  return entries;
}

export function parseArch(value: string): Arch {
  if ((ARCHES as readonly string[]).includes(value)) return value as Arch;
  throw new UsageError(`unknown architecture "${value}" (expected ${ARCHES.join(" or ")})`);
}

export function syscallTablePath(arch: Arch): string {
  return dataPath("syscalls", `${arch}.tsv`);
}

const loaded = new Map<Arch, Promise<SyscallTable>>();

/** The shipped table for `arch`, read once per process. */
export function loadSyscallTable(arch: Arch): Promise<SyscallTable> {
  let table = loaded.get(arch);
  if (table === undefined) {
    const file = syscallTablePath(arch);
    table = readFile(file, "utf8").then(
      (text) => parseSyscallTableTsv(text, arch, file),
      (error: NodeJS.ErrnoException) => {
        throw new InputError(`cannot read the shipped syscall table (${error.code ?? error.message})`, {
          file,
        });
      },
    );
    loaded.set(arch, table);
  }
  return table;
}

let known: Promise<Set<string>> | undefined;

/** Every syscall name of every shipped table: what a trace's names are checked against. */
export function knownSyscallNames(): Promise<Set<string>> {
  known ??= Promise.all(ARCHES.map(loadSyscallTable)).then(
    (tables) => new Set(tables.flatMap((table) => table.entries().map(([, name]) => name))),
  );
  return known;
}
