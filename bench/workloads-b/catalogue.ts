/**
 * Workloads for the live ransomware detector: ransomware-like tools written for threatlens (several languages and
 * libraries; one process, worker processes or threads, a process per file; fast and slow; new file then delete, or
 * overwrite in place then rename; with and without libcrypto) and ordinary bulk file work that looks busy too
 * (archives, copies, version control, builds, a database, in-place edits, encrypting one backup, compressing logs).
 * Each works on a generated tree of user documents under /home (see tree.ts) and is run as one command, so that the
 * collector can trace exactly its process tree.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const TOOLS = join(fileURLToPath(import.meta.url), "..", "tools");

export interface WorkloadContext {
  /** The generated tree of documents the workload works on (under /home). */
  root: string;
  /** A scratch directory outside the tree (archives, builds). */
  scratch: string;
  seed: number;
}

export interface Workload {
  name: string;
  label: "ransomware" | "benign";
  description: string;
  /** Documents to generate in the tree. */
  files: number;
  /** Whether the tools it needs are here. */
  available(): boolean;
  /** Not recorded: what must exist before the run (an archive to extract, a repository). */
  prepare?(ctx: WorkloadContext): void;
  command(ctx: WorkloadContext): string[];
}

const has = (tool: string) => {
  try {
    execFileSync("sh", ["-c", `command -v ${tool}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
};
const systemPythonHasCryptography = () => {
  try {
    execFileSync("/usr/bin/python3", ["-c", "import cryptography.fernet"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
};

/** The C locker, built on first use (gcc and libcrypto's headers). */
export function cLocker(scratch: string): string {
  const binary = join(scratch, "..", "tl-locker");
  if (!existsSync(binary)) {
    execFileSync("gcc", ["-O2", "-o", binary, join(TOOLS, "locker.c"), "-lcrypto"]);
  }
  return binary;
}

/** Debian's interpreter when there is one (pyenv's shims would add a dozen shell processes to every run). */
const python = existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
const sh = (script: string) => ["sh", "-c", script];

export const WORKLOADS: Workload[] = [
  {
    name: "py-xor-newfile",
    label: "ransomware",
    description:
      "Python, one process, pure-Python cipher (no library call), NAME.locked written, NAME deleted",
    files: 200,
    available: () => has(python),
    command: ({ root }) => [python, join(TOOLS, "locker.py"), root],
  },
  {
    name: "py-xor-inplace",
    label: "ransomware",
    description:
      "Python, one process, pure-Python cipher, files overwritten in place then renamed to NAME.locked",
    files: 200,
    available: () => has(python),
    command: ({ root }) => [python, join(TOOLS, "locker.py"), root, "--mode", "inplace"],
  },
  {
    name: "py-fernet-libcrypto",
    label: "ransomware",
    description:
      "Debian's Python with the cryptography package (system libcrypto), ransom notes in every directory",
    files: 200,
    available: systemPythonHasCryptography,
    command: ({ root }) => [
      "/usr/bin/python3",
      join(TOOLS, "locker.py"),
      root,
      "--cipher",
      "fernet",
      "--note",
    ],
  },
  {
    name: "py-workers",
    label: "ransomware",
    description: "Python, 4 worker processes, pure-Python cipher, new files",
    files: 240,
    available: () => has(python),
    command: ({ root }) => [python, join(TOOLS, "locker.py"), root, "--workers", "4"],
  },
  {
    name: "py-slow",
    label: "ransomware",
    description: "Python, one process, 50 ms per file, in place then rename, ransom notes",
    files: 120,
    available: () => has(python),
    command: ({ root }) => [
      python,
      join(TOOLS, "locker.py"),
      root,
      "--mode",
      "inplace",
      "--delay",
      "0.05",
      "--note",
    ],
  },
  {
    name: "c-libcrypto",
    label: "ransomware",
    description: "C with libcrypto EVP (AES-256-CTR), one fast process, new files, ransom notes",
    files: 300,
    available: () => has("gcc") && existsSync("/usr/include/openssl/evp.h"),
    command: ({ root, scratch }) => [cLocker(scratch), root],
  },
  {
    name: "c-libcrypto-slow",
    label: "ransomware",
    description: "C with libcrypto, 20 ms per file",
    files: 120,
    available: () => has("gcc") && existsSync("/usr/include/openssl/evp.h"),
    command: ({ root, scratch }) => [cLocker(scratch), root, "20"],
  },
  {
    name: "node-threads-inplace",
    label: "ransomware",
    description:
      "Node, 4 worker threads, its own statically linked OpenSSL (no encrypt events), in place then rename",
    files: 240,
    available: () => true,
    command: ({ root }) => [process.execPath, join(TOOLS, "locker.mjs"), root, "4"],
  },
  {
    name: "openssl-per-file",
    label: "ransomware",
    description: "a shell loop running `openssl enc` then `rm` for every file: a process per file",
    files: 120,
    available: () => has("openssl"),
    command: ({ root }) =>
      sh(
        `find '${root}' -type f | while read -r f; do openssl enc -aes-256-cbc -pbkdf2 -pass pass:x -in "$f" -out "$f.locked" && rm "$f"; done`,
      ),
  },
  {
    name: "openssl-inplace-rename",
    label: "ransomware",
    description:
      "a shell loop: `openssl enc` to a temporary file, moved over the original, renamed to NAME.crypt",
    files: 100,
    available: () => has("openssl"),
    command: ({ root }) =>
      sh(
        `find '${root}' -type f | while read -r f; do openssl enc -aes-128-ctr -pbkdf2 -pass pass:y -in "$f" -out "$f.tmp" && mv "$f.tmp" "$f" && mv "$f" "$f.crypt"; done`,
      ),
  },
  {
    name: "gpg-per-file",
    label: "ransomware",
    description: "find -exec running gpg --symmetric (libgcrypt, no libcrypto) then rm on every file",
    files: 80,
    available: () => has("gpg"),
    command: ({ root }) =>
      sh(
        `export GNUPGHOME=$(mktemp -d); find '${root}' -type f -exec sh -c 'gpg --batch --yes --pinentry-mode loopback --passphrase x --symmetric -o "$1.gpg" "$1" && rm "$1"' _ {} \\;; rm -rf "$GNUPGHOME"`,
      ),
  },
  // Benign bulk work.
  {
    name: "tar-czf",
    label: "benign",
    description: "tar czf of the whole tree into an archive",
    files: 300,
    available: () => has("tar"),
    command: ({ root, scratch }) => ["tar", "czf", join(scratch, "backup.tgz"), "-C", root, "."],
  },
  {
    name: "tar-xzf",
    label: "benign",
    description: "tar xzf of an archive of the tree into a new directory",
    files: 300,
    available: () => has("tar"),
    prepare: ({ root, scratch }) => execFileSync("tar", ["czf", join(scratch, "in.tgz"), "-C", root, "."]),
    command: ({ root, scratch }) =>
      sh(`mkdir -p '${root}/restored' && tar xzf '${scratch}/in.tgz' -C '${root}/restored'`),
  },
  {
    name: "cp-rm-tree",
    label: "benign",
    description: "cp -r of the tree, then rm -rf of the copy",
    files: 300,
    available: () => true,
    command: ({ root }) => sh(`cp -r '${root}' '${root}.copy' && rm -rf '${root}.copy'`),
  },
  {
    name: "rm-tree",
    label: "benign",
    description: "rm -rf of the whole tree",
    files: 300,
    available: () => true,
    command: ({ root }) => ["rm", "-rf", root],
  },
  {
    name: "git",
    label: "benign",
    description: "git init, add and commit of the tree, a branch with edits, checkouts back and forth",
    files: 200,
    available: () => has("git"),
    command: ({ root }) =>
      sh(
        `cd '${root}' && git init -q && git -c user.email=a@b -c user.name=a add -A && git -c user.email=a@b -c user.name=a commit -qm one && git checkout -qb two && find . -name '*.txt' -not -path './.git/*' | head -50 | xargs sed -i 's/e/E/g' && git -c user.email=a@b -c user.name=a commit -qam two && git checkout -q - && git checkout -q two && git gc -q`,
      ),
  },
  {
    name: "make-build",
    label: "benign",
    description: "make -j2 of a generated C project (60 units), then make clean",
    files: 60,
    available: () => has("gcc") && has("make"),
    prepare: ({ scratch }) => generateCProject(join(scratch, "project"), 60),
    command: ({ scratch }) =>
      sh(`make -s -j2 -C '${scratch}/project' && make -s -C '${scratch}/project' clean`),
  },
  {
    name: "sqlite",
    label: "benign",
    description:
      "a SQLite database in Documents: 300 transactions (each with its journal created and deleted)",
    files: 50,
    available: () => has(python),
    command: ({ root }) => [
      python,
      "-c",
      `import sqlite3\nc=sqlite3.connect('${root}/Documents/ledger.db')\nc.execute('create table if not exists t(k integer, v text)')\nfor i in range(300):\n  c.execute('insert into t values(?,?)',(i,'x'*200)); c.commit()\nc.close()`,
    ],
  },
  {
    name: "sed-in-place",
    label: "benign",
    description: "sed -i over every text file (a temporary file renamed over each original)",
    files: 200,
    available: () => has("sed"),
    command: ({ root }) => sh(`find '${root}' -name '*.txt' -exec sed -i 's/the/THE/g' {} +`),
  },
  {
    name: "editor-saves",
    label: "benign",
    description: "an editor's atomic saves: each file rewritten to NAME.swp, then renamed over NAME",
    files: 150,
    available: () => has(python),
    command: ({ root }) => [
      python,
      "-c",
      `import os\nfor d,_,ns in os.walk('${root}'):\n  for n in ns:\n    p=os.path.join(d,n); data=open(p,'rb').read()\n    t=p+'.swp'; f=open(t,'wb'); f.write(data+b'\\n'); f.flush(); os.fsync(f.fileno()); f.close(); os.replace(t,p)`,
    ],
  },
  {
    name: "encrypt-one-backup",
    label: "benign",
    description: "tar czf of the tree, the archive encrypted with openssl, the clear archive deleted",
    files: 300,
    available: () => has("openssl") && has("tar"),
    command: ({ root, scratch }) =>
      sh(
        `tar czf '${scratch}/b.tgz' -C '${root}' . && openssl enc -aes-256-cbc -pbkdf2 -pass pass:z -in '${scratch}/b.tgz' -out '${scratch}/b.tgz.enc' && rm '${scratch}/b.tgz'`,
      ),
  },
  {
    name: "gpg-one-archive",
    label: "benign",
    description: "one archive of the tree encrypted with gpg --symmetric",
    files: 200,
    available: () => has("gpg") && has("tar"),
    command: ({ root, scratch }) =>
      sh(
        `export GNUPGHOME=$(mktemp -d); tar cf '${scratch}/a.tar' -C '${root}' . && gpg --batch --yes --pinentry-mode loopback --passphrase x --symmetric -o '${scratch}/a.tar.gpg' '${scratch}/a.tar'; rm -rf "$GNUPGHOME"`,
      ),
  },
  {
    name: "gzip-logs",
    label: "benign",
    description:
      "logrotate-like: 150 old logs under /var/tmp compressed one by one (NAME.gz written, NAME deleted)",
    files: 10,
    available: () => has("gzip"),
    prepare: ({ scratch }) => {
      mkdirSync(join(scratch, "logs"), { recursive: true });
      for (let i = 0; i < 150; i++)
        writeFileSync(join(scratch, "logs", `app.log.${i}`), `line ${i}\n`.repeat(300));
    },
    command: ({ scratch }) => sh(`for f in '${scratch}'/logs/app.log.*; do gzip "$f"; done`),
  },
  {
    name: "copytree-python",
    label: "benign",
    description: "shutil.copytree of the tree then shutil.rmtree of the copy (an rsync-like sync)",
    files: 300,
    available: () => has(python),
    command: ({ root }) => [
      python,
      "-c",
      `import shutil\nshutil.copytree('${root}','${root}.mirror')\nshutil.rmtree('${root}.mirror')`,
    ],
  },
  {
    name: "grep-tree",
    label: "benign",
    description: "grep -r through the tree (opens only)",
    files: 300,
    available: () => true,
    command: ({ root }) => sh(`grep -rc zzz '${root}' > /dev/null || true`),
  },
  {
    name: "zip-tree",
    label: "benign",
    description: "zip -r of the tree",
    files: 300,
    available: () => has("zip"),
    command: ({ root, scratch }) => ["zip", "-qr", join(scratch, "tree.zip"), root],
  },
  {
    name: "thumbnails",
    label: "benign",
    description: "a photo tool: a small derived file per picture, written into a .thumbnails directory",
    files: 200,
    available: () => has(python),
    command: ({ root }) => [
      python,
      "-c",
      `import os\nfor d,_,ns in list(os.walk('${root}')):\n  for n in ns:\n    if n.endswith(('.jpg','.png')):\n      t=os.path.join(d,'.thumbnails'); os.makedirs(t,exist_ok=True)\n      open(os.path.join(t,n+'.thumb'),'wb').write(open(os.path.join(d,n),'rb').read()[:512])`,
    ],
  },
];

function generateCProject(dir: string, units: number): void {
  mkdirSync(dir, { recursive: true });
  const objects: string[] = [];
  for (let i = 0; i < units; i++) {
    writeFileSync(join(dir, `u${i}.c`), `int f${i}(int x) { return x * ${i + 1} + ${i}; }\n`);
    objects.push(`u${i}.o`);
  }
  writeFileSync(
    join(dir, "main.c"),
    `${Array.from({ length: units }, (_, i) => `int f${i}(int);`).join("\n")}\nint main(void) { int s = 0; ${Array.from({ length: units }, (_, i) => `s += f${i}(s);`).join(" ")} return s & 1; }\n`,
  );
  writeFileSync(
    join(dir, "Makefile"),
    `app: main.o ${objects.join(" ")}\n\tcc -o app main.o ${objects.join(" ")}\n%.o: %.c\n\tcc -O1 -c $< -o $@\nclean:\n\trm -f app *.o\n`,
  );
}
