#!/usr/bin/env bash
# Runs the micro benchmarks: Benchmarks/ is a Swift package of its own (ordo-one/benchmark), built
# in release on first use into Benchmarks/.build; the main package's build is not touched.
# Usage: scripts/bench/micro.sh [--summary] [options of `swift package benchmark`]
#   scripts/bench/micro.sh                        every benchmark, one table of percentiles each
#   scripts/bench/micro.sh --filter 'Token.*'     a subset (regular expression on names)
#   scripts/bench/micro.sh list                   the benchmark names
#   scripts/bench/micro.sh --summary              every benchmark, then one line each (wall clock
#                                                 p50/p99, mallocs p50), as in BENCHMARKS.md; the
#                                                 full tables go to Benchmarks/.build/micro-results.md
set -euo pipefail
cd "$(dirname "$0")/../../Benchmarks"

if [ "${1:-}" != --summary ]; then
  exec swift package --allow-writing-to-package-directory benchmark "$@"
fi
shift
mkdir -p .build
RESULTS=.build/micro-results.md
swift package --allow-writing-to-package-directory benchmark --no-progress --format markdown --path stdout "$@" > "$RESULTS"
python3 - "$RESULTS" <<'PY'
import re, sys

# One "### name" section per benchmark, each with a markdown table of percentiles per metric.
rows, name, metrics = [], None, {}

def flush():
    if name is not None:
        rows.append((name, metrics))

for line in open(sys.argv[1], encoding="utf-8"):
    if line.startswith("### "):
        flush()
        name, metrics = line[4:].strip(), {}
    elif name is not None and line.startswith("| ") and not line.startswith("| Metric"):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        label = cells[0].rstrip(" *")
        metrics[label] = cells[1:]  # p0 p25 p50 p75 p90 p99 p100 samples
flush()

def metric(values, prefix):
    for label, cells in values.items():
        if label.startswith(prefix):
            unit = re.findall(r"\(([^()]*)\)$", label)
            return cells, (unit[0] if unit else "")
    return None, ""

print("| benchmark | wall clock p50 | wall clock p99 | mallocs p50 | samples |")
print("| --- | ---: | ---: | ---: | ---: |")
for name, values in rows:
    wall, unit = metric(values, "Time (wall clock)")
    mallocs, scale = metric(values, "Malloc (total)")
    if wall is None:
        continue
    malloc_text = "-" if mallocs is None else mallocs[2] + ({"K": " K", "M": " M"}.get(scale, ""))
    print(f"| {name} | {wall[2]} {unit} | {wall[5]} {unit} | {malloc_text} | {wall[7]} |")
PY
echo "(full tables: Benchmarks/$RESULTS)"
