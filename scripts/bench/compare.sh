#!/usr/bin/env bash
# Gatehouse next to the servers it is compared with, on this machine, in one run:
#   direct    the upstream itself (nginx `return 200`)
#   relay     a SwiftNIO byte relay, no HTTP at all (scripts/bench/relay): what the event loop
#             alone costs, the floor every proxy here is read against
#   nginx     nginx as a plain reverse proxy (no token check)
#   haproxy   HAProxy with jwt_verify (RS256, PEM public key), iss/client_id/exp checks and two
#             claim headers from the token; bad tokens get 401
#   gatehouse the same checks and the same two claim headers, plus its signed assertion (and a
#             row without it), with the verified-token cache on (one token reused) and off
#             (`identity.token_cache_entries: 0`: every request verifies a signature, as HAProxy does),
#             and with OpenTelemetry tracing on at ratio 1 (every request's spans exported over
#             OTLP/HTTP to the upstream nginx, which answers 200 and keeps nothing)
# HTTP/1.1 with wrk (requests/s, p50, p99), then HTTP/2 cleartext with h2load against whichever
# servers speak h2c, then TLS (one ECDSA P-256 certificate for all, TLS 1.3, keep-alive):
# HTTPS/1.1 with wrk, h2 over TLS with h2load, and new TLS connections per second with
# `openssl s_time` (full handshakes, and resumed with the first connection's session). Then, per HTTP/1.1 server, figures that do not drift with the machine's
# noise: user-space instructions per request (callgrind; the difference between windows of N and
# 2N keep-alive requests, so start-up and connection set-up cancel) and syscalls per request
# (`strace -c -f` attached during N requests). wrk and h2load run on CPU 0; the server under test and the upstream on CPU 1.
# Before measuring, every server must answer 200 with the token, and HAProxy and Gatehouse 401
# without it and with a tampered signature. Each figure is the median of three runs (each column
# on its own; "range" is the spread of requests/s), the runs of all servers interleaved.
#
# Usage: scripts/bench/compare.sh
#   DURATION=10     seconds per run          QUICK=1          one run instead of three
#   CONNECTIONS=32  wrk connections          H2_CLIENTS=8 H2_STREAMS=4   h2load clients x streams
#   GATEHOUSE_BIN=… use this binary instead of building .build/release/gatehouse
#   GATEHOUSE_H2C_URL= (empty) leave Gatehouse out of the h2c table
#   COSTS=0         leave out instructions and syscalls per request   COST_REQUESTS=2000 (N)
#   THROUGHPUT=0    leave out the wrk and h2load tables (only the checks and the costs: ~5 min)
#   CG_KEEP=DIR     keep each server's callgrind profile (the 2N window) and strace summary in DIR
#   ONLY=h1|h2|tls1|tls2|hs   measure only the targets of these protocols (a regex: ONLY='tls.*|hs')
#   PORT_BASE=19000 first of the loopback ports used (PORT_BASE … PORT_BASE+40 and, for callgrind, +110 … +140)
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/bench/lib.sh

DURATION="${DURATION:-10}"
REPEATS=3
if [ "${QUICK:-0}" = 1 ]; then REPEATS=1; fi
CONNECTIONS="${CONNECTIONS:-32}"
H2_CLIENTS="${H2_CLIENTS:-8}"
H2_STREAMS="${H2_STREAMS:-4}"
WARMUP_SECONDS=2
PORT_BASE="${PORT_BASE:-19000}"
UP=$PORT_BASE; UP_H2=$((PORT_BASE + 1))
NGX=$((PORT_BASE + 10)); NGX_H2=$((PORT_BASE + 11))
HA=$((PORT_BASE + 20)); HA_H2=$((PORT_BASE + 21))
GH=$((PORT_BASE + 30)); GH_ADMIN=$((PORT_BASE + 31))
NGX_TLS=$((PORT_BASE + 12)); HA_TLS=$((PORT_BASE + 22))
ONLY="${ONLY:-}"
RELAY=$((PORT_BASE + 40))
# The costs phase runs second copies of the proxies under callgrind on these ports + 100.
CG_OFFSET=100
COSTS="${COSTS:-1}"
THROUGHPUT="${THROUGHPUT:-1}"
COST_REQUESTS="${COST_REQUESTS:-2000}"
LOADGEN_CPU=0; SERVER_CPU=1
# Gatehouse's h2c URL (prior knowledge on its cleartext listener). A build that does not answer
# h2c there gets "n/a" in the h2c table, as does GATEHOUSE_H2C_URL= (empty) in the environment.
GATEHOUSE_H2C_URL="${GATEHOUSE_H2C_URL-http://127.0.0.1:$GH/t/bench/}"
ISSUER="https://bench.example"

# --- tools -------------------------------------------------------------------------------------
missing=()
for pair in wrk:wrk h2load:nghttp2-client nginx:nginx haproxy:haproxy curl:curl taskset:util-linux valgrind:valgrind strace:strace strip:binutils cc:gcc; do
  command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]} from Debian" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
python3 -c "import cryptography" 2>/dev/null || python3 -m pip install --quiet --disable-pip-version-check cryptography
if [ -n "${GATEHOUSE_BIN:-}" ]; then
  GATEHOUSE="$GATEHOUSE_BIN"
