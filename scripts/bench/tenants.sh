#!/usr/bin/env bash
# Start-up time and memory with many tenants. Writes N tenant files (default 10,000), each with
# its own Host, path prefix, issuer and jwks_uri (one key set per tenant, as with one Cognito
# user pool per tenant), all served by one local nginx. Measures `gatehouse check` of the files,
# `gatehouse serve` until /healthz answers, the time until every key set is fetched
# (gatehouse_jwks_fetches_total, result "ok"), and resident memory once they are.
# Usage: scripts/bench/tenants.sh [N]   (needs a release build; builds one if missing)
# PERF_DATA=FILE records a perf profile of the start-up instead (until /healthz answers).
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/bench/lib.sh
N="${1:-10000}"
command -v nginx >/dev/null || { apt-get update -qq && apt-get install -y -qq nginx >/dev/null; }
[ -x .build/release/gatehouse ] || swift build -c release --product gatehouse
BIN="$PWD/.build/release/gatehouse"
WORK=$(mktemp -d)
chmod 755 "$WORK"
trap 'kill $(jobs -p) 2>/dev/null || true; nginx -p "$WORK" -c nginx.conf -s stop 2>/dev/null || true; [ -n "${KEEP_LOG:-}" ] && cp "$WORK/gatehouse.log" "$KEEP_LOG"; rm -rf "$WORK"' EXIT
UP=18181; GH=18180; ADMIN=18190
python3 scripts/bench/mint.py "$WORK" "https://idp-1.bench.example" t1 >/dev/null
chmod 644 "$WORK/jwks.json"
cat > "$WORK/nginx.conf" <<NGINX
worker_processes 1;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log;
events { worker_connections 4096; }
http {
  access_log off;
  server {
    listen 127.0.0.1:$UP;
    location /jwks/ { default_type application/json; root $WORK; rewrite ^ /jwks.json break; }
    location / { return 200 "ok\n"; }
  }
}
NGINX
nginx -p "$WORK" -c nginx.conf
mkdir -p "$WORK/tenants"
bench_gatehouse_yaml "$WORK/gatehouse.yaml" "$GH" "$ADMIN"
python3 - "$WORK/tenants" "$N" "$UP" <<'PY'
import sys
out, n, port = sys.argv[1], int(sys.argv[2]), sys.argv[3]
for i in range(1, n + 1):
    with open(f"{out}/t{i}.yaml", "w") as f:
        f.write(f"""id: t{i}
display_name: "Tenant {i}"
match:
  hosts: ["t{i}.bench.example"]
  path_prefix: "/t/t{i}"
  strip_prefix: true
idps:
  - name: main
    issuer: "https://idp-{i}.bench.example"
    jwks_uri: "http://127.0.0.1:{port}/jwks/{i}"
    allowed_clients: ["bench-client"]
    claims:
      - {{ claim: "tenant", equals: "t{i}" }}
upstreams:
  - url: "http://127.0.0.1:{port}"
propagate:
  X-Tenant-Id: "$tenant"
  X-User-Id: "sub"
sessions:
  - {{ header: "Mcp-Session-Id", issued_by: server }}
limits:
  requests_per_second: 50
""")
PY
now_ms() { date +%s%3N; }
fetched_ok() { curl -s "http://127.0.0.1:$ADMIN/metrics" | awk '/^gatehouse_jwks_fetches_total\{.*result="ok"/ { s += $2 } END { printf "%d", s }'; }

start=$(now_ms)
/usr/bin/time -f "%M" -o "$WORK/check.rss" "$BIN" check --config "$WORK/gatehouse.yaml" >/dev/null 2>&1
check_ms=$(( $(now_ms) - start ))

start=$(now_ms)
if [ -n "${PERF_DATA:-}" ]; then
  # Profiles the start-up: perf records until /healthz answers.
  perf record -F 1999 -g -o "$PERF_DATA" -- "$BIN" serve --config "$WORK/gatehouse.yaml" >/dev/null 2>"$WORK/gatehouse.log" &
  PERF_PID=$!
  until GH_PID=$(pgrep -P "$PERF_PID" -x gatehouse); do sleep 0.01; done
else
  "$BIN" serve --config "$WORK/gatehouse.yaml" >/dev/null 2>"$WORK/gatehouse.log" &
  GH_PID=$!
fi
until curl -sf "http://127.0.0.1:$ADMIN/healthz" >/dev/null 2>&1; do
  kill -0 "$GH_PID" 2>/dev/null || { echo "gatehouse exited:"; tail -5 "$WORK/gatehouse.log"; exit 1; }
  sleep 0.02
done
healthy_ms=$(( $(now_ms) - start ))
if [ -n "${PERF_DATA:-}" ]; then
  kill -INT "$PERF_PID"; wait "$PERF_PID" 2>/dev/null || true
  echo "start-up profile: $PERF_DATA (perf report -i $PERF_DATA --no-children --sort sym)"
  exit 0
fi
deadline=$(( $(now_ms) + 120000 ))
until [ "$(fetched_ok)" -ge "$N" ] || [ "$(now_ms)" -gt "$deadline" ]; do sleep 0.1; done
fetched=$(fetched_ok)
fetched_ms=$(( $(now_ms) - start ))
sleep 2
rss_kb=$(awk '/VmRSS/ {print $2}' "/proc/$GH_PID/status")
TOKEN=$(cat "$WORK/token")
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$GH/t/t1/")

printf '%s tenants\n' "$N"
printf '  gatehouse check:                 %6d ms, peak %d MB\n' "$check_ms" "$(( $(cat "$WORK/check.rss") / 1024 ))"
printf '  serve until /healthz answers:    %6d ms\n' "$healthy_ms"
printf '  every key set fetched:           %6d ms (%d fetched)\n' "$fetched_ms" "$fetched"
printf '  resident memory then:            %6d MB\n' "$(( rss_kb / 1024 ))"
printf '  a request for t1:                %6s\n' "$code"
