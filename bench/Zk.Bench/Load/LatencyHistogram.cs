using HdrHistogram;

namespace Zk.Bench.Load;

/// <summary>
/// Latencies in <see cref="System.Diagnostics.Stopwatch"/> ticks, kept by HdrHistogram with two significant digits
/// (any value is off by at most 1 %): recording is an index computation and one increment with no allocation, cheap
/// enough to wrap a 100 ns read. One recorder per worker, merged at the end, so recording never contends. Values
/// past an hour are recorded as an hour: no run here is that long, and the bound keeps each histogram small.
/// </summary>
internal sealed class LatencyHistogram
{
    private static readonly long Highest = System.Diagnostics.Stopwatch.Frequency * 3600;

    private readonly LongHistogram _histogram = new(Highest, 2);

    public long Count => _histogram.TotalCount;

    public long Max => _histogram.TotalCount == 0 ? 0 : _histogram.GetMaxValue();

    public void Record(long ticks) => _histogram.RecordValue(Math.Clamp(ticks, 0, Highest));

    public void Add(LatencyHistogram other) => _histogram.Add(other._histogram);

    /// <summary>The value at or below which lies <paramref name="percentile"/> % of the samples (0 when empty).</summary>
    public long ValueAtPercentile(double percentile) => _histogram.TotalCount == 0 ? 0 : _histogram.GetValueAtPercentile(percentile);
}
