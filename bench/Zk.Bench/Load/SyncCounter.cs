using System.Diagnostics.Metrics;

namespace Zk.Bench.Load;

/// <summary>
/// Counts the peer's own "zk.txn.log.syncs" (one WAL sync per pipeline batch with forceSync), so the bench reads
/// what an operator's metrics would show. Only this instrument is enabled.
/// </summary>
internal sealed class SyncCounter : IDisposable
{
    private readonly MeterListener _listener = new();
    private long _syncs;

    public SyncCounter()
    {
        _listener.InstrumentPublished = static (instrument, listener) =>
        {
            if (instrument.Meter.Name == "Zk.Embedded" && instrument.Name == "zk.txn.log.syncs")
            {
                listener.EnableMeasurementEvents(instrument, null);
            }
        };
        _listener.SetMeasurementEventCallback<long>((_, count, _, _) => Interlocked.Add(ref _syncs, count));
        _listener.Start();
    }

    public long Total => Interlocked.Read(ref _syncs);

    public void Dispose() => _listener.Dispose();
}