else
  swift build -c release --product gatehouse >&2
  GATEHOUSE=.build/release/gatehouse
fi
GATEHOUSE="$(cd "$(dirname "$GATEHOUSE")" && pwd)/$(basename "$GATEHOUSE")"
swift build -c release --package-path scripts/bench/relay >&2
RELAY_BIN="$(cd scripts/bench/relay && swift build -c release --show-bin-path)/relay"

# --- work folder and clean-up ------------------------------------------------------------------
WORK=$(mktemp -d)
chmod 755 "$WORK"   # nginx workers (an unprivileged user) read the key set from here
HAPROXY_PID=
RELAY_PID=
GATEHOUSE_PID=
NGINX_PIDS=()
stop_gatehouse() {
  if [ -n "$GATEHOUSE_PID" ]; then
    kill "$GATEHOUSE_PID" 2>/dev/null || true
    wait "$GATEHOUSE_PID" 2>/dev/null || true
    GATEHOUSE_PID=
  fi
}
cleanup() {
  stop_gatehouse
  for pid in $HAPROXY_PID $RELAY_PID "${NGINX_PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

python3 scripts/bench/mint.py "$WORK" "$ISSUER" bench
chmod 644 "$WORK/jwks.json" "$WORK/public.pem"
TOKEN=$(cat "$WORK/token")
TAMPERED=$(cat "$WORK/token.tampered")

# Polls until `curl` gets any HTTP answer from $1 (bounded: 10 s).
wait_http() {
  for _ in $(seq 100); do
    if [ "$(curl -s -o /dev/null -w '%{http_code}' "$@" 2>/dev/null)" != 000 ]; then return 0; fi
    sleep 0.1
  done
  echo "nothing answers at $*" >&2
  return 1
}

# Fails unless `curl ARGS…` gets status $1.
expect_status() {
  local want=$1; shift
  local got
  got=$(curl -s -o /dev/null -w '%{http_code}' "$@")
  if [ "$got" != "$want" ]; then echo "expected $want, got $got from: curl $*" >&2; return 1; fi
}

# Fails unless the upstream saw the propagated identity (its /echo location returns the two
# headers), even when the client sends spoofed values for them.
expect_identity() {
  local url=$1 body
  body=$(curl -s -H "Authorization: Bearer $TOKEN" -H "X-User-Id: spoofed" -H "X-Tenant-Id: spoofed" "$url")
  if [ "$body" != "bench|bench-user" ]; then echo "upstream saw identity '$body' via $url (expected bench|bench-user)" >&2; return 1; fi
}

# Nothing may answer on our ports yet: a leftover server would be measured instead of ours.
for port in $UP $UP_H2 $NGX $NGX_H2 $NGX_TLS $HA $HA_H2 $HA_TLS $GH $GH_ADMIN $RELAY $((NGX + CG_OFFSET)) $((NGX_H2 + CG_OFFSET)) $((HA + CG_OFFSET)) $((HA_H2 + CG_OFFSET)) $((GH + CG_OFFSET)) $((RELAY + CG_OFFSET)); do
  if curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$port/"; then
    echo "something already answers on 127.0.0.1:$port; stop it or set PORT_BASE" >&2
    exit 1
  fi
done

# --- upstream and nginx proxy ------------------------------------------------------------------
start_nginx() {  # $1: prefix folder holding nginx.conf (with `daemon off`: it stays our child)
  mkdir -p "$1/logs"
  taskset -c "$SERVER_CPU" nginx -p "$1" -c nginx.conf -e "$1/error.log" &
  NGINX_PIDS+=($!)
}

# One certificate for every TLS listener: ECDSA P-256, self-signed for 127.0.0.1.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=127.0.0.1 \
  -addext subjectAltName=IP:127.0.0.1 -keyout "$WORK/tls.key" -out "$WORK/tls.pem" 2>/dev/null
cat "$WORK/tls.pem" "$WORK/tls.key" > "$WORK/tls-haproxy.pem"

mkdir -p "$WORK/upstream"
cat > "$WORK/upstream/nginx.conf" <<NGINX
daemon off;
worker_processes 1;
pid $WORK/upstream/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$UP;
    listen 127.0.0.1:$UP_H2 http2;
    location = /jwks.json { default_type application/json; alias $WORK/jwks.json; }
    location = /echo { default_type text/plain; return 200 "\$http_x_tenant_id|\$http_x_user_id"; }
    # The OTLP/HTTP collector of the tracing-on rows: takes every batch, keeps nothing.
    location = /v1/traces { default_type application/x-protobuf; return 200 ""; }
    location / { default_type text/plain; return 200 "ok\n"; }
  }
}
NGINX
start_nginx "$WORK/upstream"

