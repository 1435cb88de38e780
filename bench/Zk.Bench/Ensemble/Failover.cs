using System.Diagnostics;
using Zk.Bench.Reporting;
using Zk.Embedded;
using Zk.Embedded.Api;
using Zk.Transport.InMemory;

namespace Zk.Bench.Ensemble;

/// <summary>
/// The time from a leader's failure to the first write acknowledged after it, as a client sees it: a session on a
/// follower that survives retries setData on ConnectionLoss. Each run is a fresh durable 3-voter ensemble, so no
/// run inherits another's elections or disk.
/// </summary>
internal static class Failover
{
    /// <summary>
    /// Between attempts refused with ConnectionLoss: short next to the figures measured (tens to thousands of ms),
    /// long enough that a refused writer does not take a core from the election on a 2-core machine.
    /// </summary>
    private static readonly TimeSpan RetryPause = TimeSpan.FromMilliseconds(1);

    /// <summary>
    /// Measures <paramref name="runs"/> failovers and adds a row: how, tickTime, the silent detection bound, runs,
    /// min/median/max ms, the issue's target and whether the slowest run met it.
    /// </summary>
    public static async Task MeasureAsync(MarkdownTable table, bool silent, TimeSpan tick, int syncLimit, int runs)
    {
        var detection = tick * syncLimit;
        var times = new double[runs];
        var lost = new double[runs];
        var following = new double[runs];
        for (var run = 0; run < runs; run++)
        {
            (lost[run], following[run], times[run]) = await MeasureOnceAsync(silent, tick, syncLimit).ConfigureAwait(false);
            await Console.Error.WriteLineAsync($"failover {(silent ? "silent" : "visible")}, tickTime {tick.TotalMilliseconds} ms, run {run + 1}: "
                + $"leader lost at {Format.Fixed(lost[run], 1)} ms, new leader at {Format.Fixed(following[run], 1)} ms, first write at {Format.Fixed(times[run], 1)} ms").ConfigureAwait(false);
        }

        Array.Sort(times);
        var target = silent ? detection.TotalMilliseconds + 150 : 150;
        table.Add(silent ? "silent (leader partitioned)" : "visible (leader crashed)", Format.Count(tick.TotalMilliseconds),
            silent ? Format.Count(detection.TotalMilliseconds) : "at once", Format.Count(runs),
            Format.Fixed(Median(lost), 1), Format.Fixed(Median(following), 1),
            Format.Fixed(times[0], 1), Format.Fixed(Median(times), 1), Format.Fixed(times[^1], 1),
            "≤ " + Format.Count(target), times[^1] <= target ? "met" : "not met");
    }

    /// <summary>The columns <see cref="MeasureAsync"/> fills.</summary>
    public static MarkdownTable NewTable() => new("leader failure", "tickTime ms", "detection ms", "runs", "median lost ms", "median new leader ms",
        "min ms", "median ms", "max ms", "target ms", "target");

    private static double Median(double[] values)
    {
        var sorted = values.Order().ToArray();
        var n = sorted.Length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[(n / 2) - 1] + sorted[n / 2]) / 2;
    }

    /// <summary>
    /// One failover, in ms from the failure: when the writer's member lost its leader, when it served a new one (both
    /// from its LeadershipChanged events, raised off its consensus loop, so a little late), and the first ack.
    /// </summary>
    private static async Task<(double Lost, double NewLeader, double Acked)> MeasureOnceAsync(bool silent, TimeSpan tick, int syncLimit)
    {
        var options = new InMemoryEnsembleOptions
        {
            Durable = true,
            TickTime = tick,
            SyncLimit = syncLimit,
            WaitTimeout = TimeSpan.FromMinutes(2),

            // The default (1 min) is below 20 ticks of 2 s; a session must outlive any failover measured here.
            Peer = new() { MaxSessionTimeout = TimeSpan.FromMinutes(2) },
        };
        await using var ensemble = await InMemoryEnsemble.StartAsync(3, options).ConfigureAwait(false);
        var leader = await Members.WaitAllServingAsync(ensemble).ConfigureAwait(false);
        var follower = ensemble.Ids.First(id => id != leader);
        await using var zk = await Members.ConnectAsync(ensemble, _ => follower, new ZkSessionOptions { SessionTimeout = TimeSpan.FromMinutes(2) }).ConfigureAwait(false);
        await zk.CreateAsync("/failover", [], Acl.OpenUnsafe, CreateMode.Persistent).ConfigureAwait(false);
        var oldEpoch = (await zk.SetDataAsync("/failover", [0], -1).ConfigureAwait(false)).Mzxid >> 32;

        long lostAt = 0, newLeaderAt = 0;
        ensemble[follower].LeadershipChanged += (_, change) =>
        {
            if (change.LeaderId != leader)
                Interlocked.CompareExchange(ref lostAt, Stopwatch.GetTimestamp(), 0);
            if (change.LeaderId is { } next && next != leader)
                Interlocked.CompareExchange(ref newLeaderAt, Stopwatch.GetTimestamp(), 0);
        };
        var started = Stopwatch.GetTimestamp();
        var crash = Task.CompletedTask;
        if (silent)
            ensemble.Partition(leader);
        else
            crash = ensemble.CrashAsync(leader);
        var limit = TimeSpan.FromSeconds(30) + (tick * (syncLimit + options.InitLimit) * 2);
        var acked = await WriteUntilAcknowledgedAsync(zk, limit).ConfigureAwait(false);
        var elapsed = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        await crash.ConfigureAwait(false);
        ensemble.Heal();

        // Nothing can commit in the old epoch once its leader is cut off; an ack from it would be a lost-write bug.
        if (acked.Mzxid >> 32 <= oldEpoch)
            throw new InvalidOperationException($"the first write after the leader (server {leader}) failed was acknowledged in epoch {acked.Mzxid >> 32}, not after {oldEpoch} (mzxid 0x{acked.Mzxid:x}, network seed {ensemble.Seed})");
        return (Since(started, Interlocked.Read(ref lostAt)), Since(started, Interlocked.Read(ref newLeaderAt)), elapsed);
    }

    /// <summary>NaN when the event never came (then the median column shows it).</summary>
    private static double Since(long started, long at) => at == 0 ? double.NaN : (at - started) * 1000.0 / Stopwatch.Frequency;

    private static async Task<Stat> WriteUntilAcknowledgedAsync(IZooKeeper zk, TimeSpan limit)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(limit.TotalSeconds * Stopwatch.Frequency);
        while (true)
        {
            var left = TimeSpan.FromSeconds((deadline - Stopwatch.GetTimestamp()) / (double)Stopwatch.Frequency);
            if (left <= TimeSpan.Zero)
                throw new TimeoutException($"no write acknowledged within {limit} of the leader's failure");
            try
            {
                // The wait bounds an attempt that neither completes nor fails (a write lost with its leader would hang).
                return await zk.SetDataAsync("/failover", [1], -1).AsTask().WaitAsync(left).ConfigureAwait(false);
            }
            catch (ZkException e) when (e.Code == ZkErrorCode.ConnectionLoss)
            {
                await Task.Delay(RetryPause).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                throw new TimeoutException($"a setData on the follower neither completed nor failed within {limit} of the leader's failure (a hang)");
            }
        }
    }
}
