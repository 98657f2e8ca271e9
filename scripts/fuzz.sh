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
[ ${#targets[@]} -gt 0 ] || targets=(FuzzRequestHead FuzzResponseHead FuzzChunkedBody FuzzHTTP2Requests FuzzCompactJWS FuzzClaimPath)

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
# HTTP/2: frames after the preface (SETTINGS, then requests), made with the h2 package when it is there.
if python3 -c "import h2" 2>/dev/null; then
  mkdir -p "$work/corpus/FuzzHTTP2Requests"
  python3 - "$work/corpus/FuzzHTTP2Requests" <<'PY'
import sys, h2.config, h2.connection
out = sys.argv[1]
def frames(requests, body=None):
    c = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding=None))
    c.initiate_connection()
    for i, headers in enumerate(requests):
        c.send_headers(1 + 2 * i, headers, end_stream=body is None)
        if body is not None:
            c.send_data(1 + 2 * i, body, end_stream=True)
    return c.data_to_send()[24:]
get = [(b":method", b"GET"), (b":scheme", b"https"), (b":authority", b"acme.test"), (b":path", b"/t/acme/mcp?x=1"),
       (b"authorization", b"Bearer a.b.c"), (b"cookie", b"a=1"), (b"cookie", b"b=2"), (b"x-user-id", b"mallory")]
post = [(b":method", b"POST"), (b":scheme", b"http"), (b":authority", b"a"), (b":path", b"/"), (b"content-length", b"5"), (b"host", b"a")]
ws = [(b":method", b"CONNECT"), (b":protocol", b"websocket"), (b":scheme", b"http"), (b":authority", b"a"), (b":path", b"/ws"),
      (b"sec-websocket-version", b"13")]
for name, requests, body in [("get", [get], None), ("two", [get, get], None), ("post", [post], b"hello"), ("ws", [ws], None)]:
    try:
        data = frames(requests, body)
        open(f"{out}/seed-{name}", "wb").write(data)
    except Exception as e:  # the h2 package may refuse a request it thinks the server has not allowed
        print(f"seed {name}: {e}", file=sys.stderr)
PY
fi
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
