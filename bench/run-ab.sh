#!/usr/bin/env bash
# A/B: two builds of ours in one run, alternating; each wire round also runs Apache ZooKeeper.
set -u
# BEFORE: a worktree of the older commit (git worktree add ../before <commit>), AFTER: this checkout; both built with
# dotnet build -c Release Zk.Server and bench/Zk.Bench.
B=${BEFORE:?set BEFORE to the older checkout}; A=${AFTER:-$(cd "$(dirname "$0")/.." && pwd)}
BENCH_A="dotnet $A/bench/Zk.Bench/bin/Release/net10.0/Zk.Bench.dll"
BENCH_B="dotnet $B/bench/Zk.Bench/bin/Release/net10.0/Zk.Bench.dll"
for round in 1 2; do
  for who in before after; do
    if [ $who = before ]; then bench=$BENCH_B; dll=$B/Zk.Server/bin/Release/net10.0/zk.dll; else bench=$BENCH_A; dll=$A/Zk.Server/bin/Release/net10.0/zk.dll; fi
    echo "### round $round: $who (in-process)"
    for spec in "get 8" "set 1" "set 64" "mix90 64"; do set -- $spec
      $bench load --workload $1 --sessions $2 --seconds 4 2>/dev/null | grep -E "^\| (get|set|mix90) " | sed "s/^/$who /"
    done
    echo "### round $round: $who (wire, zk-dll $dll)"
    (cd $A && $BENCH_A wire --compare true --zk-dll $dll --shapes 8x64 --workloads get,set,mix90 --repeats 1 --seconds 4 --warmup-seconds 2 2>/dev/null | grep -E "^\|" | sed "s/^/$who /")
  done
done
