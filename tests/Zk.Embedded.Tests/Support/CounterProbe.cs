using System.Diagnostics.Metrics;

namespace Zk.Embedded.Tests.Support;

/// <summary>
/// Sums what one counter (by meter and instrument name) records from now until disposed, process-wide: tests running
/// beside may add to it too, so assert at least what the test itself caused.
/// </summary>
internal sealed class CounterProbe : IDisposable
{
    private readonly MeterListener _listener = new();
    private long _total;

    public CounterProbe(string meter, string instrument)
    {
        _listener.InstrumentPublished = (i, l) =>
        {
            if (i.Meter.Name == meter && i.Name == instrument)
                l.EnableMeasurementEvents(i);
        };
        _listener.SetMeasurementEventCallback<long>((_, v, _, _) => Interlocked.Add(ref _total, v));
        _listener.Start();
    }

    public long Total => Interlocked.Read(ref _total);

    public void Dispose() => _listener.Dispose();
}
