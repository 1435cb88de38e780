#!/usr/bin/env bash
# Durable writes (docs/performance.md, "Current figures": in-process durable writes and the wire comparison with Apache ZooKeeper):
#  1. in-process setData 1 KiB with 1, 8, 64 sessions on a durable peer (fresh temp dataDir, forceSync yes), each in
#     REPEATS separate processes, raw 4 KiB sync latency of the same directory measured before and after each;
#  2. over the wire, our zk and Apache ZooKeeper as separate processes started by the bench, interleaved:
#     1x1 and 8x64, get / set / mix90, 1 KiB values.
# Prints Markdown; run from the repository root. Everything stops by itself (time-bounded runs, servers stopped,
# temp directories deleted).
set -euo pipefail
REPEATS=${REPEATS:-2}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-10}
dotnet build -c Release bench/Zk.Bench >/dev/null
dotnet build -c Release Zk.Server >/dev/null
bench="dotnet bench/Zk.Bench/bin/Release/net10.0/Zk.Bench.dll"

echo "## in-process, durable"
for sessions in 1 8 64; do
  for _ in $(seq "$REPEATS"); do
    $bench load --durable true --workload set --sessions "$sessions" --seconds "$SECONDS_PER_RUN"
    echo
  done
done

echo "## over the wire"
$bench wire --compare true --shapes 1x1,8x64 --workloads get,set,mix90 \
  --seconds "$SECONDS_PER_RUN" --warmup-seconds 3 --repeats "$REPEATS"
