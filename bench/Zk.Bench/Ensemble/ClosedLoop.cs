using System.Diagnostics;
using System.Globalization;
using Zk.Bench.Load;
using Zk.Bench.Reporting;
using Zk.Embedded.Api;

namespace Zk.Bench.Ensemble;

/// <summary>
/// N sessions, each alone on a znode of its own, each with one request outstanding (a closed loop, as
/// <c>Zk.Bench load --inflight 1</c>): all setData or all getData. Each session's znode is its own so writers never
/// contend on a version and readers never share a node; the work is the request path and, for writes, the quorum.
/// </summary>
internal static class ClosedLoop
{
    /// <summary>Between a request refused with ConnectionLoss and the next: a new leader takes tens of ms here.</summary>
    private static readonly TimeSpan RetryPause = TimeSpan.FromMilliseconds(10);

    private static int s_runs;

    /// <summary>
    /// Opens <paramref name="count"/> sessions (session i through <paramref name="connect"/>(i)), gives each its
    /// znode, runs them unmeasured for <paramref name="warmup"/> s then measured for <paramref name="seconds"/> s,
    /// and adds one row to <paramref name="table"/>: the labels, then count, ops, ops/s, p50/p99/max µs and the
    /// requests that failed with ConnectionLoss (each retried after a pause: an ensemble member that loses its leader
    /// fails them, and on a loaded machine one can miss syncLimit ticks), the bytes the whole process allocated per
    /// request, the share of the time it spent paused in GCs and its CPU time per request (all members are in this
    /// process: the CPU a write costs the whole ensemble).
    /// </summary>
    public static async Task MeasureAsync(MarkdownTable table, string system, string placement, int count, bool writes,
        Func<int, ValueTask<IZooKeeper>> connect, byte[] value, int seconds, int warmup)
    {
        var run = Interlocked.Increment(ref s_runs);
        var sessions = new IZooKeeper[count];
        var paths = new string[count];
        try
        {
            for (var i = 0; i < count; i++)
            {
                sessions[i] = await connect(i).ConfigureAwait(false);
                paths[i] = "/bench-" + run.ToString(CultureInfo.InvariantCulture) + "-" + i.ToString(CultureInfo.InvariantCulture);
                await sessions[i].CreateAsync(paths[i], value, Acl.OpenUnsafe, CreateMode.Persistent).ConfigureAwait(false);
            }

            // A fresh set of workers for the measurement, so the warm-up's latencies are not in its histogram.
            if (warmup > 0)
                await RunAsync(Workers(sessions, paths, value, writes), warmup).ConfigureAwait(false);
            var workers = Workers(sessions, paths, value, writes);
            var pausedBefore = GC.GetTotalPauseDuration();
            var before = ProcessSample.Take();
            var losses = await RunAsync(workers, seconds).ConfigureAwait(false);
            var spent = ProcessSample.Take().Minus(before);
            var paused = (GC.GetTotalPauseDuration() - pausedBefore).TotalSeconds;
            var elapsed = spent.Timestamp / (double)Stopwatch.Frequency;
            var all = new LatencyHistogram();
            foreach (var worker in workers)
                all.Add(worker.Latencies);
            table.Add(system, placement, Format.Count(count), Format.Count(all.Count), Format.Count(all.Count / elapsed),
                Format.Micros(all.ValueAtPercentile(50)), Format.Micros(all.ValueAtPercentile(99)), Format.Micros(all.Max), Format.Count(losses),
                Format.Count(spent.AllocatedBytes / (double)Math.Max(1, all.Count)), (paused / elapsed * 100).ToString("0", CultureInfo.InvariantCulture),
                Format.Fixed(spent.Cpu.TotalMicroseconds / Math.Max(1, all.Count), 1));
            await Console.Error.WriteLineAsync($"{system}, {placement}, {count} {(writes ? "writers" : "readers")}: {Format.Count(all.Count / elapsed)}/s, {losses} ConnectionLoss").ConfigureAwait(false);
        }
        finally
        {
            foreach (var session in sessions)
            {
                if (session is not null)
                    await session.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private static LoadWorker[] Workers(IZooKeeper[] sessions, string[] paths, byte[] value, bool writes)
    {
        var workers = new LoadWorker[sessions.Length];
        for (var i = 0; i < workers.Length; i++)
            workers[i] = new LoadWorker(sessions[i], [paths[i]], value, writes ? 100 : 0, seed: i + 1);
        return workers;
    }

    private static async Task<long> RunAsync(LoadWorker[] workers, int seconds)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(seconds * (double)Stopwatch.Frequency);
        var running = new Task<long>[workers.Length];
        for (var i = 0; i < workers.Length; i++)
        {
            var worker = workers[i];
            running[i] = Task.Run(() => RunRetryingAsync(worker, deadline));
        }

        long losses = 0;
        foreach (var count in await Task.WhenAll(running).ConfigureAwait(false))
            losses += count;
        return losses;
    }

    /// <summary>Runs <paramref name="worker"/> to the deadline, resuming it after each ConnectionLoss; returns how many.</summary>
    private static async Task<long> RunRetryingAsync(LoadWorker worker, long deadline)
    {
        long losses = 0;
        while (true)
        {
            try
            {
                await worker.RunAsync(deadline, long.MaxValue).ConfigureAwait(false);
                return losses;
            }
            catch (ZkException e) when (e.Code == ZkErrorCode.ConnectionLoss)
            {
                losses++;
                await Task.Delay(RetryPause).ConfigureAwait(false);
            }
        }
    }
}
