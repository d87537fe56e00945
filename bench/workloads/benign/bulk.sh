#!/bin/sh
# Benign bulk file work for threatlens's collector recordings: what people and their tools do to many files at once.
#   bulk.sh TASK DIR      (DIR: a generated tree; scratch space is DIR.work, removed at the end)
# Tasks:
#   archive         tar czf the tree, extract it elsewhere, delete the copy
#   copy-delete     cp -r the tree, then rm -rf the copy
#   git             git init/add/commit, edit files on a branch, commit, check out the first branch again
#   build           generate a small C project (40 files, a Makefile), make -j2, make clean
#   sed             sed -i over every text file (sed writes a temporary file and renames it over the original)
#   backup-openssl  tar czf the tree, encrypt that ONE archive with openssl enc, delete the clear archive
#   backup-gpg      the same with gpg --symmetric
#   gzip            gzip -r the tree (each file replaced by FILE.gz), then gunzip -r it back
#   scan            grep -r and md5sum over every file (reads only)
# Writes {"task", "files_read", "files_written", "files_deleted"} to $WORKLOAD_REPORT (or stdout), counted from
# the tree before and after.
set -eu
task=$1
dir=$2
work="$dir.work"
rm -rf "$work"
mkdir -p "$work"
files=$(find "$dir" -type f | wc -l)
written=0
deleted=0
case "$task" in
  archive)
    tar czf "$work/tree.tgz" -C "$dir" .
    mkdir "$work/restore"
    tar xzf "$work/tree.tgz" -C "$work/restore"
    written=$((files + 1))
    rm -rf "$work/restore"
    deleted=$files
    ;;
  copy-delete)
    cp -r "$dir" "$work/copy"
    rm -rf "$work/copy"
    written=$files
    deleted=$files
    ;;
  git)
    cd "$dir"
    g() { git -c user.name=threatlens -c user.email=workload@threatlens.invalid "$@"; }
    g init -q -b main .
    g add -A
    g commit -qm "import documents"
    g checkout -q -b edits
    for f in $(find . -name '*.txt' -o -name '*.md' | head -20); do echo "edited" >> "$f"; done
    g commit -qam "edit notes"
    g checkout -q main
    written=$(find .git -type f | wc -l)
    rm -rf .git
    ;;
  build)
    mkdir "$work/project"
    i=0
    while [ $i -lt 40 ]; do
      printf 'int f%d(int x) { int s = 0; for (int k = 0; k < x; k++) s += k * %d; return s; }\n' $i $i > "$work/project/f$i.c"
      i=$((i + 1))
    done
    printf 'int f0(int);\nint main(void) { return f0(3) == 3 ? 0 : 1; }\n' > "$work/project/main.c"
    printf 'SRC := $(wildcard *.c)\nOBJ := $(SRC:.c=.o)\napp: $(OBJ)\n\t$(CC) -o $@ $^\n%%.o: %%.c\n\t$(CC) -O1 -c $< -o $@\nclean:\n\trm -f app $(OBJ)\n' > "$work/project/Makefile"
    make -s -j2 -C "$work/project"
    make -s -C "$work/project" clean
    written=$((41 + 41 + 1 + 1))
    deleted=$((41 + 1))
    ;;
  sed)
    for f in $(find "$dir" -type f \( -name '*.txt' -o -name '*.md' -o -name '*.csv' -o -name '*.html' -o -name '*.tex' \)); do
      sed -i 's/lorem/LOREM/g' "$f"
      written=$((written + 1))
    done
    ;;
  backup-openssl)
    tar czf "$work/backup.tgz" -C "$dir" .
    openssl enc -aes-256-cbc -pbkdf2 -pass pass:threatlens -in "$work/backup.tgz" -out "$work/backup.tgz.enc"
    rm -f "$work/backup.tgz"
    written=2
    deleted=1
    ;;
  backup-gpg)
    GNUPGHOME="$work/gnupg"
    export GNUPGHOME
    mkdir -m 700 "$GNUPGHOME"
    tar czf "$work/backup.tgz" -C "$dir" .
    gpg --batch --quiet --yes --pinentry-mode loopback --passphrase threatlens --symmetric -o "$work/backup.tgz.gpg" "$work/backup.tgz"
    rm -f "$work/backup.tgz"
    gpgconf --kill gpg-agent 2>/dev/null || true
    written=2
    deleted=1
    ;;
  gzip)
    gzip -r "$dir"
    gunzip -r "$dir"
    written=$((2 * files))
    deleted=$((2 * files))
    ;;
  scan)
    grep -r -l -i invoice "$dir" > /dev/null || true
    find "$dir" -type f -exec md5sum {} + > /dev/null
    ;;
  *)
    echo "unknown task $task" >&2
    exit 2
    ;;
esac
rm -rf "$work"
report="{\"task\": \"$task\", \"files_read\": $files, \"files_written\": $written, \"files_deleted\": $deleted}"
if [ -n "${WORKLOAD_REPORT:-}" ]; then echo "$report" > "$WORKLOAD_REPORT"; else echo "$report"; fi
