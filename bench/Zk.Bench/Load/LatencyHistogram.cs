using System.Numerics;

namespace Zk.Bench.Load;

/// <summary>
/// A fixed-size log-linear histogram of latencies in <see cref="System.Diagnostics.Stopwatch"/> ticks, in the
/// manner of HdrHistogram with two significant digits: values below 128 get a bucket each, above that every power of
/// two is cut into 64 buckets, so any recorded value is off by at most 1/64 (1.6 %). Recording is an index
/// computation and one increment with no allocation, cheap enough to wrap a 100 ns read. One recorder per worker,
/// merged at the end, so recording never contends.
/// </summary>
internal sealed class LatencyHistogram
{
    /// <summary>Exact buckets below this; also the sub-bucket resolution above it.</summary>
    private const int LinearLimit = 128;

    private const int HalfBits = 6;
    private const int SubBuckets = 1 << HalfBits;

    /// <summary>Enough buckets for any non-negative long: 128 exact + 57 octaves of 64.</summary>
    private const int BucketCount = LinearLimit + (57 * SubBuckets);

    private readonly long[] _counts = new long[BucketCount];

    public long Count { get; private set; }

    public long Max { get; private set; }

    public void Record(long ticks)
    {
        if (ticks < 0)
        {
            ticks = 0;
        }

        _counts[IndexOf(ticks)]++;
        Count++;
        if (ticks > Max)
        {
            Max = ticks;
        }
    }

    public void Add(LatencyHistogram other)
    {
        for (var i = 0; i < BucketCount; i++)
        {
            _counts[i] += other._counts[i];
        }

        Count += other.Count;
        Max = Math.Max(Max, other.Max);
    }

    /// <summary>The smallest recorded value (bucket upper bound) at or above which lies <paramref name="percentile"/> % of the samples.</summary>
    public long ValueAtPercentile(double percentile)
    {
        if (Count == 0)
        {
            return 0;
        }

        var rank = (long)Math.Ceiling(percentile / 100.0 * Count);
        rank = Math.Clamp(rank, 1, Count);
        long seen = 0;
        for (var i = 0; i < BucketCount; i++)
        {
            seen += _counts[i];
            if (seen >= rank)
            {
                return Math.Min(UpperBoundOf(i), Max);
            }
        }

        return Max;
    }

    internal static int IndexOf(long value)
    {
        if (value < LinearLimit)
        {
            return (int)value;
        }

        // value >= 128, so its top bit is at 7 or more; keep the 7 bits from the top (64..127) as the sub-bucket.
        var shift = BitOperations.Log2((ulong)value) - HalfBits;
        var top = (int)(value >> shift);
        return LinearLimit + ((shift - 1) * SubBuckets) + (top - SubBuckets);
    }

    internal static long UpperBoundOf(int index)
    {
        if (index < LinearLimit)
        {
            return index;
        }

        var shift = ((index - LinearLimit) / SubBuckets) + 1;
        long top = ((index - LinearLimit) % SubBuckets) + SubBuckets;
        return ((top + 1) << shift) - 1;
    }
}
