import { readdirSync, readFileSync } from "node:fs";

/**
 * Command names by thread id. The kernel names each thread (`comm`, 15 bytes); the collector learns names from
 * fork, exec and rename records instead of printing the name with every event (two free-form strings in one
 * bpftrace record could not be split unambiguously). A thread first seen without such a record (it existed
 * before the collector started) is looked up once in /proc. Bounded: the oldest entries go first.
 */
export class ThreadNames {
  private readonly names = new Map<number, string>();

  constructor(
    private readonly limit = 1 << 16,
    private readonly procRoot = "/proc",
  ) {}

  set(tid: number, comm: string): void {
    this.names.delete(tid);
    this.names.set(tid, comm);
    if (this.names.size > this.limit) {
      const oldest = this.names.keys().next().value as number;
      this.names.delete(oldest);
    }
  }

  /** The thread's name; `pid` helps find a thread of another process in /proc. "" when it cannot be known. */
  get(tid: number, pid: number): string {
    const known = this.names.get(tid);
    if (known !== undefined) return known;
    const comm = readComm(this.procRoot, pid, tid);
    this.set(tid, comm);
    return comm;
  }

  /** Reads the names of every thread of `pid` now (before it can exec and change them). */
  learnProcess(pid: number): void {
    let tids: string[];
    try {
      tids = readdirSync(`${this.procRoot}/${pid}/task`);
    } catch {
      return;
    }
    for (const tid of tids) this.set(Number(tid), readComm(this.procRoot, pid, Number(tid)));
  }

  delete(tid: number): void {
    this.names.delete(tid);
  }

  get size(): number {
    return this.names.size;
  }
}

function readComm(procRoot: string, pid: number, tid: number): string {
  try {
    // latin1: one character per byte, as the kernel stores it.
    return readFileSync(`${procRoot}/${pid}/task/${tid}/comm`, "latin1").replace(/\n$/, "");
  } catch {
    return "";
  }
}
