using System.CommandLine;
using System.Net;
using Zk.Bench.Disk;
using Zk.Bench.Reporting;

namespace Zk.Bench.Wire;

/// <summary>
/// <c>wire</c>: a lean pipelined load generator over raw sockets speaking ZooKeeper's wire protocol. Either against
/// one running server (<c>--target</c>), or <c>--compare true</c>: it starts our <c>zk</c> and Apache ZooKeeper as
/// separate processes on loopback ports, each with a temp dataDir on the same disk, and runs the same load against
/// both, interleaved, next to the raw fsync latency of that disk.
/// </summary>
internal static class WireCommand
{
    public static Command Define()
    {
        var compare = BenchOption.Flag("--compare", false, "start our zk and Apache ZooKeeper and measure both, interleaved");
        var target = BenchOption.Text("--target", "HOST:PORT of one running server to measure (without --compare)");
        var serverPid = BenchOption.Int("--server-pid", 0, 0, int.MaxValue, "the target server's pid, to report its CPU (0: none)");
        var connections = BenchOption.Int("--connections", 8, 1, 1024, "client connections");
        var inflight = BenchOption.Int("--inflight", 64, 1, 4096, "requests outstanding per connection");
        var workload = BenchOption.Choice("--workload", "set", "what the connections send", "get", "set", "mix90");
        var seconds = BenchOption.Int("--seconds", 10, 1, 600, "length of each measurement");
        var warmup = BenchOption.Int("--warmup-seconds", 3, 0, 60, "unmeasured load before each measurement");
        var valueBytes = BenchOption.Int("--value-bytes", 1024, 0, 1 << 19, "bytes of each znode's data");
        var zkDll = BenchOption.ZkDll();
        var shapes = BenchOption.List("--shapes", "1x1,8x64", "load shapes with --compare", ParseShape, "CONNECTIONSxINFLIGHT (e.g. 8x64)");
        var workloads = BenchOption.Names("--workloads", "get,set,mix90", "workloads with --compare", "get", "set", "mix90");
        var repeats = BenchOption.Int("--repeats", 1, 1, 10, "rounds of the interleaved comparison");
        var chart = BenchOption.Text("--chart", "with --compare: also write throughput and latency as an SVG chart to this file");
        var command = new Command("wire", "a pipelined load over ZooKeeper's wire protocol against one server, or ours vs Apache ZooKeeper (--compare)")
        {
            compare, target, serverPid, connections, inflight, workload, seconds, warmup, valueBytes, zkDll, shapes, workloads, repeats, chart,
        };
        command.SetAction((r, _) => RunAsync(new WireArgs(
            r.GetValue(compare), r.GetValue(target), r.GetValue(serverPid), r.GetValue(connections), r.GetValue(inflight), r.GetValue(workload)!,
            r.GetValue(seconds), r.GetValue(warmup), r.GetValue(valueBytes), r.GetValue(zkDll)!, r.GetValue(shapes)!,
            r.GetValue(workloads)!, r.GetValue(repeats), r.GetValue(chart))));
        return command;
    }

    private sealed record WireArgs(
        bool Compare, string? Target, int ServerPid, int Connections, int Inflight, string Workload, int Seconds, int Warmup,
        int ValueBytes, string ZkDll, (int Connections, int Inflight)[] Shapes, string[] Workloads, int Repeats, string? Chart);

    private static async Task RunAsync(WireArgs a)
    {
        var (compare, target, serverPid, connections, inflight, workload, seconds, warmup, valueBytes, zkDll, shapes, workloads, repeats, chart) = a;
        Console.WriteLine(MachineInfo.Describe());
        var frames = WireFrames.Build(valueBytes);
        if (!compare)
        {
            if (target is null)
            {
                throw new ArgumentException("wire needs --target HOST:PORT, or --compare true.");
            }

            var endPoint = IPEndPoint.Parse(target);
            Console.WriteLine();
            await WireRun.SetupAsync(endPoint, frames).ConfigureAwait(false);
            Func<double>? cpu = serverPid > 0 ? () => ServerProcess.CpuSecondsOf(serverPid) : null;
            var result = await WireRun.MeasureAsync(target, [endPoint], frames, workload, connections, inflight, seconds, warmup, cpu).ConfigureAwait(false);
            var table = WireResult.NewTable();
            result.AddTo(table);
            Console.Write(table);
            return;
        }

        await CompareAsync(zkDll, frames, shapes, workloads, repeats, seconds, warmup, chart).ConfigureAwait(false);
    }

