using System.Diagnostics.Metrics;

namespace Zk.Bench.Load;

/// <summary>
/// The peer's own txn log metrics: "zk.txn.log.syncs" (one WAL sync per pipeline batch with forceSync), the
/// distribution of "zk.txn.log.sync.duration" and the longest "zk.txn.log.checkpoint.duration" (a background checkpoint), so the bench
/// reads what an operator's metrics would show and a run's max latency can be told apart from a sync or a checkpoint
/// that took that long. Only these three instruments are enabled.
/// </summary>
internal sealed class LogListener : IDisposable
{
    private readonly MeterListener _listener = new();
    private long _syncs;
    private long _longestCheckpointTicks;
    private readonly System.Threading.Lock _syncGate = new();
    private LatencyHistogram _syncDurations = new();   // Stopwatch ticks; recorded under _syncGate (syncs may overlap)

    public LogListener()
    {
        _listener.InstrumentPublished = static (instrument, listener) =>
        {
            if (instrument.Meter.Name == "Zk.Embedded"
                && instrument.Name is "zk.txn.log.syncs" or "zk.txn.log.sync.duration" or "zk.txn.log.checkpoint.duration")
            {
                listener.EnableMeasurementEvents(instrument, null);
            }
        };
        _listener.SetMeasurementEventCallback<long>((_, count, _, _) => Interlocked.Add(ref _syncs, count));
        _listener.SetMeasurementEventCallback<double>((instrument, seconds, _, _) =>
        {
            if (instrument.Name != "zk.txn.log.sync.duration")
            {
                KeepLongest(ref _longestCheckpointTicks, seconds);
                return;
            }

            lock (_syncGate)
            {
                _syncDurations.Record((long)(seconds * System.Diagnostics.Stopwatch.Frequency));
            }
        });
        _listener.Start();
    }

    public long Syncs => Interlocked.Read(ref _syncs);

    /// <summary>The WAL syncs (Stopwatch ticks) and the longest background checkpoint since the last call; resets both.</summary>
    public (LatencyHistogram Syncs, TimeSpan Checkpoint) Take()
    {
        LatencyHistogram syncs;
        lock (_syncGate)
        {
            (syncs, _syncDurations) = (_syncDurations, new LatencyHistogram());
        }

        return (syncs, TimeSpan.FromTicks(Interlocked.Exchange(ref _longestCheckpointTicks, 0)));
    }

    public void Dispose() => _listener.Dispose();

    private static void KeepLongest(ref long longest, double seconds)
    {
        var ticks = TimeSpan.FromSeconds(seconds).Ticks;
        var seen = Interlocked.Read(ref longest);
        while (ticks > seen && Interlocked.CompareExchange(ref longest, ticks, seen) != seen)
        {
            seen = Interlocked.Read(ref longest);
        }
    }
}
