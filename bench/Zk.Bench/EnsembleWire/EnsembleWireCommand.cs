using System.CommandLine;
using System.Globalization;
using Zk.Bench.Reporting;
using Zk.Bench.Wire;

namespace Zk.Bench.EnsembleWire;

/// <summary>
/// <c>ensemble-wire</c>: a 3-process <c>zk</c> ensemble over NetMQ against a 3-server Apache ZooKeeper ensemble, both on
/// loopback, same load tool (the <c>wire</c> command's), same run, interleaved: get, set and mix90 with the
/// connections spread over the members; then leader SIGKILLs under a set load, each on a fresh ensemble: the time to
/// the first acknowledged set after the kill and the throughput over time across it (an SVG chart).
/// </summary>
internal static class EnsembleWireCommand
{
    public static Command Define()
    {
        var shapes = BenchOption.List("--shapes", "1x1,8x64", "load shapes", WireCommand.ParseShape, "CONNECTIONSxINFLIGHT (e.g. 8x64)");
        var workloads = BenchOption.Names("--workloads", "get,set,mix90", "workloads", "get", "set", "mix90");
        var seconds = BenchOption.Int("--seconds", 5, 1, 600, "length of each measurement");
        var warmup = BenchOption.Int("--warmup-seconds", 2, 0, 60, "unmeasured load before each measurement");
        var repeats = BenchOption.Int("--repeats", 2, 1, 10, "rounds of the interleaved throughput comparison");
        var kills = BenchOption.Int("--kills", 3, 0, 20, "leader SIGKILL runs per system (0: none)");
        var writers = BenchOption.Int("--kill-writers", 8, 1, 256, "sessions setting in a closed loop across a kill");
        var charts = BenchOption.Text("--charts", "write the SVG charts as <prefix>-kill.svg, -reads.svg, -failures.svg (e.g. docs/perf-ensemble)");
        var parts = BenchOption.Names("--parts", "throughput,kills", "what to measure", "throughput", "kills", "reads", "failures");
        var sizes = BenchOption.List("--sizes", "3,5,7", "members per ensemble for the read-fraction graph", t => int.TryParse(t, out var n) && n is >= 1 and <= 9 ? n : (int?)null, "member counts from 1 to 9");
        var fractions = BenchOption.List("--read-fractions", "0,20,40,60,80,100", "read percentages for the read-fraction graph", t => int.TryParse(t, out var n) && n is >= 0 and <= 100 ? n : (int?)null, "percentages");
        var zkDll = BenchOption.ZkDll();
        var command = new Command("ensemble-wire", "zk processes over NetMQ vs Apache ZooKeeper servers: throughput over the wire, leader kills, the ZooKeeper paper's two graphs")
        {
            shapes, workloads, seconds, warmup, repeats, kills, writers, charts, parts, sizes, fractions, zkDll,
        };
        command.SetAction((r, _) => RunAsync(new Args(r.GetValue(zkDll)!, r.GetValue(shapes)!, r.GetValue(workloads)!, r.GetValue(seconds), r.GetValue(warmup),
            r.GetValue(repeats), r.GetValue(kills), r.GetValue(writers), r.GetValue(charts), r.GetValue(parts)!, r.GetValue(sizes)!, r.GetValue(fractions)!)));
        return command;
    }

    private sealed record Args(string ZkDll, (int, int)[] Shapes, string[] Workloads, int Seconds, int Warmup, int Repeats, int Kills, int Writers,
        string? Charts, string[] Parts, int[] Sizes, int[] Fractions);

    private static async Task RunAsync(Args a)
    {
        var (zkDll, shapes, workloads, seconds, warmup, repeats, kills, writers, charts, parts, sizes, fractions) = a;
        var chart = charts is null ? null : charts + "-kill.svg";
        if (!File.Exists(zkDll))
            throw new ArgumentException($"--zk-dll {zkDll} does not exist: build Zk.Server (dotnet build -c Release Zk.Server) or pass its path.");
        Console.WriteLine(MachineInfo.Describe());
        var root = Path.Combine(Path.GetTempPath(), $"zk-bench-ensemble-wire-{Environment.ProcessId}");
        Directory.CreateDirectory(root);
        try
        {
            if (parts.Contains("throughput"))
                await ThroughputAsync(zkDll, root, shapes, workloads, seconds, warmup, repeats).ConfigureAwait(false);
            if (parts.Contains("kills") && kills > 0)
                await KillsAsync(zkDll, root, kills, writers, chart).ConfigureAwait(false);
            if (parts.Contains("reads"))
                await PaperGraphs.ReadFractionsAsync(zkDll, root, sizes, fractions, seconds, warmup, charts).ConfigureAwait(false);
            if (parts.Contains("failures"))
                await PaperGraphs.FailuresAsync(zkDll, root, 16, charts).ConfigureAwait(false);
        }
        finally
        {
            if (Directory.Exists(root))
                Directory.Delete(root, recursive: true);
        }
    }

