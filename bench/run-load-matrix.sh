#!/usr/bin/env bash
# Runs the load matrix of docs/performance.md: get and set with 1, 8, 64 sessions, mix90 with 8 and 64, each in
# REPEATS separate processes (a fresh process per run shows the spread JIT and GC layout cause), then the memory
# figure. Prints Markdown; run from the repository root.
set -euo pipefail
REPEATS=${REPEATS:-3}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-10}
dotnet build -c Release bench/Zk.Bench >/dev/null
bench="dotnet bench/Zk.Bench/bin/Release/net10.0/Zk.Bench.dll"

first=1
for config in "get 1" "get 8" "get 64" "set 1" "set 8" "set 64" "mix90 8" "mix90 64"; do
  set -- $config
  for _ in $(seq "$REPEATS"); do
    out=$($bench load --workload "$1" --sessions "$2" --seconds "$SECONDS_PER_RUN")
    if [ $first = 1 ]; then
      echo "$out" | head -n 4   # conditions line, blank, table header and rule
      first=0
    else
      echo "$out" | head -n 1 | sed 's/^> /<!-- /; s/$/ -->/' >&2   # conditions of each run, on stderr
    fi
    echo "$out" | sed -n 5p   # the run's row (the per-thread CPU table after it is left out here)
  done
done
echo
$bench memory --nodes 100000 --value-bytes 1024
