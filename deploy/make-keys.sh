#!/bin/sh
# Creates Gatehouse's shared key folder (assertion.key_dir) for several replicas:
#   <unix seconds>-<8 hex>.pem   a P-256 signing key, PKCS#8 PEM (the newest by name signs;
#                                all are published at /.gatehouse/jwks.json)
#   flow-token.key               32 random bytes sealing OAuth flow tokens (never replaced)
#
#   deploy/make-keys.sh DIR      first run: both files; later runs: one more signing key (rotation)
#
# Needs openssl. Files are mode 0600, the folder 0700.
set -eu
dir="${1:?usage: $0 DIR}"
umask 077
mkdir -p "$dir"
kid="$(date +%s)-$(openssl rand -hex 4)"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$dir/.$kid.pem.tmp"
mv "$dir/.$kid.pem.tmp" "$dir/$kid.pem"
echo "signing key: $dir/$kid.pem"
if [ ! -e "$dir/flow-token.key" ]; then
  openssl rand -out "$dir/.flow-token.key.tmp" 32
  mv "$dir/.flow-token.key.tmp" "$dir/flow-token.key"
  echo "flow token key: $dir/flow-token.key"
fi
