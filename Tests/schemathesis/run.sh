#!/usr/bin/env bash
# Schemathesis run against a live Gatehouse admin listener: every operation of the OpenAPI
# document it serves at GET /admin/v1/openapi.json, all checks, bounded and seeded.
#
#   Tests/schemathesis/run.sh BASE_URL OPERATOR_TOKEN
#   Tests/schemathesis/run.sh http://127.0.0.1:9090 "$(cat /tmp/gatehouse-demo-1234/operator-token)"
#
# BASE_URL is the admin listener (scheme://host:port, no path). It must be a test instance:
# the run creates an admin key named "schemathesis" for the tenant, revokes keys, registers and
# deletes an IdP named $GATEHOUSE_ST_NEW_IDP, revokes sessions, and calls POST /admin/v1/reload.
#
# Before the run it reads real identifiers from the API (curl) so that requests reach past 404s;
# each can be forced from the environment instead:
#   GATEHOUSE_ST_TENANT          tenant for every {t}                    default acme
#   GATEHOUSE_ST_IDP             existing IdP for GET .../idps/{name}    default the tenant's first IdP
#   GATEHOUSE_ST_NEW_IDP         IdP that PUT registers, DELETE removes  default schemathesis-idp
#   GATEHOUSE_ST_KEY_ID          key id for DELETE .../keys/{id}         default a key created now
#   GATEHOUSE_ST_SESSION_HEADER  \ bound session for DELETE               default the tenant's first
#   GATEHOUSE_ST_SESSION_ID      / .../sessions/{header}/{id}             session, else a made-up one
#   GATEHOUSE_ST_RUN_TOKEN       bearer token schemathesis sends        default OPERATOR_TOKEN
#       (e.g. a tenant admin key, to fuzz as a tenant admin; preparation still uses the operator)
#   GATEHOUSE_ST_JWKS_URI, GATEHOUSE_ST_DISCOVERY_URL   URLs put into PUT bodies (hooks.py);
#       default: the first IdP's discovery document and its jwks_uri when they are on loopback
# Knobs:
#   ST_MAX_EXAMPLES (25)   test cases per operation and phase (--max-examples)
#   ST_SEED (1)            --seed; the same seed against the same state sends the same requests
#   ST_MAX_TIME (unset)    --max-time: a budget that fuzzing and stateful testing then spend in
#                          full (they repeat until it is used up)
#   ST_TIMEOUT (600)       hard wall-clock limit for the whole schemathesis process (timeout(1))
#   ST_CHECKS (all)        --checks
#   ST_PHASES (unset)      --phases, e.g. coverage,fuzzing (default: all four)
#   ST_BASELINE (unset)    --baseline FILE: failures recorded there are accepted
#   ST_REPORT_DIR (a new temporary directory)   JSON and JUnit reports go there
#   ST_EXTRA_ARGS          more arguments for `st run`, split on spaces
#
# Exit status: schemathesis' own — 0 no failures, 1 failures found (checks failed, or a warning
# listed in warnings.fail-on), 2 the run could not do its job (configuration or schema error, API
# unreachable, nothing tested), 130 interrupted; 124 when ST_TIMEOUT ran out; 3 for a usage error
# or a failed preparation step here. The last line is "schemathesis: N passed, N failed", counted
# in API operations.
set -euo pipefail

