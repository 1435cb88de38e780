using System.Diagnostics;
using System.Globalization;
using Zk.Bench.Reporting;

namespace Zk.Bench.Load;

/// <summary>One measured run: the merged latencies and what the process spent meanwhile.</summary>
internal sealed record RunResult(LatencyHistogram Latencies, ProcessSample Spent)
{
    public double Seconds => Spent.Timestamp / (double)Stopwatch.Frequency;

    public double OpsPerSecond => Latencies.Count / Seconds;

    public string[] ToRow(LoadOptions options)
    {
        var ops = Math.Max(1, Latencies.Count);
        return
        [
            options.Workload,
            options.Sessions.ToString(CultureInfo.InvariantCulture),
            options.Inflight.ToString(CultureInfo.InvariantCulture),
            Format.Count(Latencies.Count),
            Format.Count(OpsPerSecond),
            Format.Micros(Latencies.ValueAtPercentile(50)),
            Format.Micros(Latencies.ValueAtPercentile(90)),
            Format.Micros(Latencies.ValueAtPercentile(99)),
            Format.Micros(Latencies.Max),
            Format.Fixed(Spent.Cpu.TotalMicroseconds / ops, 2),
            Format.Count(Spent.AllocatedBytes / (double)ops),
            $"{Spent.Gen0}/{Spent.Gen1}/{Spent.Gen2}",
        ];
    }
}
