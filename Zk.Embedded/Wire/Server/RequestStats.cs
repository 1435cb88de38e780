using System.Diagnostics;
using System.Numerics;
using System.Runtime.InteropServices;

namespace Zk.Embedded.Wire.Server;

/// <summary>
/// ZooKeeper's <c>ServerStats</c> (and a connection's own counters): packets in and out, requests outstanding, and
/// the latency of each request from the moment its frame was read to the moment its reply was written, which the
/// four-letter words report in milliseconds. <c>srst</c> (the port's) and <c>crst</c> (every connection's) reset it.
/// </summary>
/// <remarks>
/// Every request of every connection counts into the port's instance, from both cores at once: one set of shared
/// counters cost ~15 % of 8 × 64 get throughput here (their cache line moved on each update). So the counters are
/// striped by the core that counts, and a read adds the stripes up.
/// </remarks>
internal sealed class RequestStats
{
    private readonly Stripe[] _stripes;
    private readonly RequestStats? _total;

    /// <param name="striped">One stripe per core (the port's), or one (a connection's, counted by one thread at a time).</param>
    /// <param name="total">Counts everything counted here too (a connection's counts go into the port's); not reset with it.</param>
    public RequestStats(bool striped, RequestStats? total = null)
    {
        _total = total;
        _stripes = new Stripe[striped ? Math.Max(1, (int)BitOperations.RoundUpToPowerOf2((uint)Environment.ProcessorCount)) : 1];
        for (var i = 0; i < _stripes.Length; i++)
        {
            _stripes[i] = new Stripe();
        }
    }

    private Stripe Mine => _stripes[_stripes.Length == 1 ? 0 : Thread.GetCurrentProcessorId() & (_stripes.Length - 1)];

    /// <summary>A packet out that answers no request (a watch event, the connect response).</summary>
    public void CountSent()
    {
        Interlocked.Increment(ref Mine.Sent);
        _total?.CountSent();
    }

    /// <summary>A request goes into the pipeline or a queue; <see cref="Replied"/> takes it out again.</summary>
    public void Queued()
    {
        Interlocked.Increment(ref Mine.Outstanding);
        _total?.Queued();
    }

    /// <summary>
    /// One read from a connection: <paramref name="received"/> packets in, of which <paramref name="replied"/> were
    /// answered at once, all written <paramref name="ticksEach"/> after the read (counted once per read, not per packet).
    /// </summary>
    public void CountBatch(long received, long replied, long ticksEach)
    {
        var stripe = Mine;
        Interlocked.Add(ref stripe.Received, received);
        if (replied > 0)
        {
            Interlocked.Add(ref stripe.Sent, replied);
            Record(stripe, replied, ticksEach);
        }

        _total?.CountBatch(received, replied, ticksEach);
    }

    /// <summary>A queued request's reply was written.</summary>
    public void Replied(long startedTimestamp)
    {
        var stripe = Mine;
        // Maybe another stripe than the one that queued it: only the sum means anything.
        Interlocked.Decrement(ref stripe.Outstanding);
        Interlocked.Increment(ref stripe.Sent);
        Record(stripe, 1, Stopwatch.GetTimestamp() - startedTimestamp);
        _total?.Replied(startedTimestamp);
    }

    private static void Record(Stripe stripe, long count, long ticks)
    {
        Interlocked.Add(ref stripe.Count, count);
        Interlocked.Add(ref stripe.TotalTicks, ticks * count);
        for (var min = Volatile.Read(ref stripe.MinTicks); ticks < min; min = Volatile.Read(ref stripe.MinTicks))
        {
            if (Interlocked.CompareExchange(ref stripe.MinTicks, ticks, min) == min)
            {
                break;
            }
        }

        for (var max = Volatile.Read(ref stripe.MaxTicks); ticks > max; max = Volatile.Read(ref stripe.MaxTicks))
        {
            if (Interlocked.CompareExchange(ref stripe.MaxTicks, ticks, max) == max)
            {
                break;
            }
        }
    }

    /// <summary>ZooKeeper's <c>ServerStats.reset</c>: latency and packet counts start again; outstanding stays.</summary>
    public void Reset()
    {
        foreach (var stripe in _stripes)
        {
            Interlocked.Exchange(ref stripe.Received, 0);
            Interlocked.Exchange(ref stripe.Sent, 0);
            Interlocked.Exchange(ref stripe.Count, 0);
            Interlocked.Exchange(ref stripe.TotalTicks, 0);
            Interlocked.Exchange(ref stripe.MinTicks, long.MaxValue);
            Interlocked.Exchange(ref stripe.MaxTicks, 0);
        }
    }

    public RequestStatsSnapshot Read()
    {
        long received = 0, sent = 0, outstanding = 0, count = 0, total = 0, min = long.MaxValue, max = 0;
        foreach (var stripe in _stripes)
        {
            received += Interlocked.Read(ref stripe.Received);
            sent += Interlocked.Read(ref stripe.Sent);
            outstanding += Interlocked.Read(ref stripe.Outstanding);
            count += Interlocked.Read(ref stripe.Count);
            total += Interlocked.Read(ref stripe.TotalTicks);
            min = Math.Min(min, Interlocked.Read(ref stripe.MinTicks));
            max = Math.Max(max, Interlocked.Read(ref stripe.MaxTicks));
        }

        return new RequestStatsSnapshot(
            received,
            sent,
            Math.Max(0, outstanding),
            count == 0 ? 0 : Milliseconds(min),
            count == 0 ? 0 : Math.Round(total * 1000.0 / Stopwatch.Frequency / count, 4),
            Milliseconds(max));
    }

    private static long Milliseconds(long ticks) => ticks * 1000 / Stopwatch.Frequency;

    /// <summary>One core's counters, padded so two stripes never share a cache line.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private sealed class Stripe
    {
#pragma warning disable SA1401, CS0169 // Fields updated with Interlocked; the padding is never read.
        public long Received;
        public long Sent;
        public long Outstanding;
        public long Count;
        public long TotalTicks;
        public long MinTicks = long.MaxValue;
        public long MaxTicks;
        private long _pad0, _pad1, _pad2, _pad3, _pad4, _pad5, _pad6, _pad7, _pad8;
#pragma warning restore SA1401, CS0169
    }
}

/// <summary>What <see cref="RequestStats"/> holds at one moment; latencies in milliseconds, as ZooKeeper reports them.</summary>
internal readonly record struct RequestStatsSnapshot(long Received, long Sent, long Outstanding, long MinLatencyMs, double AvgLatencyMs, long MaxLatencyMs);
