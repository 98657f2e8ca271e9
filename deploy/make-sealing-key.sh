#!/bin/sh
# Creates the key that seals OAuth user tokens at rest (sealing_key_file in gatehouse.yaml):
# 32 random bytes, mode 0600. It is the one secret replicas sharing a store must share; each
# replica makes its own assertion signing key in its own assertion.key_dir at start.
#
#   deploy/make-sealing-key.sh FILE    creates FILE; an existing FILE is kept (a key is never replaced)
#
# Needs only a POSIX shell and /dev/urandom: it also runs inside the image (compose.yaml).
set -eu
file="${1:?usage: $0 FILE}"
umask 077
if [ -e "$file" ]; then
  echo "sealing key kept: $file"
  exit 0
fi
dir="$(dirname "$file")"
mkdir -p "$dir"
tmp="$dir/.sealing-key.$$.tmp"
head -c 32 /dev/urandom > "$tmp"
# ln, unlike mv, never replaces a file another run put there meanwhile.
if ln "$tmp" "$file" 2>/dev/null; then
  echo "sealing key: $file"
else
  echo "sealing key kept: $file"
fi
rm -f "$tmp"
