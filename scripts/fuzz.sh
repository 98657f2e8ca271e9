#!/usr/bin/env bash
# Builds the libFuzzer targets in Fuzz/ (-sanitize=fuzzer,address) and runs each for a bounded
# time from a seed corpus. A finding stops its target and is left in .build/fuzz/findings/;
# turn it into a regression test (docs/fuzzing.md) before fixing it.
#   scripts/fuzz.sh                      every target, FUZZ_SECONDS (default 60) each
#   scripts/fuzz.sh FuzzRequestHead ...  only these
#   FUZZ_SECONDS=600 scripts/fuzz.sh     longer runs
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
seconds=${FUZZ_SECONDS:-60}
work=$root/.build/fuzz
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(FuzzRequestHead FuzzResponseHead FuzzChunkedBody FuzzCompactJWS FuzzClaimPath)

flags=(--package-path Fuzz -c debug -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library)
for t in "${targets[@]}"; do swift build "${flags[@]}" --product "$t" >&2; done
bin=$(swift build "${flags[@]}" --show-bin-path)

# Seeds: a few well-formed inputs per target, so the fuzzer starts inside the grammar. The
# corpus grows in $work/corpus between runs (delete it to start over).
seed() { # target name printf-format
  mkdir -p "$work/corpus/$1"
  printf "$3" > "$work/corpus/$1/seed-$2"
}
b64() { printf '%s' "$1" | base64 -w0 | tr '+/' '-_' | tr -d '='; }
seed FuzzRequestHead get 'GET /t/acme/mcp?x=1 HTTP/1.1\r\nHost: acme.test\r\nAuthorization: Bearer a.b.c\r\nConnection: keep-alive\r\n\r\n'
seed FuzzRequestHead post 'POST /mcp HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nX-User-Id: x\r\n\r\nhello'
seed FuzzRequestHead chunked 'PUT /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n'
seed FuzzRequestHead http10 'GET / HTTP/1.0\r\n\r\n'
seed FuzzResponseHead ok 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok'
seed FuzzResponseHead chunked 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nMcp-Session-Id: s1\r\n\r\n5\r\nhello\r\n0\r\n\r\n'
seed FuzzResponseHead close 'HTTP/1.0 401 Unauthorized\r\nWWW-Authenticate: Bearer\r\nConnection: close\r\n\r\nbody'
seed FuzzChunkedBody simple '5\r\nhello\r\n0\r\n\r\n'
seed FuzzChunkedBody ext 'a;name=value;q="x\\"y"\r\n0123456789\r\n0\r\nTrailer: t\r\n\r\nNEXT'
header=$(b64 '{"alg":"RS256","kid":"k1","typ":"JWT"}')
payload=$(b64 '{"iss":"https://idp.test","sub":"alice","aud":["mcp"],"exp":1900000000,"org":{"id":"acme"}}')
seed FuzzCompactJWS rs256 "$header.$payload.c2lnbmF0dXJl"
seed FuzzClaimPath nested 'org.id\0{"org":{"id":"acme"}}'
seed FuzzClaimPath quoted "realm_access['roles'][0]\\0{\"realm_access\":{\"roles\":[\"admin\"]}}"
seed FuzzClaimPath colon 'custom:tenant_id\0{"custom:tenant_id":"acme"}'

mkdir -p "$work/findings"
failed=0
for t in "${targets[@]}"; do
  echo "== $t: ${seconds}s" >&2
  mkdir -p "$work/findings/$t"
  if ! SWIFT_BACKTRACE=enable=no "$bin/$t" -max_total_time="$seconds" -max_len=16384 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$work/findings/$t/" "$work/corpus/$t" 2> "$work/$t.log"; then
    echo "!! $t: finding (see $work/$t.log and $work/findings/$t/)" >&2
    tail -30 "$work/$t.log" >&2
    failed=1
  else
    grep -E "stat::number_of_executed_units|cov:" "$work/$t.log" | tail -2 >&2
  fi
done
exit $failed