if [[ $# -ne 2 ]]; then
    sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
    exit 3
fi
BASE_URL=${1%/}
OPERATOR_TOKEN=$2
HERE=$(cd "$(dirname "$0")" && pwd)
SCHEMATHESIS_VERSION=4.32.5
PYTHON=${PYTHON:-python3}

say() { printf 'run.sh: %s\n' "$*" >&2; }

# --- schemathesis itself ------------------------------------------------------------------
if ! "$PYTHON" -c 'import schemathesis' 2>/dev/null; then
    say "installing schemathesis==$SCHEMATHESIS_VERSION from PyPI"
    "$PYTHON" -m pip install --quiet "schemathesis==$SCHEMATHESIS_VERSION" >&2 || { say "pip install failed"; exit 3; }
fi
installed=$("$PYTHON" -c 'import importlib.metadata as m; print(m.version("schemathesis"))')
[[ $installed == "$SCHEMATHESIS_VERSION" ]] || say "note: schemathesis $installed installed; this runner was written for $SCHEMATHESIS_VERSION"

# --- wait for the listener, then discover identifiers -------------------------------------
api() {  # api METHOD PATH [BODY] -> body on stdout; fails on a non-2xx answer
    local args=(-sS --fail --max-time 10 -X "$1" -H "Authorization: Bearer $OPERATOR_TOKEN")
    [[ $# -ge 3 ]] && args+=(-H 'Content-Type: application/json' --data "$3")
    curl "${args[@]}" "$BASE_URL$2"
}
json() {  # json EXPR < document: evaluates EXPR with `d` bound to the document; prints "" on any error
    "$PYTHON" -c 'import json, sys
try:
    d = json.load(sys.stdin); v = eval(sys.argv[1])
    print("" if v is None else v)
except Exception:
    print("")' "$1"
}
is_loopback_url() { [[ $1 =~ ^https?://(127\.[0-9.]+|localhost|\[::1\])(:[0-9]+)?(/|$) ]]; }

for _ in $(seq 1 60); do
    curl -sS --fail --max-time 2 -o /dev/null "$BASE_URL/admin/v1/openapi.json" 2>/dev/null && break
    sleep 0.5
done
curl -sS --fail --max-time 5 -o /dev/null "$BASE_URL/admin/v1/openapi.json" || { say "no OpenAPI document at $BASE_URL/admin/v1/openapi.json"; exit 2; }

export GATEHOUSE_ST_TENANT=${GATEHOUSE_ST_TENANT:-acme}
export GATEHOUSE_ST_NEW_IDP=${GATEHOUSE_ST_NEW_IDP:-schemathesis-idp}
t=$GATEHOUSE_ST_TENANT
api GET "/admin/v1/tenants/$t/idps" > /dev/null || { say "tenant $t is not reachable with this token"; exit 3; }

idps=$(api GET "/admin/v1/tenants/$t/idps" || true)
if [[ -z ${GATEHOUSE_ST_IDP:-} ]]; then
    GATEHOUSE_ST_IDP=$(json 'd["items"][0]["name"]' <<<"$idps")
fi
export GATEHOUSE_ST_IDP=${GATEHOUSE_ST_IDP:-dev-idp}

if [[ -z ${GATEHOUSE_ST_DISCOVERY_URL:-} || -z ${GATEHOUSE_ST_JWKS_URI:-} ]]; then
    discovery=$(json '[i.get("discovery_url") for i in d["items"] if i.get("discovery_url")][0]' <<<"$idps")
    if [[ -n $discovery ]] && is_loopback_url "$discovery"; then
        jwks=$(curl -sS --fail --max-time 5 "$discovery" 2>/dev/null | json 'd["jwks_uri"]')
        GATEHOUSE_ST_DISCOVERY_URL=${GATEHOUSE_ST_DISCOVERY_URL:-$discovery}
        if [[ -n $jwks ]] && is_loopback_url "$jwks"; then GATEHOUSE_ST_JWKS_URI=${GATEHOUSE_ST_JWKS_URI:-$jwks}; fi
    fi
fi
# hooks.py falls back to a closed loopback port for whichever is still unset.
export GATEHOUSE_ST_DISCOVERY_URL=${GATEHOUSE_ST_DISCOVERY_URL:-}
export GATEHOUSE_ST_JWKS_URI=${GATEHOUSE_ST_JWKS_URI:-}
for url in "$GATEHOUSE_ST_DISCOVERY_URL" "$GATEHOUSE_ST_JWKS_URI"; do
    [[ -z $url ]] || is_loopback_url "$url" || { say "refusing non-loopback IdP URL $url"; exit 3; }
done

# Register $GATEHOUSE_ST_NEW_IDP beforehand (when a loopback key set is known) so that GET and
# DELETE on it find something; the run's own PUTs rarely pass Gatehouse's semantic validation.
if [[ -n $GATEHOUSE_ST_JWKS_URI ]]; then
    body=$(printf '{"issuer":"https://schemathesis.invalid/%s","jwks_uri":"%s","allowed_clients":["schemathesis"]}' \
        "$GATEHOUSE_ST_NEW_IDP" "$GATEHOUSE_ST_JWKS_URI")
    api PUT "/admin/v1/tenants/$t/idps/$GATEHOUSE_ST_NEW_IDP" "$body" > /dev/null \
        || say "note: could not pre-register IdP $GATEHOUSE_ST_NEW_IDP"
fi

if [[ -z ${GATEHOUSE_ST_KEY_ID:-} ]]; then
    GATEHOUSE_ST_KEY_ID=$(api POST "/admin/v1/tenants/$t/keys" '{"name":"schemathesis"}' | json 'd["id"]') \
        || true
    [[ -n $GATEHOUSE_ST_KEY_ID ]] || { say "could not create an admin key for $t"; exit 3; }
fi
export GATEHOUSE_ST_KEY_ID

if [[ -z ${GATEHOUSE_ST_SESSION_HEADER:-} || -z ${GATEHOUSE_ST_SESSION_ID:-} ]]; then
    sessions=$(api GET "/admin/v1/tenants/$t/sessions?limit=1" || true)
    GATEHOUSE_ST_SESSION_HEADER=${GATEHOUSE_ST_SESSION_HEADER:-$(json 'd["items"][0]["header"]' <<<"$sessions")}
    GATEHOUSE_ST_SESSION_ID=${GATEHOUSE_ST_SESSION_ID:-$(json 'd["items"][0]["id"]' <<<"$sessions")}
fi
export GATEHOUSE_ST_SESSION_HEADER=${GATEHOUSE_ST_SESSION_HEADER:-mcp-session-id}
export GATEHOUSE_ST_SESSION_ID=${GATEHOUSE_ST_SESSION_ID:-schemathesis-no-such-session}

say "tenant=$t idp=$GATEHOUSE_ST_IDP new_idp=$GATEHOUSE_ST_NEW_IDP key_id=$GATEHOUSE_ST_KEY_ID session=$GATEHOUSE_ST_SESSION_HEADER/$GATEHOUSE_ST_SESSION_ID"
say "discovery_url=${GATEHOUSE_ST_DISCOVERY_URL:-(closed port)} jwks_uri=${GATEHOUSE_ST_JWKS_URI:-(closed port)}"

# --- the run -------------------------------------------------------------------------------
REPORT_DIR=${ST_REPORT_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-schemathesis.XXXXXX")}
mkdir -p "$REPORT_DIR"
args=(
    run "$BASE_URL/admin/v1/openapi.json"
    --url "$BASE_URL"                      # the document's servers entry names 127.0.0.1:9090
    --header "Authorization: Bearer ${GATEHOUSE_ST_RUN_TOKEN:-$OPERATOR_TOKEN}"
    --checks "${ST_CHECKS:-all}"
    --max-examples "${ST_MAX_EXAMPLES:-25}"
    --seed "${ST_SEED:-1}"
    --workers 1
    --continue-on-failure
    --request-timeout 10
    --wait-for-schema 30
    --no-color
    --report json,junit
    --report-dir "$REPORT_DIR"
    --report-json-path "$REPORT_DIR/report.json"
    --report-junit-path "$REPORT_DIR/junit.xml"
)
[[ -n ${ST_MAX_TIME:-} ]] && args+=(--max-time "$ST_MAX_TIME")
[[ -n ${ST_PHASES:-} ]] && args+=(--phases "$ST_PHASES")
[[ -n ${ST_BASELINE:-} ]] && args+=(--baseline "$ST_BASELINE")
# shellcheck disable=SC2206
[[ -n ${ST_EXTRA_ARGS:-} ]] && args+=($ST_EXTRA_ARGS)

export SCHEMATHESIS_HOOKS="$HERE/hooks.py"
status=0
# Run from the report directory so that nothing lands in the caller's working directory.
(cd "$REPORT_DIR" && timeout --signal=INT --kill-after=15 "${ST_TIMEOUT:-600}" \
    "$PYTHON" -c 'import sys; from schemathesis.cli import schemathesis; sys.argv[0] = "st"; schemathesis()' \
    --config-file "$HERE/schemathesis.toml" "${args[@]}") || status=$?

# --- summary -------------------------------------------------------------------------------
echo
echo "=== Gatehouse admin API vs its OpenAPI document (schemathesis $installed, seed ${ST_SEED:-1}) ==="
if [[ -f $REPORT_DIR/report.json ]]; then
    "$PYTHON" - "$REPORT_DIR/report.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
ops, cases = r["operations"], r["test_cases"]
failed_ops = sorted({op for f in r["failures"] for op in f["operations"]})
print(f"operations: {ops['tested']} tested of {ops['selected']} selected; "
      f"test cases: {cases['generated']} generated, {cases['with_failures']} failing, "
      f"{cases['unique_failures']} unique failures; {r['running_time']:.1f}s; "
      f"stopped: {r['stop_reason']}; exit {r['exit_code']}")
if r.get("baseline"):
    print(f"baseline: {json.dumps(r['baseline'])[:300]}")
for phase, p in r["phases"].items():
    print(f"  phase {phase}: {p['status']}" + (f" ({p['skip_reason']})" if p.get("skip_reason") else ""))
for f in r["failures"]:
    print(f"  {f['code']} {f['title']} x{f['count']}:")
    for op in f["operations"]:
        print(f"      {op}")
for e in r["errors"]:
    print(f"  error: {json.dumps(e)[:300]}")
for name, items in r["warnings"].items():
    if items:
        print(f"  warning {name}: {', '.join(map(str, items))}")
print(f"schemathesis: {ops['tested'] - len(failed_ops)} passed, {len(failed_ops)} failed")
PY
else
    echo "no report written"
    echo "schemathesis: 0 passed, 1 failed"
fi
echo "reports: $REPORT_DIR (report.json, junit.xml)"
[[ $status -eq 124 ]] && say "stopped by ST_TIMEOUT=${ST_TIMEOUT:-600}s"
exit "$status"
