#!/usr/bin/env bash
# A quick throughput check on this machine: requests/s straight to an nginx upstream, and
# through Gatehouse (RS256 token verified once, then served from the verified-token cache,
# two propagated headers and a signed assertion per request). wrk runs on CPU 0; nginx and
# Gatehouse share CPU 1. Usage: scripts/bench/quick.sh [seconds]   (needs a release build)
# PERF_DATA=FILE also records a perf profile (perf record -g) of Gatehouse during its run.
# TRACING=1 turns OpenTelemetry tracing on at ratio 1, exporting to the nginx upstream (which
# answers 200 and keeps nothing).
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/bench/lib.sh
DURATION="${1:-10}"
for tool in wrk nginx; do
  command -v "$tool" >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk nginx >/dev/null; }
done
[ -x .build/release/gatehouse ] || swift build -c release --product gatehouse
WORK=$(mktemp -d)
chmod 755 "$WORK"   # nginx workers (www-data) read the key set from here
trap 'kill $(jobs -p) 2>/dev/null || true; nginx -p "$WORK" -c nginx.conf -s stop 2>/dev/null || true; rm -rf "$WORK"' EXIT
UP=18081; GH=18080; ADMIN=18090
python3 scripts/bench/mint.py "$WORK" "https://bench.example" bench
chmod 644 "$WORK/jwks.json"
cat > "$WORK/nginx.conf" <<NGINX
worker_processes 1;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$UP;
    location = /jwks.json { default_type application/json; alias $WORK/jwks.json; }
    location = /v1/traces { default_type application/x-protobuf; return 200 ""; }
    location / { return 200 "ok\n"; }
  }
}
NGINX
mkdir -p "$WORK/tenants"
bench_gatehouse_yaml "$WORK/gatehouse.yaml" "$GH" "$ADMIN"
if [ "${TRACING:-0}" = 1 ]; then
  printf 'tracing:\n  enabled: true\n  endpoint: "http://127.0.0.1:%s"\n  sample_ratio: 1.0\n' "$UP" >> "$WORK/gatehouse.yaml"
fi
cat > "$WORK/tenants/bench.yaml" <<YAML
id: bench
match:
  path_prefix: "/t/bench"
idps:
  - name: bench
    issuer: "https://bench.example"
    jwks_uri: "http://127.0.0.1:$UP/jwks.json"
    allowed_clients: ["bench-client"]
upstreams:
  - url: "http://127.0.0.1:$UP"
YAML
taskset -c 1 nginx -p "$WORK" -c nginx.conf
taskset -c 1 .build/release/gatehouse serve --config "$WORK/gatehouse.yaml" > /dev/null 2> "$WORK/gatehouse.log" &
GH_PID=$!
for _ in $(seq 100); do curl -s "http://127.0.0.1:$ADMIN/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
TOKEN=$(cat "$WORK/token")
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$GH/t/bench/")
[ "$code" = 200 ] || { echo "gatehouse answered $code"; cat "$WORK/gatehouse.log"; exit 1; }
run() { taskset -c 0 wrk -t1 -c32 -d"${DURATION}s" --latency "$@" | awk '/Requests\/sec/ {rps=$2} /^ +50%/ {p50=$2} /^ +99%/ {p99=$2} END {printf "%10s req/s   p50 %8s   p99 %8s\n", rps, p50, p99}'; }
echo "direct to nginx upstream:   $(run "http://127.0.0.1:$UP/")"
PERF_PID=
if [ -n "${PERF_DATA:-}" ]; then
  command -v perf >/dev/null || { echo "PERF_DATA needs perf (Debian: linux-perf)"; exit 1; }
  # Skips the first 2 s of load (warm-up) and stops before wrk does.
  (sleep 2; perf record -F 1999 -g -o "$PERF_DATA" -p "$GH_PID" -- sleep $((DURATION > 4 ? DURATION - 4 : 1)) >/dev/null 2>&1) &
  PERF_PID=$!
fi
echo "through gatehouse:          $(run -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$GH/t/bench/")"
if [ -n "$PERF_PID" ]; then wait "$PERF_PID"; echo "profile: $PERF_DATA (perf report -i $PERF_DATA --no-children --sort sym)"; fi
