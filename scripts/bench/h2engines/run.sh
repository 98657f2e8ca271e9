#!/usr/bin/env bash
# The two candidate HTTP/2 layers side by side, at frame/stream level and without sockets: the
# same recorded client bytes (h2load-like GET requests with a bearer token, 4 streams a read) go
# through swift-nio-http2's NIOHTTP2Handler (no stream multiplexer) and through libnghttp2 (bytes
# in, bytes out), each answering every stream the same way. Prints user-space instructions per
# request (callgrind: (Ir(2N) - Ir(N)) / N, minus the harness's own cost) and wall time per
# request. Needs python3 with h2, valgrind, binutils, libnghttp2-dev.
#   scripts/bench/h2engines/run.sh [N]     N requests (default 1000)
set -euo pipefail
cd "$(dirname "$0")"
n=${1:-1000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 -c "import h2" 2>/dev/null || python3 -m pip install --quiet --disable-pip-version-check h2
python3 client-bytes.py "$work/n.bin" "$n" 4
python3 client-bytes.py "$work/2n.bin" $((2 * n)) 4
swift build -c release >&2
# valgrind 3.19 cannot read the DWARF 5 Swift writes: count on a copy without debug info.
strip --strip-debug -o "$work/h2engines" .build/release/h2engines
ir() { valgrind --tool=callgrind --callgrind-out-file="$work/cg" "$work/h2engines" "$1" "$2" 1 2>&1 | sed -n 's/.*Collected : //p'; }
declare -A per
for engine in null nio nghttp2; do
  a=$(ir "$engine" "$work/n.bin"); b=$(ir "$engine" "$work/2n.bin")
  per[$engine]=$(( (b - a) / n ))
done
printf '%-8s %14s %14s\n' layer "instr/request" "µs/request"
for engine in nio nghttp2; do
  printf '%-8s %14s %14s\n' "$engine" $(( ${per[$engine]} - ${per[null]} )) \
    "$("$work/h2engines" "$engine" "$work/2n.bin" 20 | sed -n 's/.*, \(.*\) µs per request/\1/p')"
done
