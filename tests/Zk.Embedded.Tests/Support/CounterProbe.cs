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

    /// <param name="tag">only measurements with this tag (key and value) count; null: all of them.</param>
    public CounterProbe(string meter, string instrument, KeyValuePair<string, object?>? tag = null)
    {
        _listener.InstrumentPublished = (i, l) =>
        {
            if (i.Meter.Name == meter && i.Name == instrument)
                l.EnableMeasurementEvents(i);
        };
        _listener.SetMeasurementEventCallback<long>((_, v, tags, _) =>
        {
            if (tag is not { } wanted || HasTag(tags, wanted))
                Interlocked.Add(ref _total, v);
        });
        _listener.Start();
    }

    private static bool HasTag(ReadOnlySpan<KeyValuePair<string, object?>> tags, KeyValuePair<string, object?> wanted)
    {
        foreach (var tag in tags)
        {
            if (tag.Key == wanted.Key && Equals(tag.Value, wanted.Value))
                return true;
        }
        return false;
    }

    public long Total => Interlocked.Read(ref _total);

    public void Dispose() => _listener.Dispose();
}
