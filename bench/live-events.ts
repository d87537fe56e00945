/**
 * Synthetic event-log rows for the live benchmarks, in the collector's extended layout: benign processes doing
 * ordinary file work, and ransomware-like processes that read a document, write an encrypted copy, call libcrypto and
 * delete the original, file after file. Not real telemetry: a load with the right shape and rates.
 */
export const EXTENDED_HEADER =
  "TS,PID,TYPE,FLAG,PATTERN,OPEN,CREATE,DELETE,ENCRYPT,FILENAME,TID,PPID,UID,COMM,FLAGS,OP";

const OPS = ["openat", "openat", "unlinkat", "EVP_CipherInit_ex", "exec", "exit"];

export function row(ts: bigint, pid: number, type: number, name: string, comm: string, ppid = 1000): string {
  return `${ts},${pid},${type},0,0,0,0,0,0,${name},${pid},${ppid},1000,${comm},${type === 1 ? 577 : 0},${OPS[type]}\n`;
}

/** One benign process's events: reads of libraries and config, a few writes in its own directory. */
export function benignEvents(pid: number, ts: () => bigint, n: number): string {
  let out = "";
  for (let i = 0; i < n; i++) {
    const k = i % 10;
    if (k < 7) out += row(ts(), pid, 0, `/usr/lib/x86_64-linux-gnu/lib${k}.so.${i % 3}`, "worker");
    else if (k < 9) out += row(ts(), pid, 1, `/var/tmp/job-${pid}/out-${i}.tmp`, "worker");
    else out += row(ts(), pid, 2, `/var/tmp/job-${pid}/out-${i - 2}.tmp`, "worker");
  }
  return out;
}

/** One ransomware-like process encrypting `files` documents (4 events each). */
export function ransomwareEvents(pid: number, ts: () => bigint, files: number, start = 0): string {
  let out = "";
  for (let f = start; f < start + files; f++) {
    const doc = `/home/alice/Documents/report-${f}.docx`;
    out += row(ts(), pid, 0, doc, "locker");
    out += row(ts(), pid, 1, `${doc}.locked`, "locker");
    out += row(ts(), pid, 3, "EVP_CipherInit_ex", "locker");
    out += row(ts(), pid, 2, doc, "locker");
  }
  return out;
}

export function exitRow(pid: number, ts: bigint, comm: string): string {
  return row(ts, pid, 5, "", comm);
}

/** One process of the throughput mix: every 20th ransomware-like (25 documents), the others benign; with its exit. */
export function mixedProcess(pid: number, ts: () => bigint): { text: string; events: number } {
  const ransomware = pid % 20 === 0;
  const text =
    (ransomware ? ransomwareEvents(pid, ts, 25) : benignEvents(pid, ts, 60)) + exitRow(pid, ts(), "worker");
  return { text, events: ransomware ? 101 : 61 };
}