    private static async Task ThroughputAsync(string zkDll, string root, (int Connections, int Inflight)[] shapes, string[] workloads, int seconds, int warmup, int repeats)
    {
        var frames = WireFrames.Build(1024);
        var table = WireResult.NewTable();
        await using var ours = await EnsembleProcesses.StartOursAsync(zkDll, root, 3).ConfigureAwait(false);
        await using var apache = await EnsembleProcesses.StartApacheAsync(root, 3).ConfigureAwait(false);
        var leaders = $"leaders: ours {await ours.LeaderAsync([1, 2, 3]).ConfigureAwait(false)}, Apache {await apache.LeaderAsync([1, 2, 3]).ConfigureAwait(false)}";
        Console.WriteLine($"> 3 members each, connection i to member (i mod 3) + 1 (1 × 1: member 1); {leaders}; {seconds} s per run after {warmup} s warm-up; load average {LoadAverage()}");
        await WireRun.SetupAsync(ours.Clients[0], frames).ConfigureAwait(false);
        await WireRun.SetupAsync(apache.Clients[0], frames).ConfigureAwait(false);
        var cell = 0;
        for (var repeat = 0; repeat < repeats; repeat++)
        {
            foreach (var (connections, inflight) in shapes)
            {
                foreach (var workload in workloads)
                {
                    var order = cell++ % 2 == 0 ? new[] { ours, apache } : [apache, ours];
                    foreach (var system in order)
                    {
                        var result = await WireRun.MeasureAsync(system.Name, system.Clients, frames, workload, connections, inflight, seconds, warmup, system.CpuSeconds).ConfigureAwait(false);
                        result.AddTo(table);
                        var progress = WireResult.NewTable();
                        result.AddTo(progress);
                        Console.Error.Write(progress.ToString().Split('\n')[2] + "\n");
                    }
                }
            }
        }

        Console.WriteLine();
        Console.Write(table);
        Console.WriteLine($"> load average at the end {LoadAverage()}");
    }

    private static async Task KillsAsync(string zkDll, string root, int kills, int writers, string? chart)
    {
        var runs = new List<KillResult>();
        for (var run = 0; run < kills; run++)
        {
            foreach (var ours in run % 2 == 0 ? new[] { true, false } : [false, true])
            {
                await using var ensemble = ours
                    ? await EnsembleProcesses.StartOursAsync(zkDll, Path.Combine(root, $"kill{run}"), 3).ConfigureAwait(false)
                    : await EnsembleProcesses.StartApacheAsync(Path.Combine(root, $"kill{run}"), 3).ConfigureAwait(false);
                var result = await LeaderKill.MeasureAsync(ensemble, writers).ConfigureAwait(false);
                runs.Add(result);
                Console.Error.WriteLine($"{result.System}: first set after the kill {result.FirstWriteMs:F0} ms, {result.Errors} refused tries");
            }
        }

        var table = new MarkdownTable("system", "runs", "first set after SIGKILL: min ms", "median ms", "max ms", "sets/s before (mean)", "refused tries (all runs)");
        foreach (var system in runs.Select(r => r.System).Distinct())
        {
            var mine = runs.Where(r => r.System == system).ToList();
            var firsts = mine.Select(r => r.FirstWriteMs).Order().ToList();
            var beforeBuckets = (int)(LeaderKill.Before / LeaderKill.Bucket);
            var before = mine.Average(r => r.OpsPerSecond.Skip(beforeBuckets / 2).Take(beforeBuckets / 2).Average());
            table.Add(system, mine.Count.ToString(CultureInfo.InvariantCulture), Format.Fixed(firsts[0], 0), Format.Fixed(firsts[firsts.Count / 2], 0),
                Format.Fixed(firsts[^1], 0), Format.Count(before), Format.Count(mine.Sum(r => r.Errors)));
        }

        Console.WriteLine();
        Console.WriteLine($"> leader SIGKILL with {writers} sessions setting on the two followers, a fresh 3-member ensemble per run, tickTime 2000; load average {LoadAverage()}");
        Console.WriteLine();
        Console.Write(table);
        if (chart is not null)
        {
            var systems = runs.Select(r => r.System).Distinct().ToList();
            var lines = runs.Select(r => new ChartLine(r.System, systems.IndexOf(r.System),
                [.. r.OpsPerSecond.Select((ops, i) => ((i + 0.5) * LeaderKill.Bucket.TotalSeconds - LeaderKill.Before.TotalSeconds, ops))])).ToList();
            var length = (LeaderKill.Before + LeaderKill.After).TotalSeconds;
            File.WriteAllText(chart, LineChart.Render($"Sets/s across a leader SIGKILL, 3 members on loopback, {writers} sessions on the followers ({kills} runs each)",
                "seconds from the leader's SIGKILL (sets/s per 100 ms)", lines, -LeaderKill.Before.TotalSeconds, length - LeaderKill.Before.TotalSeconds, 1, [(0, "SIGKILL")]));
            Console.WriteLine($"chart: {chart}");
        }
    }

    internal static string LoadAverage() => File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";
}
