using System.Diagnostics.Metrics;

namespace Zk.Bench.Load;

/// <summary>
/// The peer's own "zk.txn.log.syncs" (one WAL sync per pipeline batch with forceSync) and the longest
/// "zk.txn.log.sync.duration", so the bench reads what an operator's metrics would show and a run's max latency can
/// be told apart from a sync that took that long. Only these two instruments are enabled.
/// </summary>
internal sealed class SyncCounter : IDisposable
{
    private readonly MeterListener _listener = new();
    private long _syncs;
    private long _longestTicks;

    public SyncCounter()
    {
        _listener.InstrumentPublished = static (instrument, listener) =>
        {
            if (instrument.Meter.Name == "Zk.Embedded" && instrument.Name is "zk.txn.log.syncs" or "zk.txn.log.sync.duration")
            {
                listener.EnableMeasurementEvents(instrument, null);
            }
        };
        _listener.SetMeasurementEventCallback<long>((_, count, _, _) => Interlocked.Add(ref _syncs, count));
        _listener.SetMeasurementEventCallback<double>((_, seconds, _, _) =>
        {
            var ticks = TimeSpan.FromSeconds(seconds).Ticks;
            var longest = Interlocked.Read(ref _longestTicks);
            while (ticks > longest && Interlocked.CompareExchange(ref _longestTicks, ticks, longest) != longest)
            {
                longest = Interlocked.Read(ref _longestTicks);
            }
        });
        _listener.Start();
    }

    public long Total => Interlocked.Read(ref _syncs);

    /// <summary>The longest sync since the last call; resets it.</summary>
    public TimeSpan TakeLongest() => TimeSpan.FromTicks(Interlocked.Exchange(ref _longestTicks, 0));

    public void Dispose() => _listener.Dispose();
}
