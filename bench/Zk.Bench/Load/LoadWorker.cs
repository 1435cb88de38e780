using System.Diagnostics;
using Zk.Embedded.Api;

namespace Zk.Bench.Load;

/// <summary>
/// One outstanding request stream on one session: issues requests back to back until the deadline or its op quota,
/// timing each from the call to its completion.
/// </summary>
internal sealed class LoadWorker(IZooKeeper session, string[] keys, byte[] value, int writePercent, int seed)
{
    /// <summary>
    /// Reads complete synchronously, so a read loop never gives its thread back; yielding this often lets all
    /// sessions take turns on 2 cores (the cost, one work item per 64 ops, is in the measured numbers).
    /// </summary>
    private const int OpsBetweenYields = 64;

    private XorShift32 _random = new(seed);

    public LatencyHistogram Latencies { get; } = new();

    public long Reads { get; private set; }

    /// <summary>Reads answered on the calling thread (the session's fast path) rather than queued behind its outbox.</summary>
    public long InlineReads { get; private set; }

    public async Task RunAsync(long deadlineTimestamp, long maxOps)
    {
        var sinceYield = 0;
        for (long done = 0; done < maxOps; done++)
        {
            var started = Stopwatch.GetTimestamp();
            if (started >= deadlineTimestamp)
            {
                return;
            }

            var next = _random.Next();
            var key = keys[next % (uint)keys.Length];
            bool completedInline;
            if ((next >> 16) % 100 < (uint)writePercent)
            {
                completedInline = await SetAsync(key).ConfigureAwait(false);
            }
            else
            {
                completedInline = await GetAsync(key).ConfigureAwait(false);
                Reads++;
                InlineReads += completedInline ? 1 : 0;
            }

            Latencies.Record(Stopwatch.GetTimestamp() - started);
            if (completedInline && ++sinceYield >= OpsBetweenYields)
            {
                sinceYield = 0;
                await Task.Yield();
            }
        }
    }

    /// <summary>True when the read completed on this thread (the session had nothing outstanding).</summary>
    private ValueTask<bool> GetAsync(string key)
    {
        var pending = session.GetDataAsync(key);
        if (pending.IsCompletedSuccessfully)
        {
            _ = pending.Result;
            return ValueTask.FromResult(true);
        }

        return AwaitAsync(pending);

        static async ValueTask<bool> AwaitAsync(ValueTask<DataResult> pending)
        {
            await pending.ConfigureAwait(false);
            return false;
        }
    }

    private async ValueTask<bool> SetAsync(string key)
    {
        await session.SetDataAsync(key, value).ConfigureAwait(false);
        return false;
    }
}
