using System.CommandLine;
using Zk.Bench.Reporting;
using Zk.Embedded;
using Zk.Embedded.Api;
using Zk.Transport.InMemory;

namespace Zk.Bench.Ensemble;

/// <summary>
/// <c>ensemble</c>: 3-voter ensembles in this process over the in-memory transport, next to the standalone peer in
/// the same run. Writes (closed-loop setData, each writer its own session and znode) on the standalone peer (durable,
/// and in memory), a durable ensemble (each member its own dataDir, fsync before it acknowledges) and a non-durable
/// one, with writers spread over the members or all on the leader; reads on a follower against reads on the
/// standalone peer; and the time from a leader's failure to the first acknowledged write, visible (a crash) and
/// silent (a partition).
/// </summary>
internal static class EnsembleCommand
{
    private const int Voters = 3;

    public static Command Define()
    {
        var writers = BenchOption.List("--writers", "1,8,64", "writer (and reader) counts, one row each per system", ParseCount, "counts from 1 to 512");
        var seconds = BenchOption.Int("--seconds", 5, 1, 600, "length of each throughput measurement");
        var warmup = BenchOption.Int("--warmup-seconds", 1, 0, 60, "unmeasured load before each measurement");
        var valueBytes = BenchOption.Int("--value-bytes", 1024, 0, 1 << 20, "bytes of each znode's data");
        var failovers = BenchOption.Int("--failovers", 5, 0, 100, "failovers per kind and tickTime (0: none)");
        var ticks = BenchOption.List("--failover-ticks", "50,2000", "tickTimes of the failover runs (50: the fixture's default; 2000: ZooKeeper's)", ParseTick, "milliseconds from 10 to 10000");
        var parts = BenchOption.Names("--parts", "writes,reads,failover", "what to measure", "writes", "reads", "failover");
        var systems = BenchOption.Names("--systems", "standalone,durable,non-durable", "which systems the writes and reads measure", "standalone", "durable", "non-durable");
        var forceSync = BenchOption.Flag("--force-sync", true, "zoo.cfg forceSync of the durable standalone peer and ensemble members (false: their logs are written but not fsynced, which separates the disk's wait from the logs' CPU)");
        var command = new Command("ensemble", "3-voter in-process ensembles (durable and not) vs the standalone peer: writes, follower reads, failover time")
        {
            writers, seconds, warmup, valueBytes, failovers, ticks, parts, systems, forceSync,
        };
        command.SetAction((r, _) => RunAsync(r.GetValue(writers)!, r.GetValue(seconds), r.GetValue(warmup), r.GetValue(valueBytes), r.GetValue(failovers), r.GetValue(ticks)!, r.GetValue(parts)!, r.GetValue(systems)!, r.GetValue(forceSync)));
        return command;
    }

    private static int? ParseCount(string text) => int.TryParse(text, out var n) && n is >= 1 and <= 512 ? n : null;

    private static int? ParseTick(string text) => int.TryParse(text, out var n) && n is >= 10 and <= 10_000 ? n : null;

    private static async Task RunAsync(int[] counts, int seconds, int warmup, int valueBytes, int failovers, int[] ticks, string[] parts, string[] systems, bool forceSync)
    {
        Console.WriteLine(MachineInfo.Describe());
        Console.WriteLine($"> {Voters} voters on the in-memory transport (tickTime 50 ms unless said), sessions in process; {valueBytes} B values; {seconds} s per row after a {warmup} s warm-up");
        Console.WriteLine();
        var root = Directory.CreateTempSubdirectory("zk-bench-ensemble-").FullName;
        var value = new byte[valueBytes];
        Random.Shared.NextBytes(value);
        var writes = new MarkdownTable("system", "writers on", "writers", "writes", "writes/s", "p50 µs", "p99 µs", "max µs", "ConnectionLoss", "B/op", "GC %", "CPU µs/op");
        var reads = new MarkdownTable("system", "readers on", "readers", "reads", "reads/s", "p50 µs", "p99 µs", "max µs", "ConnectionLoss", "B/op", "GC %", "CPU µs/op");
        var failover = Failover.NewTable();
        try
        {
            if (parts.Contains("writes") || parts.Contains("reads"))
                await MeasureThroughputAsync(writes, reads, counts, parts, systems, root, value, seconds, warmup, forceSync).ConfigureAwait(false);
            if (parts.Contains("failover") && failovers > 0)
            {
                foreach (var tick in ticks.Select(ms => TimeSpan.FromMilliseconds(ms)))
                {
                    await Failover.MeasureAsync(failover, silent: false, tick, new InMemoryEnsembleOptions().SyncLimit, failovers).ConfigureAwait(false);
                    await Failover.MeasureAsync(failover, silent: true, tick, new InMemoryEnsembleOptions().SyncLimit, failovers).ConfigureAwait(false);
                }
            }
        }
        finally
        {
            Print("Writes (closed loop, each writer its own session and znode):", writes, parts.Contains("writes"));
            Print("Reads (closed loop getData, each reader its own session and znode):", reads, parts.Contains("reads"));
            Print("From the leader's failure to the first write acknowledged on a surviving follower (retrying on ConnectionLoss; a fresh durable ensemble each run):", failover, parts.Contains("failover") && failovers > 0);
            if (Members.RefusedConnects > 0)
                Console.WriteLine($"Session opens refused with ConnectionLoss while every member served with one leader (retried): {Members.RefusedConnects}");
            Directory.Delete(root, recursive: true);
        }
    }

