#!/bin/sh
# A ransomware-like shell loop for threatlens's collector recordings: one `gpg --symmetric` process per file
# (libgcrypt, not libcrypto: no encrypt events), the original deleted by `rm`. Run it only on a generated tree.
#   gpg-per-file.sh DIR
# Writes {"encrypted", "deleted", "renamed", "notes"} to $WORKLOAD_REPORT (or stdout).
set -eu
dir=$1
GNUPGHOME=$(mktemp -d)
export GNUPGHOME
list=$(mktemp)
find "$dir" -type f ! -name '*.gpg' | sort > "$list"
encrypted=0
while IFS= read -r f; do
  gpg --batch --quiet --yes --pinentry-mode loopback --passphrase threatlens --symmetric -o "$f.gpg" "$f"
  rm -f "$f"
  encrypted=$((encrypted + 1))
done < "$list"
gpgconf --kill gpg-agent 2>/dev/null || true
rm -rf "$list" "$GNUPGHOME"
report="{\"encrypted\": $encrypted, \"deleted\": $encrypted, \"renamed\": 0, \"notes\": 0}"
if [ -n "${WORKLOAD_REPORT:-}" ]; then echo "$report" > "$WORKLOAD_REPORT"; else echo "$report"; fi
