using System.Globalization;
using Zk.Bench.Reporting;
using Zk.Bench.Wire;

namespace Zk.Bench.EnsembleWire;

/// <summary>
/// The two graphs of the ZooKeeper paper (Hunt et al., USENIX ATC 2010) that operators know, for both systems:
/// throughput against the fraction of reads for ensembles of several sizes (its figure 5), and throughput over time
/// while a follower and then the leader fail and come back (its figure 8).
/// </summary>
internal static class PaperGraphs
{
    private const int Connections = 8, Inflight = 64;

    public static async Task ReadFractionsAsync(string zkDll, string root, int[] sizes, int[] fractions, int seconds, int warmup, string? charts)
    {
        var frames = WireFrames.Build(1024);
        var table = new MarkdownTable("system", "members", "reads %", "ops/s", "p50 µs", "p99 µs");
        var lines = new List<ChartLine>();
        Console.WriteLine($"> read fractions: {Connections} × {Inflight} spread over the members, {seconds} s after {warmup} s warm-up per point; load average {EnsembleWireCommand.LoadAverage()}");
        foreach (var size in sizes)
        {
            foreach (var ours in size % 2 == 1 ? new[] { true, false } : [false, true])
            {
                var dir = Path.Combine(root, $"reads{size}");
                await using var ensemble = ours
                    ? await EnsembleProcesses.StartOursAsync(zkDll, dir, size).ConfigureAwait(false)
                    : await EnsembleProcesses.StartApacheAsync(dir, size).ConfigureAwait(false);
                await WireRun.SetupAsync(ensemble.Clients[0], frames).ConfigureAwait(false);
                var points = new List<(double, double)>();
                foreach (var reads in fractions)
                {
                    var result = await WireRun.MeasureAsync(ensemble.Name, ensemble.Clients, frames, $"reads{reads}", Connections, Inflight, seconds, warmup, ensemble.CpuSeconds).ConfigureAwait(false);
                    points.Add((reads, result.OpsPerSecond));
                    table.Add(ensemble.Name, size.ToString(CultureInfo.InvariantCulture), reads.ToString(CultureInfo.InvariantCulture), Format.Count(result.OpsPerSecond),
                        Format.Micros(result.Latencies.ValueAtPercentile(50)), Format.Micros(result.Latencies.ValueAtPercentile(99)));
                    Console.Error.WriteLine($"{ensemble.Name}, {size} members, {reads} % reads: {result.OpsPerSecond:N0} ops/s");
                }

                lines.Add(new ChartLine($"{(ours ? "Zk.Embedded" : "Apache")}, {size} members", Array.IndexOf(sizes, size), points, Dashed: !ours));
            }
        }

        Console.WriteLine();
        Console.Write(table);
        Console.WriteLine($"> load average at the end {EnsembleWireCommand.LoadAverage()}");
        if (charts is not null)
        {
            var path = charts + "-reads.svg";
            File.WriteAllText(path, LineChart.Render($"Throughput against the read fraction, {Connections} × {Inflight} over loopback (solid: Zk.Embedded, dashed: Apache ZooKeeper)",
                "percentage of reads", lines, 0, 100, 20));
            Console.WriteLine($"chart: {path}");
        }
    }

    public static async Task FailuresAsync(string zkDll, string root, int sessions, string? charts)
    {
        var lines = new List<ChartLine>();
        var table = new MarkdownTable("system", "ops/s before", "lowest 250 ms bucket after the follower's kill", "lowest after the leader's kill", "zero buckets", "refused tries");
        foreach (var ours in new[] { true, false })
        {
            var dir = Path.Combine(root, ours ? "failures-zk" : "failures-apache");
            await using var ensemble = ours
                ? await EnsembleProcesses.StartOursAsync(zkDll, dir, 3).ConfigureAwait(false)
                : await EnsembleProcesses.StartApacheAsync(dir, 3).ConfigureAwait(false);
            var (system, ops, errors) = await FailureTimeline.MeasureAsync(ensemble, sessions).ConfigureAwait(false);
            double At(double seconds) => seconds / FailureTimeline.Bucket.TotalSeconds;
            var before = ops.Skip((int)At(1)).Take((int)At(2)).Average();
            var afterFollower = ops.Skip((int)At(FailureTimeline.Events[0].At)).Take((int)At(4)).Min();
            var afterLeader = ops.Skip((int)At(FailureTimeline.Events[2].At)).Take((int)At(4)).Min();
            table.Add(system, Format.Count(before), Format.Count(afterFollower), Format.Count(afterLeader),
                ops.Count(o => o == 0).ToString(CultureInfo.InvariantCulture), Format.Count(errors));
            lines.Add(new ChartLine(system, ours ? 0 : 1, [.. ops.Select((o, i) => ((i + 0.5) * FailureTimeline.Bucket.TotalSeconds, o))]));
        }

        Console.WriteLine();
        Console.WriteLine($"> failures: 3 members, {sessions} sessions over all members, 70 % getData / 30 % setData, one request in flight each; load average {EnsembleWireCommand.LoadAverage()}");
        Console.WriteLine();
        Console.Write(table);
        if (charts is not null)
        {
            var path = charts + "-failures.svg";
            File.WriteAllText(path, LineChart.Render($"Requests/s while a follower, then the leader, are killed and restarted (3 members, {sessions} sessions, 30 % writes)",
                "seconds", lines, 0, FailureTimeline.Length, 2, [.. FailureTimeline.Events]));
            Console.WriteLine($"chart: {path}");
        }
    }
}