mkdir -p "$WORK/proxy"
cat > "$WORK/proxy/nginx.conf" <<NGINX
daemon off;
worker_processes 1;
pid $WORK/proxy/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  upstream agent { server 127.0.0.1:$UP; keepalive 64; }
  server {
    listen 127.0.0.1:$NGX;
    listen 127.0.0.1:$NGX_H2 http2;
    listen 127.0.0.1:$NGX_TLS ssl http2;
    ssl_certificate $WORK/tls.pem;
    ssl_certificate_key $WORK/tls.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache shared:SSL:10m;
    location / {
      proxy_pass http://agent;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
NGINX
start_nginx "$WORK/proxy"

# --- HAProxy -----------------------------------------------------------------------------------
cat > "$WORK/haproxy.cfg" <<HAPROXY
global
  nbthread 1
  maxconn 4000
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  option http-keep-alive
frontend gate
  bind 127.0.0.1:$HA
  bind 127.0.0.1:$HA_H2 proto h2
  bind 127.0.0.1:$HA_TLS ssl crt $WORK/tls-haproxy.pem alpn h2,http/1.1 ssl-min-ver TLSv1.2
  http-request del-header X-Tenant-Id
  http-request del-header X-User-Id
  http-request set-var(txn.bearer) http_auth_bearer
  http-request set-var(txn.now) date
  http-request deny status 401 unless { var(txn.bearer) -m found }
  http-request deny status 401 unless { var(txn.bearer),jwt_header_query('\$.alg') -m str RS256 }
  http-request deny status 401 unless { var(txn.bearer),jwt_verify("RS256","$WORK/public.pem") -m int 1 }
  http-request deny status 401 unless { var(txn.bearer),jwt_payload_query('\$.iss') -m str $ISSUER }
  http-request deny status 401 unless { var(txn.bearer),jwt_payload_query('\$.client_id') -m str bench-client }
  http-request deny status 401 unless { var(txn.bearer),jwt_payload_query('\$.exp','int'),sub(txn.now) -m int gt 0 }
  http-request set-header X-Tenant-Id %[var(txn.bearer),jwt_payload_query('\$.tenant')]
  http-request set-header X-User-Id %[var(txn.bearer),jwt_payload_query('\$.sub')]
  default_backend agent
backend agent
  http-reuse always
  server up1 127.0.0.1:$UP
HAPROXY
haproxy -c -q -f "$WORK/haproxy.cfg"
taskset -c "$SERVER_CPU" haproxy -db -f "$WORK/haproxy.cfg" > "$WORK/haproxy.log" 2>&1 &
HAPROXY_PID=$!

# --- the floor: a SwiftNIO byte relay ------------------------------------------------------------
taskset -c "$SERVER_CPU" "$RELAY_BIN" "$RELAY" "$UP" &
RELAY_PID=$!

# --- Gatehouse ---------------------------------------------------------------------------------
# Writes a config folder: $1 name, $2 token_cache_entries, $3 assertion enabled (true/false).
gatehouse_config() {
  local dir="$WORK/gatehouse-$1"
  mkdir -p "$dir/tenants"
  bench_gatehouse_yaml "$dir/gatehouse.yaml" "$GH" "$GH_ADMIN" "$2" "$3"
  if [ "${4:-}" = traced ]; then
    printf 'tracing:\n  enabled: true\n  endpoint: "http://127.0.0.1:%s"\n  sample_ratio: 1.0\n' "$UP" >> "$dir/gatehouse.yaml"
  fi
  if [ "${4:-}" = tls ]; then
    printf 'tls:\n  certificate_file: "%s"\n  key_file: "%s"\n' "$WORK/tls.pem" "$WORK/tls.key" >> "$dir/gatehouse.yaml"
  fi
  cat > "$dir/tenants/bench.yaml" <<YAML
id: bench
match:
  path_prefix: "/t/bench"
idps:
  - name: bench
    issuer: "$ISSUER"
    jwks_uri: "http://127.0.0.1:$UP/jwks.json"
    allowed_clients: ["bench-client"]
    algorithms: [RS256]
upstreams:
  - url: "http://127.0.0.1:$UP"
propagate:
  X-Tenant-Id: "tenant"
  X-User-Id: "sub"
YAML
}

start_gatehouse() {  # $1: config name
  stop_gatehouse
  # The access log goes to /dev/null (Gatehouse still formats and writes every line).
  taskset -c "$SERVER_CPU" "$GATEHOUSE" serve --config "$WORK/gatehouse-$1/gatehouse.yaml" > /dev/null 2> "$WORK/gatehouse-$1.log" &
  GATEHOUSE_PID=$!
  local scheme=http
  if [[ "$1" == *tls ]]; then scheme=https; fi
  wait_http --cacert "$WORK/tls.pem" "$scheme://127.0.0.1:$GH/t/bench/" || { cat "$WORK/gatehouse-$1.log" >&2; return 1; }
}

gatehouse_config cached 100000 true
gatehouse_config nocache 0 true
gatehouse_config cached-noassert 100000 false
gatehouse_config nocache-noassert 0 false
gatehouse_config cached-tls 100000 true tls
gatehouse_config cached-traced 100000 true traced

# --- honesty checks before any measurement ------------------------------------------------------
AUTH=(-H "Authorization: Bearer $TOKEN")
wait_http "http://127.0.0.1:$UP/"
wait_http "http://127.0.0.1:$NGX/"
wait_http "http://127.0.0.1:$RELAY/"
expect_status 200 "http://127.0.0.1:$RELAY/"
wait_http "http://127.0.0.1:$HA/" || { cat "$WORK/haproxy.log" >&2; exit 1; }
expect_status 200 "${AUTH[@]}" "http://127.0.0.1:$UP/"
expect_status 200 "${AUTH[@]}" "http://127.0.0.1:$NGX/"
expect_status 200 "${AUTH[@]}" "http://127.0.0.1:$HA/"
expect_status 401 "http://127.0.0.1:$HA/"
expect_status 401 -H "Authorization: Bearer $TAMPERED" "http://127.0.0.1:$HA/"
expect_identity "http://127.0.0.1:$HA/echo"
expect_status 401 --http2-prior-knowledge -H "Authorization: Bearer $TAMPERED" "http://127.0.0.1:$HA_H2/"
for name in cached nocache cached-noassert nocache-noassert cached-traced; do
  start_gatehouse "$name"
  expect_status 200 "${AUTH[@]}" "http://127.0.0.1:$GH/t/bench/"
  expect_status 401 "http://127.0.0.1:$GH/t/bench/"
  expect_status 401 -H "Authorization: Bearer $TAMPERED" "http://127.0.0.1:$GH/t/bench/"
  expect_identity "http://127.0.0.1:$GH/t/bench/echo"
  if [ "$name" = cached-traced ] && ! grep -q '"tracing on"' "$WORK/gatehouse-$name.log"; then
    echo "the tracing row's Gatehouse did not turn tracing on:" >&2; cat "$WORK/gatehouse-$name.log" >&2; exit 1
  fi
  if [ -n "$GATEHOUSE_H2C_URL" ]; then
    if [ "$(curl -s -o /dev/null -w '%{http_code}' --http2-prior-knowledge "${AUTH[@]}" "$GATEHOUSE_H2C_URL" || true)" = 200 ]; then
      expect_status 401 --http2-prior-knowledge -H "Authorization: Bearer $TAMPERED" "$GATEHOUSE_H2C_URL"
    else
      echo "this Gatehouse build does not answer h2c at $GATEHOUSE_H2C_URL: its h2c row is n/a" >&2
      GATEHOUSE_H2C_URL=""
    fi
  fi
done
start_gatehouse cached-tls
for url in "https://127.0.0.1:$NGX_TLS/" "https://127.0.0.1:$HA_TLS/" "https://127.0.0.1:$GH/t/bench/"; do
  expect_status 200 --cacert "$WORK/tls.pem" "${AUTH[@]}" "$url"
  expect_status 200 --cacert "$WORK/tls.pem" --http2 "${AUTH[@]}" "$url"
done
expect_status 401 --cacert "$WORK/tls.pem" "https://127.0.0.1:$HA_TLS/"
expect_status 401 --cacert "$WORK/tls.pem" "https://127.0.0.1:$GH/t/bench/"
stop_gatehouse
echo "checks passed: every server answers 200 with the token; HAProxy and Gatehouse answer 401 without it and with a tampered signature, and propagate the identity" >&2

# --- measuring ---------------------------------------------------------------------------------
# wrk's latency text (e.g. 812.00us, 1.25ms, 1.01s) in microseconds.
to_us() { awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) f = 1; else if (v ~ /ms$/) f = 1000; else if (v ~ /s$/) f = 1000000; else f = 1; printf "%.1f", n * f }'; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# One wrk run: prints "rps p50_us p99_us"; fails when any answer was not 2xx or a socket erred.
wrk_once() {
  local out rps p50 p99
  out=$(taskset -c "$LOADGEN_CPU" wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency "${AUTH[@]}" "$1")
  if grep -qE 'Non-2xx|Socket errors' <<< "$out"; then echo "wrk saw errors for $1:" >&2; echo "$out" >&2; return 1; fi
  rps=$(awk '/^Requests\/sec/ { print $2 }' <<< "$out")
  p50=$(to_us "$(awk '$1 == "50%" { print $2 }' <<< "$out")")
  p99=$(to_us "$(awk '$1 == "99%" { print $2 }' <<< "$out")")
  echo "$rps $p50 $p99"
}

# One h2load run: prints "rps mean_us"; fails unless every request succeeded with a 2xx.
h2_once() {
  local out rps mean
  out=$(taskset -c "$LOADGEN_CPU" h2load -c"$H2_CLIENTS" -m"$H2_STREAMS" -t1 -D "$DURATION" "${AUTH[@]}" "$1")
  if ! grep -qE '^requests: .* 0 failed, 0 errored, 0 timeout' <<< "$out" || ! grep -qE '^status codes: [0-9]+ 2xx, 0 3xx, 0 4xx, 0 5xx' <<< "$out"; then
    echo "h2load saw failures for $1:" >&2; echo "$out" >&2; return 1
  fi
  rps=$(awk '/^finished in/ { print $4 }' <<< "$out")
  mean=$(to_us "$(awk '/^time for request:/ { print $6 }' <<< "$out")")
  echo "$rps $mean"
}

# One `openssl s_time` run against $1 (host:port): TLS connections per second, full handshakes
# (`-new`) or resumed ones (`-reuse`, $2); no HTTP request is sent, so every server does only TLS.
stime_once() {
  local out count secs
  out=$(taskset -c "$LOADGEN_CPU" openssl s_time -connect "$1" "$2" -time "$DURATION" 2>/dev/null)
  read -r count secs <<< "$(awk '/connections in [0-9.]+s;/ { print $1, $4; exit }' <<< "$out")"
  if [ -z "$count" ]; then echo "s_time failed for $1 $2:" >&2; echo "$out" >&2; return 1; fi
  awk -v c="$count" -v s="${secs%s;}" 'BEGIN { printf "%.1f\n", c / s }'
}

# What is measured, in this order in every round: "protocol|label|URL|Gatehouse config".
# Rounds interleave the servers, so that a burst of other work on this machine (it may be shared)
# hits every server's repeats alike rather than all of one server's. An empty URL prints "n/a".
TARGETS=(
  "h1|direct (nginx return 200)|http://127.0.0.1:$UP/|"
  "h1|SwiftNIO byte relay (floor)|http://127.0.0.1:$RELAY/|"
  "h1|nginx reverse proxy, no token check|http://127.0.0.1:$NGX/|"
  "h1|HAProxy 2.6 jwt_verify, every request|http://127.0.0.1:$HA/|"
  "h1|Gatehouse, one token reused (cache)|http://127.0.0.1:$GH/t/bench/|cached"
  "h1|Gatehouse, cache off (verify each)|http://127.0.0.1:$GH/t/bench/|nocache"
  "h1|Gatehouse, no assertion, cache|http://127.0.0.1:$GH/t/bench/|cached-noassert"
  "h1|Gatehouse, no assertion, cache off|http://127.0.0.1:$GH/t/bench/|nocache-noassert"
  "h1|Gatehouse, cache, tracing on (ratio 1)|http://127.0.0.1:$GH/t/bench/|cached-traced"
  "h2|direct (nginx return 200)|http://127.0.0.1:$UP_H2/|"
  "h2|nginx reverse proxy, no token check|http://127.0.0.1:$NGX_H2/|"
  "h2|HAProxy 2.6 jwt_verify, every request|http://127.0.0.1:$HA_H2/|"
  "h2|Gatehouse, one token reused (cache)|$GATEHOUSE_H2C_URL|cached"
  "tls1|nginx reverse proxy, no token check|https://127.0.0.1:$NGX_TLS/|"
  "tls1|HAProxy 2.6 jwt_verify, every request|https://127.0.0.1:$HA_TLS/|"
  "tls1|Gatehouse, one token reused (cache)|https://127.0.0.1:$GH/t/bench/|cached-tls"
  "tls2|nginx reverse proxy, no token check|https://127.0.0.1:$NGX_TLS/|"
  "tls2|HAProxy 2.6 jwt_verify, every request|https://127.0.0.1:$HA_TLS/|"
  "tls2|Gatehouse, one token reused (cache)|https://127.0.0.1:$GH/t/bench/|cached-tls"
  "hs|nginx, full handshakes|127.0.0.1:$NGX_TLS -new|"
  "hs|HAProxy, full handshakes|127.0.0.1:$HA_TLS -new|"
  "hs|Gatehouse, full handshakes|127.0.0.1:$GH -new|cached-tls"
  "hs|nginx, resumed|127.0.0.1:$NGX_TLS -reuse|"
  "hs|HAProxy, resumed|127.0.0.1:$HA_TLS -reuse|"
  "hs|Gatehouse, resumed|127.0.0.1:$GH -reuse|cached-tls"
)

ms() { awk -v v="$1" 'BEGIN { printf "%.2f", v / 1000 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'; }
range() { printf '%s\n' "$@" | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.0f-%.0f", lo, hi }'; }
rule() { printf -- '-%.0s' $(seq "$1"); }
declare -A RPS=() P50=() P99=()
if [ "$THROUGHPUT" = 1 ]; then
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for round in $(seq "$REPEATS"); do
  for i in "${!TARGETS[@]}"; do
    IFS='|' read -r proto label url config <<< "${TARGETS[$i]}"
    if [ -z "$url" ]; then continue; fi
    if [ -n "$ONLY" ] && ! [[ "$proto" =~ ^($ONLY)$ ]]; then continue; fi
    if [ -n "$config" ]; then start_gatehouse "$config"; else stop_gatehouse; fi
    echo "round $round/$REPEATS: $label ($proto, ${DURATION}s)" >&2
    if [ "$proto" = h1 ] || [ "$proto" = tls1 ]; then
      taskset -c "$LOADGEN_CPU" wrk -t1 -c"$CONNECTIONS" -d"${WARMUP_SECONDS}s" "${AUTH[@]}" "$url" > /dev/null
      line=$(wrk_once "$url")
    elif [ "$proto" = hs ]; then
      line="$(stime_once ${url% *} ${url#* }) 0"
    elif [ "$proto" = tls2 ]; then
      taskset -c "$LOADGEN_CPU" h2load -c"$H2_CLIENTS" -m"$H2_STREAMS" -t1 -D "$WARMUP_SECONDS" "${AUTH[@]}" "$url" > /dev/null
      line=$(h2_once "$url")
    else
      expect_status 200 --http2-prior-knowledge "${AUTH[@]}" "$url"
      taskset -c "$LOADGEN_CPU" h2load -c"$H2_CLIENTS" -m"$H2_STREAMS" -t1 -D "$WARMUP_SECONDS" "${AUTH[@]}" "$url" > /dev/null
      line=$(h2_once "$url")
    fi
    read -r rps p50 p99 <<< "$line"
    RPS[$i]+=" $rps"; P50[$i]+=" $p50"; P99[$i]+=" ${p99:-}"
  done
done
stop_gatehouse
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

# --- the tables --------------------------------------------------------------------------------

echo
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)), median of $REPEATS x ${DURATION}s"
for proto in h1 h2 tls1 tls2 hs; do
  if [ -n "$ONLY" ] && ! [[ "$proto" =~ ^($ONLY)$ ]]; then continue; fi
  echo
  if [ "$proto" = h1 ] || [ "$proto" = tls1 ]; then
    title="HTTP/1.1, wrk -t1 -c$CONNECTIONS"
    if [ "$proto" = tls1 ]; then title="HTTPS/1.1, wrk -t1 -c$CONNECTIONS"; fi
    printf '| %-38s | %10s | %13s | %8s | %8s | %9s |\n' "$title" "requests/s" "range" "p50 ms" "p99 ms" "$([ "$proto" = h1 ] && echo "vs direct" || echo "vs nginx")"
    printf '| %-38s | %10s | %13s | %8s | %8s | %9s |\n' "$(rule 38)" "$(rule 9):" "$(rule 12):" "$(rule 7):" "$(rule 7):" "$(rule 8):"
  else
    title="h2c, h2load -c$H2_CLIENTS -m$H2_STREAMS"
    if [ "$proto" = tls2 ]; then title="h2 over TLS, h2load -c$H2_CLIENTS -m$H2_STREAMS"; fi
    if [ "$proto" = hs ]; then title="TLS connections/s, openssl s_time"; fi
    printf '| %-38s | %10s | %13s | %8s | %9s |\n' "$title" "$([ "$proto" = hs ] && echo conns/s || echo requests/s)" "range" "mean ms" "$([ "$proto" = h2 ] && echo "vs direct" || echo "vs nginx")"
    printf '| %-38s | %10s | %13s | %8s | %9s |\n' "$(rule 38)" "$(rule 9):" "$(rule 12):" "$(rule 7):" "$(rule 8):"
  fi
  direct=
  for i in "${!TARGETS[@]}"; do
    IFS='|' read -r p label url config <<< "${TARGETS[$i]}"
    if [ "$p" != "$proto" ]; then continue; fi
    if [ -z "$url" ] || [ -z "${RPS[$i]:-}" ]; then
      if [ "$proto" = h1 ] || [ "$proto" = tls1 ]; then cells=(n/a n/a n/a n/a n/a); else cells=(n/a n/a n/a n/a); fi
    else
      # shellcheck disable=SC2086  # the lists are space-separated on purpose
      rps=$(median ${RPS[$i]}); spread=$(range ${RPS[$i]}); p50=$(median ${P50[$i]})
      direct=${direct:-$rps}
      if [ "$proto" = h1 ] || [ "$proto" = tls1 ]; then
        # shellcheck disable=SC2086
        cells=("$(printf '%.0f' "$rps")" "$spread" "$(ms "$p50")" "$(ms "$(median ${P99[$i]})")" "$(ratio "$rps" "$direct")")
      else
        cells=("$(printf '%.0f' "$rps")" "$spread" "$(ms "$p50")" "$(ratio "$rps" "$direct")")
      fi
    fi
    if [ "$proto" = h1 ] || [ "$proto" = tls1 ]; then
      printf '| %-38s | %10s | %13s | %8s | %8s | %9s |\n' "$label" "${cells[@]}"
    else
      printf '| %-38s | %10s | %13s | %8s | %9s |\n' "$label" "${cells[@]}"
    fi
  done
