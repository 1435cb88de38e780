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
    public static async Task RunAsync(IReadOnlyList<string> args)
    {
        var line = new OptionReader(args);
        var compare = line.Bool("compare", false);
        var target = line.Text("target");
        var serverPid = line.Int("server-pid", 0, 0, int.MaxValue);
        var connections = line.Int("connections", 8, 1, 1024);
        var inflight = line.Int("inflight", 64, 1, 4096);
        var workload = line.Choice("workload", "set", "get", "set", "mix90");
        var seconds = line.Int("seconds", 10, 1, 600);
        var warmup = line.Int("warmup-seconds", 3, 0, 60);
        var valueBytes = line.Int("value-bytes", 1024, 0, 1 << 19);
        var zkDll = line.Text("zk-dll") ?? DefaultZkDll();
        var shapes = ParseShapes(line.Text("shapes") ?? "1x1,8x64");
        var workloads = (line.Text("workloads") ?? "get,set,mix90").Split(',');
        var repeats = line.Int("repeats", 1, 1, 10);
        var chart = line.Text("chart");
        line.RejectUnknown();
        foreach (var name in workloads)
        {
            if (name is not ("get" or "set" or "mix90"))
            {
                throw new ArgumentException($"--workloads takes get, set, mix90; got '{name}'.");
            }
        }

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
            var result = await WireRun.MeasureAsync(target, endPoint, frames, workload, connections, inflight, seconds, warmup, cpu).ConfigureAwait(false);
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
                                server.Name, server.EndPoint, frames, workload, connections, inflight, seconds, warmup, server.CpuSeconds).ConfigureAwait(false);
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

    private static (int, int)[] ParseShapes(string text)
    {
        var parts = text.Split(',');
        var shapes = new (int, int)[parts.Length];
        for (var i = 0; i < parts.Length; i++)
        {
            var pair = parts[i].Split('x');
            if (pair.Length != 2 || !int.TryParse(pair[0], out var c) || !int.TryParse(pair[1], out var k) || c is < 1 or > 1024 || k is < 1 or > 4096)
            {
                throw new ArgumentException($"--shapes takes CONNECTIONSxINFLIGHT,... (e.g. 1x1,8x64); got '{parts[i]}'.");
            }

            shapes[i] = (c, k);
        }

        return shapes;
    }

    /// <summary>The repository's Zk.Server build, found from this binary's location (bench/Zk.Bench/bin/Release/net10.0/).</summary>
    private static string DefaultZkDll()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Embedded.sln")))
        {
            directory = directory.Parent;
        }

        return directory is null ? "zk.dll" : Path.Combine(directory.FullName, "Zk.Server", "bin", "Release", "net10.0", "zk.dll");
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
