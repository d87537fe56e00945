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
export function benignEvents(pid: number, ts: () => bigint, n: number, ppid = 1000): string {
  let out = "";
  for (let i = 0; i < n; i++) {
    const k = i % 10;
    if (k < 7) out += row(ts(), pid, 0, `/usr/lib/x86_64-linux-gnu/lib${k}.so.${i % 3}`, "worker", ppid);
    else if (k < 9) out += row(ts(), pid, 1, `/var/tmp/job-${pid}/out-${i}.tmp`, "worker", ppid);
    else out += row(ts(), pid, 2, `/var/tmp/job-${pid}/out-${i - 2}.tmp`, "worker", ppid);
  }
  return out;
}

/** One ransomware-like process encrypting `files` documents (4 events each). */
export function ransomwareEvents(
  pid: number,
  ts: () => bigint,
  files: number,
  start = 0,
  ppid = 1000,
): string {
  let out = "";
  for (let f = start; f < start + files; f++) {
    const doc = `/home/alice/Documents/report-${f}.docx`;
    out += row(ts(), pid, 0, doc, "locker", ppid);
    out += row(ts(), pid, 1, `${doc}.locked`, "locker", ppid);
    out += row(ts(), pid, 3, "EVP_CipherInit_ex", "locker", ppid);
    out += row(ts(), pid, 2, doc, "locker", ppid);
  }
  return out;
}

export function exitRow(pid: number, ts: bigint, comm: string): string {
  return row(ts, pid, 5, "", comm);
}

/**
 * One process of the throughput mix: every 20th ransomware-like (25 documents), the others benign; with its exit.
 * Processes come in jobs of 10 under a shell of their own, the shells under one session (pid 1000): every event then
 * updates its process, its shell's children and the session's grandchildren, the detector's most costly case.
 */
export function mixedProcess(pid: number, ts: () => bigint): { text: string; events: number } {
  const ransomware = pid % 20 === 0;
  const shell = JOB_SHELLS + Math.floor(pid / 10);
  const start = pid % 10 === 0 ? row(ts(), shell, 0, "/etc/ld.so.cache", "sh", 1000) : "";
  const end = pid % 10 === 9 ? exitRow(shell, ts(), "sh") : "";
  const text =
    start +
    (ransomware ? ransomwareEvents(pid, ts, 25, 0, shell) : benignEvents(pid, ts, 60, shell)) +
    exitRow(pid, ts(), "worker") +
    end;
  return { text, events: (ransomware ? 101 : 61) + (start ? 1 : 0) + (end ? 1 : 0) };
}

/** Process ids of the job shells of the throughput mix, above any worker's. */
const JOB_SHELLS = 3_000_000;
