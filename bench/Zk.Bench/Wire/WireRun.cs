using System.Diagnostics;
using System.Net;
using Zk.Bench.Load;
using Zk.Bench.Reporting;

namespace Zk.Bench.Wire;

/// <summary>One measured wire run: N connections × K in flight for S seconds against one server.</summary>
internal sealed record WireResult(
    string Server, string Workload, int Connections, int Inflight, LatencyHistogram Latencies, double Seconds, long Completed,
    double? ServerCpuSeconds, double ClientCpuSeconds, double MachineBusySeconds, long Errors, long Mismatches)
{
    /// <summary>Replies timed inside the window per second: the table's and the chart's ops/s.</summary>
    public double OpsPerSecond => Latencies.Count / Seconds;

    public static MarkdownTable NewTable() => new(
        "server", "workload", "conns × inflight", "ops/s", "p50 µs", "p90 µs", "p99 µs", "max µs",
        "server CPU µs/op", "server cores", "client CPU µs/op", "others' cores", "errors");

    public void AddTo(MarkdownTable table)
    {
        var ops = Math.Max(1, Completed);
        var others = MachineBusySeconds - (ServerCpuSeconds ?? 0) - ClientCpuSeconds;
        table.Add(
            Server,
            Workload,
            $"{Connections} × {Inflight}",
            Format.Count(OpsPerSecond),
            Format.Micros(Latencies.ValueAtPercentile(50)),
            Format.Micros(Latencies.ValueAtPercentile(90)),
            Format.Micros(Latencies.ValueAtPercentile(99)),
            Format.Micros(Latencies.Max),
            ServerCpuSeconds is { } server ? Format.Fixed(server * 1e6 / ops, 1) : "n/a",
            ServerCpuSeconds is { } cores ? Format.Fixed(cores / Seconds, 2) : "n/a",
            Format.Fixed(ClientCpuSeconds * 1e6 / ops, 1),
            double.IsNaN(others) ? "n/a" : Format.Fixed(Math.Max(0, others) / Seconds, 2),
            Format.Count(Errors + Mismatches));
    }
}

internal static class WireRun
{
    private const int NodeExists = -110;

    /// <summary>Creates the parent and the 1,024 keys of 1 KiB (NodeExists is fine: the server may have them already).</summary>
    public static async Task SetupAsync(IPEndPoint target, WireFrames frames)
    {
        await Task.Run(() =>
        {
            using var connection = WireConnection.Open(target, frames, 64, 0);
            connection.Execute([frames.CreateParent], NodeExists);
            connection.Execute(frames.Creates, NodeExists);
        }).ConfigureAwait(false);
    }

    /// <summary>Connection i goes to <paramref name="targets"/>[i % count]: an ensemble's members share the connections.</summary>
    public static async Task<WireResult> MeasureAsync(
        string server, IReadOnlyList<IPEndPoint> targets, WireFrames frames, string workload, int connectionCount, int inflight, int seconds, int warmupSeconds, Func<double>? serverCpu)
    {
        // get, set, mix90, or reads<N>: N % reads (the ZooKeeper paper's read-fraction axis).
        var writePercent = workload switch
        {
            "get" => 0,
            "set" => 100,
            "mix90" => 10,
            _ when workload.StartsWith("reads", StringComparison.Ordinal) => 100 - int.Parse(workload[5..], System.Globalization.CultureInfo.InvariantCulture),
            _ => throw new ArgumentException($"unknown workload {workload}"),
        };
        // Bounded by the deadline, then by the sockets' 10 s receive timeout while draining: a silent server fails the run.
        var connections = new WireConnection[connectionCount];
        try
        {
            for (var i = 0; i < connections.Length; i++)
            {
                connections[i] = WireConnection.Open(targets[i % targets.Count], frames, inflight, i + 1);
            }

            if (warmupSeconds > 0)
            {
                await RunAllAsync(connections, warmupSeconds, writePercent, new LatencyHistogram[connections.Length]).ConfigureAwait(false);
            }

            var latencies = new LatencyHistogram[connections.Length];
            using var self = Process.GetCurrentProcess();
            var cpuBefore = serverCpu?.Invoke();
            var clientBefore = self.TotalProcessorTime;
            var machineBefore = MachineCpu.BusySeconds();
            var (completed, window) = await RunAllAsync(connections, seconds, writePercent, latencies).ConfigureAwait(false);
            var cpuAfter = serverCpu?.Invoke();
            self.Refresh();
            var clientCpu = (self.TotalProcessorTime - clientBefore).TotalSeconds;
            var machine = MachineCpu.BusySeconds() - machineBefore;

            var merged = new LatencyHistogram();
            long errors = 0, mismatches = 0;
            for (var i = 0; i < connections.Length; i++)
            {
                merged.Add(latencies[i]);
                errors += connections[i].Errors;
                mismatches += connections[i].Mismatches;
            }

            return new WireResult(server, workload, connectionCount, inflight, merged, window, completed, cpuAfter - cpuBefore, clientCpu, machine, errors, mismatches);
        }
        finally
        {
            foreach (var connection in connections)
            {
                if (connection is not null)
                {
                    connection.Dispose();
                }
            }
        }
    }

    /// <summary>All connections until the deadline, then drained; returns requests completed and the window in seconds.</summary>
    private static async Task<(long Completed, double Seconds)> RunAllAsync(
        WireConnection[] connections, int seconds, int writePercent, LatencyHistogram[] latencies)
    {
        var started = Stopwatch.GetTimestamp();
        var deadline = started + (seconds * Stopwatch.Frequency);
        var running = new Task<long>[connections.Length];
        for (var i = 0; i < connections.Length; i++)
        {
            latencies[i] = new LatencyHistogram();
            var (connection, histogram) = (connections[i], latencies[i]);
            // A dedicated thread per connection (LongRunning), blocking in recv between replies.
            running[i] = Task.Factory.StartNew(() => connection.Run(deadline, writePercent, histogram), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        }

        var done = await Task.WhenAll(running).ConfigureAwait(false);
        long completed = 0;
        foreach (var count in done)
        {
            completed += count;
        }

        return (completed, (deadline - started) / (double)Stopwatch.Frequency);
    }
}