done

fi  # THROUGHPUT

# --- instructions and syscalls per request ----------------------------------------------------------
if [ "$COSTS" != 1 ]; then exit 0; fi

# N keep-alive requests over 8 connections; fails unless all were 2xx. $3 (h1 or h2): HTTP/1.1,
# or h2c with H2_STREAMS streams at a time on each connection.
h1_requests() {
  local out proto=(--h1)
  if [ "${3:-h1}" = h2 ]; then proto=(-m"$H2_STREAMS"); fi
  out=$(taskset -c "$LOADGEN_CPU" h2load "${proto[@]}" -n"$1" -c8 -t1 "${AUTH[@]}" "$2")
  if ! grep -qE "^status codes: $1 2xx" <<< "$out"; then echo "h2load ${proto[*]} saw failures for $2:" >&2; echo "$out" >&2; return 1; fi
}

# The Ir total of the newest callgrind dump of process $1 (in $WORK/cg.$1.*).
last_dump_ir() {
  local file
  file=$(ls -t "$WORK"/cg."$1".* 2>/dev/null | head -1)
  awk '/^(summary|totals):/ { print $2; exit }' "$file"
}

# User-space instructions per request of the server behind $2, running as process $1 under
# callgrind: counters zeroed, N requests, dump; zeroed, 2N requests, dump; (Ir(2N) - Ir(N)) / N.
instructions_per_request() {
  local pid=$1 url=$2 proto=${3:-h1} ir1 ir2
  h1_requests 200 "$url" "$proto"
  callgrind_control -z "$pid" > /dev/null
  h1_requests "$COST_REQUESTS" "$url" "$proto"
  callgrind_control -d "$pid" > /dev/null
  ir1=$(last_dump_ir "$pid")
  callgrind_control -z "$pid" > /dev/null
  h1_requests $((2 * COST_REQUESTS)) "$url" "$proto"
  callgrind_control -d "$pid" > /dev/null
  ir2=$(last_dump_ir "$pid")
  awk -v a="$ir1" -v b="$ir2" -v n="$COST_REQUESTS" 'BEGIN { printf "%.0f", (b - a) / n }'
}