    private static void Print(string title, MarkdownTable table, bool measured)
    {
        if (!measured)
            return;
        Console.WriteLine(title);
        Console.WriteLine();
        Console.Write(table);
        Console.WriteLine();
    }

    private static async Task MeasureStandaloneAsync(MarkdownTable writes, MarkdownTable reads, int[] counts, string[] parts, string? dataDir, byte[] value, int seconds, int warmup, bool forceSync)
    {
        var system = dataDir is null ? "standalone (in memory)" : $"standalone (durable, forceSync {(forceSync ? "yes" : "no")})";
        await using var peer = await ZkPeer.StartAsync(new ZkPeerOptions { DataDir = dataDir, ForceSync = forceSync }).ConfigureAwait(false);
        ValueTask<IZooKeeper> Connect(int _) => peer.ConnectAsync();
        foreach (var n in counts)
        {
            if (parts.Contains("writes"))
                await ClosedLoop.MeasureAsync(writes, system, "the peer", n, writes: true, Connect, value, seconds, warmup).ConfigureAwait(false);
            if (parts.Contains("reads"))
                await ClosedLoop.MeasureAsync(reads, system, "the peer", n, writes: false, Connect, value, seconds, warmup).ConfigureAwait(false);
        }
    }

    private static async Task MeasureThroughputAsync(MarkdownTable writes, MarkdownTable reads, int[] counts, string[] parts, string[] systems, string root, byte[] value, int seconds, int warmup, bool forceSync)
    {
        if (systems.Contains("standalone"))
        {
            await MeasureStandaloneAsync(writes, reads, counts, parts, Path.Combine(root, "standalone"), value, seconds, warmup, forceSync).ConfigureAwait(false);

            // The same peer without a dataDir: the baseline of the non-durable ensemble's writes.
            if (parts.Contains("writes"))
                await MeasureStandaloneAsync(writes, reads, counts, ["writes"], null, value, seconds, warmup, forceSync).ConfigureAwait(false);
        }

        foreach (var durable in new[] { true, false }.Where(d => systems.Contains(d ? "durable" : "non-durable")))
        {
            var system = $"{Voters} voters, {(durable ? forceSync ? "durable" : "durable, forceSync no" : "non-durable")}";
            var options = new InMemoryEnsembleOptions { Durable = durable };
            options = options with { Peer = options.Peer with { ForceSync = forceSync } };
            await using var ensemble = await InMemoryEnsemble.StartAsync(Voters, options).ConfigureAwait(false);
            var leader = await Members.WaitAllServingAsync(ensemble).ConfigureAwait(false);
            var ids = ensemble.Ids;
            ValueTask<IZooKeeper> Spread(int i) => Members.ConnectAsync(ensemble, _ => ids[i % ids.Count]);
            ValueTask<IZooKeeper> OnLeader(int _) => Members.ConnectAsync(ensemble, now => now);
            ValueTask<IZooKeeper> OnFollower(int _) => Members.ConnectAsync(ensemble, now => ids.First(id => id != now));
            foreach (var n in counts)
            {
                if (parts.Contains("writes"))
                {
                    await ClosedLoop.MeasureAsync(writes, system, $"all {Voters} (round robin)", n, writes: true, Spread, value, seconds, warmup).ConfigureAwait(false);
                    await ClosedLoop.MeasureAsync(writes, system, "the leader", n, writes: true, OnLeader, value, seconds, warmup).ConfigureAwait(false);
                }

                // Reads are local on any member and the same with or without a disk: measured once, on the durable one.
                if (durable && parts.Contains("reads"))
                    await ClosedLoop.MeasureAsync(reads, system, "a follower", n, writes: false, OnFollower, value, seconds, warmup).ConfigureAwait(false);
            }

            await Members.WaitAllServingAsync(ensemble, leader).ConfigureAwait(false);
        }
    }
}
