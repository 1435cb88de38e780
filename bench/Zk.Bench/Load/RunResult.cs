using System.Diagnostics;
using System.Globalization;
using Zk.Bench.Reporting;

namespace Zk.Bench.Load;

/// <summary>
/// One measured run: the merged latencies and what the process spent meanwhile. "Cores used" is process CPU time
/// over wall time: on a shared machine a run that got less than all cores shows it there, and CPU µs/op stays
/// comparable when ops/s does not; "others' cores" is what the rest of the machine used meanwhile. "GC 0/1/2" are
/// GC.CollectionCount deltas: collections that included generation 0, 1, 2 (a gen1 GC counts for gen0 too).
/// </summary>
/// "GC max ms" is the longest GC pause in the run, "GC paused" the share of the run every thread was stopped for GCs
/// (<see cref="GcPauseListener"/>). "fsyncs/s" counts the txn log's WAL syncs, from the peer's zk.txn.log.syncs (durable peer only); "sync p50/p99/max µs" their distribution (zk.txn.log.sync.duration), "checkpoint max ms" the longest background checkpoint (zk.txn.log.checkpoint.duration).
internal sealed record RunResult(LatencyHistogram Latencies, ProcessSample Spent, long Reads, long InlineReads, double MeanBatch, long? Fsyncs, TimeSpan LongestGcPause, TimeSpan GcPaused, (LatencyHistogram Syncs, TimeSpan Checkpoint)? Log)
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
            Format.Fixed(Spent.Cpu.TotalSeconds / Seconds, 2),
            double.IsNaN(Spent.MachineBusySeconds) ? "n/a" : Format.Fixed(Math.Max(0, Spent.MachineBusySeconds - Spent.Cpu.TotalSeconds) / Seconds, 2),
            Format.Count(Spent.AllocatedBytes / (double)ops),
            $"{Spent.Gen0}/{Spent.Gen1}/{Spent.Gen2}",
            Format.Fixed(LongestGcPause.TotalMilliseconds, 1),
            Format.Fixed(100 * GcPaused.TotalSeconds / Seconds, 1) + " %",
            Reads == 0 ? "n/a" : Format.Fixed(100.0 * InlineReads / Reads, 1) + " %",
            Reads == Latencies.Count ? "n/a" : Format.Fixed(MeanBatch, 1),
            Fsyncs is { } syncs ? Format.Count(syncs / Seconds) : "n/a",
            Log is { } sync ? $"{Format.Micros(sync.Syncs.ValueAtPercentile(50), 0)}/{Format.Micros(sync.Syncs.ValueAtPercentile(99), 0)}/{Format.Micros(sync.Syncs.Max, 0)}" : "n/a",
            Log is { } checkpoint ? Format.Fixed(checkpoint.Checkpoint.TotalMilliseconds, 1) : "n/a",
        ];
    }
}