# Syscalls per request of process $1 (every thread) while it serves N requests at $2.
syscalls_per_request() {
  local pid=$1 url=$2 proto=${3:-h1} strace_pid total
  h1_requests 200 "$url" "$proto"
  strace -c -f -q -o "$WORK/strace.$pid" -p "$pid" &
  strace_pid=$!
  sleep 1   # strace attaches to every thread before the first request is sent
  h1_requests "$COST_REQUESTS" "$url" "$proto"
  kill -INT "$strace_pid"; wait "$strace_pid" 2>/dev/null || true
  # The total line: % time, seconds, usecs/call, calls, [errors,] "total".
  total=$(awk '$NF == "total" { print $4 }' "$WORK/strace.$pid")
  if [ -n "${CG_KEEP:-}" ]; then mkdir -p "$CG_KEEP"; cp "$WORK/strace.$pid" "$CG_KEEP/strace.$pid"; fi
  awk -v t="$total" -v n="$COST_REQUESTS" 'BEGIN { printf "%.1f", t / n }'
}

# Waits (bounded: 120 s; valgrind starts slowly) until $1 answers 200 with the token.
wait_200() {
  for _ in $(seq 600); do
    if [ "$(curl -s -o /dev/null -w '%{http_code}' "${AUTH[@]}" "$1" 2>/dev/null)" = 200 ]; then return 0; fi
    sleep 0.2
  done
  echo "no 200 from $1 under valgrind" >&2
  return 1
}

