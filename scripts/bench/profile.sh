#!/usr/bin/env bash
# A perf profile of Gatehouse under wrk load: the quick.sh set-up, recorded into /tmp/perf.data
# (or PERF_DATA). Usage: scripts/bench/profile.sh [seconds]   (needs a release build and perf)
#   perf report -i /tmp/perf.data --no-children --sort sym
set -euo pipefail
PERF_DATA="${PERF_DATA:-/tmp/perf.data}" exec "$(dirname "$0")/quick.sh" "$@"
