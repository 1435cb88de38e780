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
            Format.Count(Latencies.Count / Seconds),
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
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var connection = await WireConnection.OpenAsync(target, frames, 64, 0, timeout.Token).ConfigureAwait(false);
        await connection.ExecuteAsync([frames.CreateParent], NodeExists, timeout.Token).ConfigureAwait(false);
        await connection.ExecuteAsync(frames.Creates, NodeExists, timeout.Token).ConfigureAwait(false);
    }

    public static async Task<WireResult> MeasureAsync(
        string server, IPEndPoint target, WireFrames frames, string workload, int connectionCount, int inflight, int seconds, int warmupSeconds, Func<double>? serverCpu)
    {
        var writePercent = workload switch { "get" => 0, "set" => 100, _ => 10 };
        // A run's own bound: setup, warm-up, the run and the drain all fit in this or the run fails.
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(seconds + warmupSeconds + 60));
        var connections = new WireConnection[connectionCount];
        try
        {
            for (var i = 0; i < connections.Length; i++)
            {
                connections[i] = await WireConnection.OpenAsync(target, frames, inflight, i + 1, bound.Token).ConfigureAwait(false);
            }

            if (warmupSeconds > 0)
            {
                await RunAllAsync(connections, warmupSeconds, writePercent, new LatencyHistogram[connections.Length], bound.Token).ConfigureAwait(false);
            }

            var latencies = new LatencyHistogram[connections.Length];
            using var self = Process.GetCurrentProcess();
            var cpuBefore = serverCpu?.Invoke();
            var clientBefore = self.TotalProcessorTime;
            var machineBefore = MachineCpu.BusySeconds();
            var (completed, window) = await RunAllAsync(connections, seconds, writePercent, latencies, bound.Token).ConfigureAwait(false);
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
                    await connection.DisposeAsync().ConfigureAwait(false);
                }
            }
        }
    }

    /// <summary>All connections until the deadline, then drained; returns requests completed and the window in seconds.</summary>
    private static async Task<(long Completed, double Seconds)> RunAllAsync(
        WireConnection[] connections, int seconds, int writePercent, LatencyHistogram[] latencies, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var deadline = started + (seconds * Stopwatch.Frequency);
        var running = new Task<long>[connections.Length];
        for (var i = 0; i < connections.Length; i++)
        {
            latencies[i] = new LatencyHistogram();
            var (connection, histogram) = (connections[i], latencies[i]);
            running[i] = Task.Run(() => connection.RunAsync(deadline, writePercent, histogram, cancellationToken), cancellationToken);
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