cc -shared -fPIC -O2 -o "$WORK/valgrind-sigsuspend.so" scripts/bench/valgrind-sigsuspend.c -ldl
CG=(env LD_PRELOAD="$WORK/valgrind-sigsuspend.so" valgrind --tool=callgrind --callgrind-out-file="$WORK/cg.%p.out")
# This valgrind cannot read the DWARF 5 debug information Swift writes ("Possibly corrupted
# debuginfo file"), so the Swift servers run under it as copies without it (symbols stay).
strip --strip-debug -o "$WORK/relay.cg" "$RELAY_BIN"
strip --strip-debug -o "$WORK/gatehouse.cg" "$GATEHOUSE"
COST_ROWS=()
declare -A INSTR=() SYSC=() INSTR_H2=() SYSC_H2=()
# The URL the next cost_row also measures h2c at (empty: HTTP/1.1 only), on the normally running
# server; its callgrind copy answers h2c at that port + CG_OFFSET.
H2_COST_URL=

# One row: $1 label, $2 URL, $3 pid of the server running normally (for strace), then the
# command that starts the same server under callgrind, answering at $2's port + CG_OFFSET.
cost_row() {
  local label=$1 url=$2 pid=$3 cg_url cg_pid; shift 3
  cg_url=$(sed -E "s/:([0-9]+)\//:$(( $(sed -E 's/.*:([0-9]+)\/.*/\1/' <<< "$url") + CG_OFFSET ))\//" <<< "$url")
  echo "costs: $label" >&2
  SYSC[$label]=$(syscalls_per_request "$pid" "$url")
  if [ -n "$H2_COST_URL" ]; then SYSC_H2[$label]=$(syscalls_per_request "$pid" "$H2_COST_URL" h2); fi
  taskset -c "$SERVER_CPU" "${CG[@]}" "$@" > /dev/null 2> "$WORK/cg-$RANDOM.log" &
  cg_pid=$!
  wait_200 "$cg_url"
  INSTR[$label]=$(instructions_per_request "$cg_pid" "$cg_url")
  if [ -n "$H2_COST_URL" ]; then
    INSTR_H2[$label]=$(instructions_per_request "$cg_pid" \
      "$(sed -E "s/:([0-9]+)\//:$(( $(sed -E 's/.*:([0-9]+)\/.*/\1/' <<< "$H2_COST_URL") + CG_OFFSET ))\//" <<< "$H2_COST_URL")" h2)
  fi
  if [ -n "${CG_KEEP:-}" ]; then  # the 2N window's profile, for callgrind_annotate
    mkdir -p "$CG_KEEP"
    cp "$(ls -t "$WORK"/cg."$cg_pid".* | head -1)" "$CG_KEEP/$(tr -c 'A-Za-z0-9\n' '-' <<< "$label").callgrind"
  fi
  kill -9 "$cg_pid" 2>/dev/null || true
  wait "$cg_pid" 2>/dev/null || true
  COST_ROWS+=("$label")
}

# nginx as one process (no master) and HAProxy on the callgrind ports.
mkdir -p "$WORK/proxy-cg/logs"
sed -E -e "s/^daemon off;/daemon off;\nmaster_process off;/" -e "s/listen 127.0.0.1:$NGX;/listen 127.0.0.1:$((NGX + CG_OFFSET));/" \
  -e "s/listen 127.0.0.1:$NGX_H2 http2;/listen 127.0.0.1:$((NGX_H2 + CG_OFFSET)) http2;/" -e "/listen 127.0.0.1:$NGX_TLS ssl http2;/d" -e "s#$WORK/proxy/nginx.pid#$WORK/proxy-cg/nginx.pid#" "$WORK/proxy/nginx.conf" > "$WORK/proxy-cg/nginx.conf"
sed -E -e "s/bind 127.0.0.1:$HA\$/bind 127.0.0.1:$((HA + CG_OFFSET))/" -e "s/bind 127.0.0.1:$HA_H2 proto h2/bind 127.0.0.1:$((HA_H2 + CG_OFFSET)) proto h2/" -e "/bind 127.0.0.1:$HA_TLS ssl/d" "$WORK/haproxy.cfg" > "$WORK/haproxy-cg.cfg"
NGINX_WORKER=$(pgrep -P "${NGINX_PIDS[1]}" | head -1)

cost_row "SwiftNIO byte relay (floor)" "http://127.0.0.1:$RELAY/" "$RELAY_PID" "$WORK/relay.cg" $((RELAY + CG_OFFSET)) "$UP"
H2_COST_URL="http://127.0.0.1:$NGX_H2/"
cost_row "nginx reverse proxy, no token check" "http://127.0.0.1:$NGX/" "$NGINX_WORKER" \
  nginx -p "$WORK/proxy-cg" -c nginx.conf -e "$WORK/proxy-cg/error.log"
H2_COST_URL="http://127.0.0.1:$HA_H2/"
cost_row "HAProxy 2.6 jwt_verify, every request" "http://127.0.0.1:$HA/" "$HAPROXY_PID" haproxy -db -f "$WORK/haproxy-cg.cfg"
for pair in "cached|Gatehouse, one token reused (cache)" "nocache|Gatehouse, cache off (verify each)" \
  "cached-noassert|Gatehouse, no assertion, cache" "nocache-noassert|Gatehouse, no assertion, cache off" \
  "cached-traced|Gatehouse, cache, tracing on (ratio 1)"; do
  config=${pair%%|*}
  dir="$WORK/gatehouse-$config"
  # A second config on the callgrind ports, with its own key folder.
  mkdir -p "$dir-cg"
  cp -r "$dir/tenants" "$dir-cg/"
  sed -E -e "s/127.0.0.1:$GH\"/127.0.0.1:$((GH + CG_OFFSET))\"/" -e "s/127.0.0.1:$GH_ADMIN\"/127.0.0.1:$((GH_ADMIN + CG_OFFSET))\"/" \
    "$dir/gatehouse.yaml" > "$dir-cg/gatehouse.yaml"
  start_gatehouse "$config"
  H2_COST_URL=
  if [ "$config" = cached ] && [ -n "$GATEHOUSE_H2C_URL" ]; then H2_COST_URL="http://127.0.0.1:$GH/t/bench/"; fi
  cost_row "${pair#*|}" "http://127.0.0.1:$GH/t/bench/" "$GATEHOUSE_PID" "$WORK/gatehouse.cg" serve --config "$dir-cg/gatehouse.yaml"
done
stop_gatehouse

echo
echo "Per request, HTTP/1.1 keep-alive (h2load --h1 -c8): user-space instructions (callgrind, (Ir(2N) - Ir(N)) / N, N = $COST_REQUESTS) and syscalls (strace -c -f, N requests)"
echo
printf '| %-38s | %16s | %11s | %17s |\n' "server" "instructions/req" "vs floor" "syscalls/req"
printf '| %-38s | %16s | %11s | %17s |\n' "$(rule 38)" "$(rule 15):" "$(rule 10):" "$(rule 16):"
floor=${INSTR["SwiftNIO byte relay (floor)"]}
for label in "${COST_ROWS[@]}"; do
  printf '| %-38s | %16s | %11s | %17s |\n' "$label" "${INSTR[$label]}" "$(ratio "${INSTR[$label]}" "$floor")" "${SYSC[$label]}"
done

echo
echo "Per request, h2c (h2load -c8 -m$H2_STREAMS): user-space instructions and syscalls, measured as above"
echo
printf '| %-38s | %16s | %11s | %17s |\n' "server" "instructions/req" "vs HTTP/1.1" "syscalls/req"
printf '| %-38s | %16s | %11s | %17s |\n' "$(rule 38)" "$(rule 15):" "$(rule 10):" "$(rule 16):"
for label in "${COST_ROWS[@]}"; do
  [ -n "${INSTR_H2[$label]:-}" ] || continue
  printf '| %-38s | %16s | %11s | %17s |\n' "$label" "${INSTR_H2[$label]}" "$(ratio "${INSTR_H2[$label]}" "${INSTR[$label]}")" "${SYSC_H2[$label]}"
done
