using System.CommandLine;
using System.Diagnostics;
using Zk.Bench.Load;
using Zk.Bench.Reporting;
using Zk.Bench.Wire;
using Zk.Embedded;
using Zk.Embedded.Api;
using Zk.Embedded.Recipes;
using Zk.Embedded.Wire.Client;

namespace Zk.Bench.Lock;

/// <summary>
/// <c>lock</c>: the lock recipe under contention. N contenders, each its own session, acquire and release one lock
/// path in a loop: a handoff is the holder's delete, the next waiter's watch event, its getChildren, and the next
/// acquire's create. Measured in process (a durable peer with forceSync) and over the wire against our <c>zk</c>
/// program and Apache ZooKeeper side by side (each a process with its dataDir on the same disk), with the same recipe
/// (<see cref="DistributedLock"/>, Curator's protocol) through our wire client.
/// </summary>
internal static class LockCommand
{
    private const string LockPath = "/bench-lock";

    public static Command Define()
    {
        var contenders = BenchOption.List("--contenders", "8,64", "contender counts, one row each per system", ParseCount, "counts from 1 to 512");
        var seconds = BenchOption.Int("--seconds", 5, 1, 600, "length of each measurement");
        var warmup = BenchOption.Int("--warmup-seconds", 1, 0, 60, "unmeasured contention before each measurement");
        var zkDll = BenchOption.ZkDll();
        var wire = BenchOption.Flag("--wire", true, "also measure over the wire: our zk program and Apache ZooKeeper");
        var command = new Command("lock", "lock acquire/release handoffs per second under contention: in process, and ours vs Apache ZooKeeper over the wire")
        {
            contenders, seconds, warmup, zkDll, wire,
        };
        command.SetAction((r, _) => RunAsync(r.GetValue(contenders)!, r.GetValue(seconds), r.GetValue(warmup), r.GetValue(zkDll)!, r.GetValue(wire)));
        return command;
    }

    private static int? ParseCount(string text) => int.TryParse(text, out var n) && n is >= 1 and <= 512 ? n : null;

    private static async Task RunAsync(int[] contenders, int seconds, int warmup, string zkDll, bool wire)
    {
        if (wire && !File.Exists(zkDll))
            throw new ArgumentException($"--zk-dll {zkDll} does not exist: build Zk.Server (dotnet build -c Release Zk.Server) or pass its path.");
        Console.WriteLine(MachineInfo.Describe());
        var root = Path.Combine(Path.GetTempPath(), $"zk-bench-lock-{Environment.ProcessId}");
        Directory.CreateDirectory(root);
        Console.WriteLine($"> one lock path, each contender its own session; dataDirs under {root}, forceSync=yes; {seconds} s per row after a {warmup} s warm-up");
        Console.WriteLine();
        var table = new MarkdownTable("system", "contenders", "handoffs", "handoffs/s", "acquire p50 ms", "acquire p99 ms", "acquire max ms");
        try
        {
            await using (var peer = await ZkPeer.StartAsync(new ZkPeerOptions { DataDir = Path.Combine(root, "in-process") }).ConfigureAwait(false))
            {
                foreach (var n in contenders)
                    await MeasureAsync(table, "Zk.Embedded (in process)", n, () => peer.ConnectAsync(), seconds, warmup).ConfigureAwait(false);
            }

            if (wire)
            {
                await using var ours = await ServerProcess.StartOursAsync(zkDll, root).ConfigureAwait(false);
                await using var apache = await ServerProcess.StartApacheAsync(root).ConfigureAwait(false);
                var cell = 0;
                foreach (var n in contenders)
                {
                    // Alternate who goes first, so neither always runs on a disk the other just filled.
                    foreach (var server in cell++ % 2 == 0 ? new[] { ours, apache } : [apache, ours])
                    {
                        var connect = server.EndPoint.ToString();
                        await MeasureAsync(table, server.Name + " over the wire", n, async () => await ZkClient.ConnectAsync(connect).ConfigureAwait(false), seconds, warmup).ConfigureAwait(false);
                    }
                }
            }
        }
        finally
        {
            Console.Write(table);
            Directory.Delete(root, recursive: true);
        }
    }

    private static async Task MeasureAsync(MarkdownTable table, string system, int contenders, Func<ValueTask<IZooKeeper>> connect, int seconds, int warmup)
    {
        var sessions = new IZooKeeper[contenders];
        for (var i = 0; i < contenders; i++)
            sessions[i] = await connect().ConfigureAwait(false);
        try
        {
            await ContendAsync(sessions, TimeSpan.FromSeconds(warmup)).ConfigureAwait(false);
            var started = Stopwatch.GetTimestamp();
            var latency = await ContendAsync(sessions, TimeSpan.FromSeconds(seconds)).ConfigureAwait(false);
            var elapsed = Stopwatch.GetElapsedTime(started).TotalSeconds;
            table.Add(system, Format.Count(contenders), Format.Count(latency.Count), Format.Count(latency.Count / elapsed),
                Millis(latency.ValueAtPercentile(50)), Millis(latency.ValueAtPercentile(99)), Millis(latency.Max));
            var progress = new MarkdownTable("system", "contenders", "handoffs/s");
            progress.Add(system, Format.Count(contenders), Format.Count(latency.Count / elapsed));
            Console.Error.Write(progress.ToString().Split('\n')[2] + "\n");
        }
        finally
        {
            foreach (var session in sessions)
                await session.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Every session acquires and releases until the time is up; returns the acquire latencies of all.</summary>
    private static async Task<LatencyHistogram> ContendAsync(IZooKeeper[] sessions, TimeSpan length)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(length.TotalSeconds * Stopwatch.Frequency);
        var histograms = await Task.WhenAll(sessions.Select(session => Task.Run(async () =>
        {
            var histogram = new LatencyHistogram();
            while (Stopwatch.GetTimestamp() < deadline)
            {
                var asked = Stopwatch.GetTimestamp();
                var lease = await session.AcquireLockAsync(LockPath).ConfigureAwait(false);
                histogram.Record(Stopwatch.GetTimestamp() - asked);
                await lease.ReleaseAsync().ConfigureAwait(false);
            }

            return histogram;
        }))).ConfigureAwait(false);
        var all = new LatencyHistogram();
        foreach (var histogram in histograms)
            all.Add(histogram);
        return all;
    }

    private static string Millis(long ticks) => Format.Fixed(ticks * 1000.0 / Stopwatch.Frequency, 2);
}
