using System.Diagnostics.Metrics;

namespace Zk.Bench.Load;

/// <summary>
/// Listens to the peer's own "zk.txn.batch.size" histogram (requests the pipeline took per wake-up). Mean batch size
/// says whether writes are amortizing the pipeline's hand-offs: near 1 every write pays a full wake-up.
/// Only this one instrument is enabled, so the other instruments stay free.
/// </summary>
internal sealed class BatchSizeListener : IDisposable
{
    private readonly MeterListener _listener = new();
    private long _batches;
    private long _requests;

    public BatchSizeListener()
    {
        _listener.InstrumentPublished = static (instrument, listener) =>
        {
            if (instrument.Meter.Name == "Zk.Embedded" && instrument.Name == "zk.txn.batch.size")
            {
                listener.EnableMeasurementEvents(instrument, null);
            }
        };
        _listener.SetMeasurementEventCallback<int>((_, size, _, _) =>
        {
            Interlocked.Increment(ref _batches);
            Interlocked.Add(ref _requests, size);
        });
        _listener.Start();
    }

    public (long Batches, long Requests) Totals => (Interlocked.Read(ref _batches), Interlocked.Read(ref _requests));

    public void Dispose() => _listener.Dispose();
}