    private static async Task CompareAsync(string zkDll, WireFrames frames, (int Connections, int Inflight)[] shapes, string[] workloads, int repeats, int seconds, int warmup, string? chart)
    {
        if (!File.Exists(zkDll))
        {
            throw new ArgumentException($"--zk-dll {zkDll} does not exist: build Zk.Server (dotnet build -c Release Zk.Server) or pass its path.");
        }

        var root = Path.Combine(Path.GetTempPath(), $"zk-bench-wire-{Environment.ProcessId}");
        Directory.CreateDirectory(root);
        Console.WriteLine($"> servers: our zk ({zkDll}) and Apache ZooKeeper (/usr/share/java/zookeeper.jar, {JavaVersion()}), each a separate process, " +
            $"dataDir under {root}, forceSync=yes (default); {seconds} s per run after a {warmup} s warm-up on the same connections");
        Console.WriteLine();
        var fsyncs = FsyncProbe.NewTable();
        var table = WireResult.NewTable();
        var results = new List<WireResult>();
        try
        {
            FsyncProbe.Measure(root, append: true, 2, 4096).AddTo(fsyncs);
            FsyncProbe.Measure(root, append: false, 2, 4096).AddTo(fsyncs);
            await using var ours = await ServerProcess.StartOursAsync(zkDll, root).ConfigureAwait(false);
            await using var apache = await ServerProcess.StartApacheAsync(root).ConfigureAwait(false);
            await WireRun.SetupAsync(ours.EndPoint, frames).ConfigureAwait(false);
            await WireRun.SetupAsync(apache.EndPoint, frames).ConfigureAwait(false);
            var cell = 0;
            for (var repeat = 0; repeat < repeats; repeat++)
            {
                foreach (var (connections, inflight) in shapes)
                {
                    foreach (var workload in workloads)
                    {
                        // Alternate who goes first from cell to cell, so neither always runs on a disk the other just filled.
                        var order = cell++ % 2 == 0 ? new[] { ours, apache } : [apache, ours];
                        foreach (var server in order)
                        {
                            var result = await WireRun.MeasureAsync(
                                server.Name, [server.EndPoint], frames, workload, connections, inflight, seconds, warmup, server.CpuSeconds).ConfigureAwait(false);
                            result.AddTo(table);
                            results.Add(result);
                            var progress = WireResult.NewTable();
                            result.AddTo(progress);
                            Console.Error.Write(progress.ToString().Split('\n')[2] + "\n");
                        }
                    }
                }
            }

            FsyncProbe.Measure(root, append: true, 2, 4096).AddTo(fsyncs);
            FsyncProbe.Measure(root, append: false, 2, 4096).AddTo(fsyncs);
        }
        finally
        {
            Console.Write(table);
            Console.WriteLine();
            Console.WriteLine("Raw 4 KiB syncs on the same disk, before the runs (first two rows) and after them:");
            Console.WriteLine();
            Console.Write(fsyncs);
            if (Directory.Exists(root))
            {
                Directory.Delete(root, recursive: true);
            }

            // Last, so a bad --chart path cannot leave the data directories behind; partial results still get a chart.
            if (chart is not null && results.Count > 0)
            {
                // The latency panel wants the unloaded shape: under 8 × 64 latency is mostly queueing behind the other requests.
                (int, int)[] latencyShape = [shapes.Contains((1, 1)) ? (1, 1) : shapes[0]];
                File.WriteAllText(chart, SvgChart.Render(results, latencyShape));
                Console.WriteLine();
                Console.WriteLine($"chart: {chart}");
            }
        }
    }

    /// <summary>CONNECTIONSxINFLIGHT, e.g. 8x64; null when malformed or out of range.</summary>
    internal static (int Connections, int Inflight)? ParseShape(string text)
    {
        var pair = text.Split('x');
        return pair.Length == 2 && int.TryParse(pair[0], out var c) && int.TryParse(pair[1], out var k) && c is >= 1 and <= 1024 && k is >= 1 and <= 4096
            ? (c, k)
            : null;
    }

    private static string JavaVersion()
    {
        var release = "/usr/lib/jvm/default-java/release";
        if (!File.Exists(release))
        {
            return "java";
        }

        foreach (var line in File.ReadLines(release))
        {
            if (line.StartsWith("JAVA_VERSION=", StringComparison.Ordinal))
            {
                return "OpenJDK " + line["JAVA_VERSION=".Length..].Trim('"');
            }
        }

        return "java";
    }
}
