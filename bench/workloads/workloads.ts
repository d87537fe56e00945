import { join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The workloads recorded for the ransomware model: ransomware-like tools (several tools and libraries, several
 * shapes) and benign bulk file work. Each works on a generated tree (tree.ts) and writes a JSON report of what it
 * did to $WORKLOAD_REPORT.
 */
export const WORKLOAD_DIR = fileURLToPath(new URL(".", import.meta.url));

export interface WorkloadContext {
  /** The generated tree of user documents. */
  tree: string;
  /** Directory holding the compiled helpers (cransom). */
  bin: string;
}

export interface Workload {
  name: string;
  label: "ransomware" | "benign";
  /** Tool or library, and shape: processes, speed, new file vs in place, libcrypto or not. */
  description: string;
  /** Files in the tree (default 200). */
  files?: number;
  /** Executables it needs on PATH. */
  needs: string[];
  command(ctx: WorkloadContext): string[];
}

const PYTHON = "/usr/bin/python3"; // Debian's: its `cryptography` links the system libcrypto
const py =
  (script: string, ...args: string[]) =>
  (ctx: WorkloadContext) => [
    PYTHON,
    join(WORKLOAD_DIR, script),
    ...args.map((a) => a.replace("{tree}", ctx.tree)),
  ];
const sh =
  (script: string, ...args: string[]) =>
  (ctx: WorkloadContext) => [
    "/bin/sh",
    join(WORKLOAD_DIR, script),
    ...args.map((a) => a.replace("{tree}", ctx.tree)),
  ];
const bulk = (task: string): Workload => ({
  name: `benign-${task}`,
  label: "benign",
  description: `bulk.sh ${task}`,
  needs:
    { git: ["git"], build: ["make", "gcc"], "backup-gpg": ["gpg"], "backup-openssl": ["openssl"] }[task] ??
    [],
  command: sh("benign/bulk.sh", task, "{tree}"),
});

export const WORKLOADS: Workload[] = [
  {
    name: "py-aesgcm-newfile-notes",
    label: "ransomware",
    description: "Python cryptography AES-GCM (libcrypto), one process, new file + delete, ransom notes",
    needs: [PYTHON],
    command: py("ransomware/pyransom.py", "--dir", "{tree}", "--cipher", "aesgcm", "--notes"),
  },
  {
    name: "py-fernet-inplace",
    label: "ransomware",
    description:
      "Python cryptography Fernet (libcrypto), one process, overwrite in place + rename to .locked",
    needs: [PYTHON],
    command: py("ransomware/pyransom.py", "--dir", "{tree}", "--cipher", "fernet", "--mode", "inplace"),
  },
  {
    name: "py-xor-threads",
    label: "ransomware",
    description: "pure-Python XOR key stream (no libcrypto), 4 threads, new file + delete",
    needs: [PYTHON],
    command: py("ransomware/pyransom.py", "--dir", "{tree}", "--cipher", "xor", "--threads", "4"),
  },
  {
    name: "py-hashlib-inplace-processes",
    label: "ransomware",
    description:
      "SHA-256 counter-mode key stream via hashlib (no traced call), 4 worker processes, in place + rename",
    needs: [PYTHON],
    command: py(
      "ransomware/pyransom.py",
      "--dir",
      "{tree}",
      "--cipher",
      "hashlib",
      "--mode",
      "inplace",
      "--processes",
      "4",
    ),
  },
  {
    name: "py-aesgcm-slow",
    label: "ransomware",
    description: "Python cryptography AES-GCM, throttled to 15 files/s, new file + delete",
    files: 60,
    needs: [PYTHON],
    command: py("ransomware/pyransom.py", "--dir", "{tree}", "--cipher", "aesgcm", "--rate", "15"),
  },
  {
    name: "openssl-per-file-notes",
    label: "ransomware",
    description: "shell loop, one openssl enc process per file (libcrypto) + rm, ransom notes",
    needs: ["openssl"],
    command: sh("ransomware/openssl-per-file.sh", "{tree}"),
  },
  {
    name: "openssl-per-file-slow",
    label: "ransomware",
    description: "shell loop, openssl enc per file + rm, one file every 0.2 s",
    files: 40,
    needs: ["openssl"],
    command: sh("ransomware/openssl-per-file.sh", "{tree}", "0.2"),
  },
  {
    name: "c-newfile-notes",
    label: "ransomware",
    description:
      "C, EVP_EncryptInit_ex AES-256-CTR (libcrypto), one process, new file + unlink, ransom notes, fast",
    needs: ["gcc"],
    command: (ctx) => [join(ctx.bin, "cransom"), ctx.tree, "newfile", "notes"],
  },
  {
    name: "c-inplace",
    label: "ransomware",
    description: "C, libcrypto AES-256-CTR, overwrite in place + rename, fast",
    needs: ["gcc"],
    command: (ctx) => [join(ctx.bin, "cransom"), ctx.tree, "inplace"],
  },
  {
    name: "c-inplace-slow",
    label: "ransomware",
    description: "C, libcrypto, in place + rename, 50 ms between files",
    files: 60,
    needs: ["gcc"],
    command: (ctx) => [join(ctx.bin, "cransom"), ctx.tree, "inplace", "none", "50"],
  },
  {
    name: "node-newfile",
    label: "ransomware",
    description:
      "Node crypto AES-256-CBC (OpenSSL linked into node: no encrypt events), 8 files in flight, new file + unlink",
    needs: [],
    command: (ctx) => [
      process.execPath,
      join(WORKLOAD_DIR, "ransomware/noderansom.mjs"),
      ctx.tree,
      "newfile",
      "8",
    ],
  },
  {
    name: "node-inplace",
    label: "ransomware",
    description: "Node crypto, 4 files in flight, overwrite in place + rename",
    needs: [],
    command: (ctx) => [
      process.execPath,
      join(WORKLOAD_DIR, "ransomware/noderansom.mjs"),
      ctx.tree,
      "inplace",
      "4",
    ],
  },
  {
    name: "gpg-per-file",
    label: "ransomware",
    description: "shell loop, one gpg --symmetric per file (libgcrypt: no encrypt events) + rm",
    files: 50,
    needs: ["gpg"],
    command: sh("ransomware/gpg-per-file.sh", "{tree}"),
  },
  bulk("archive"),
  bulk("copy-delete"),
  bulk("git"),
  bulk("build"),
  bulk("sed"),
  bulk("backup-openssl"),
  bulk("backup-gpg"),
  bulk("gzip"),
  bulk("scan"),
  {
    name: "benign-database",
    label: "benign",
    description:
      "SQLite through Python, rollback journal (a journal file created and deleted per transaction)",
    needs: [PYTHON],
    command: py("benign/database.py", "{tree}"),
  },
  {
    name: "benign-sync",
    label: "benign",
    description: "rsync-like mirror in Python (temporary file + rename per file), then an incremental pass",
    needs: [PYTHON],
    command: py("benign/sync.py", "{tree}"),
  },
];
