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
        for (var run = 0; run < runs; run++)
        {
            times[run] = await MeasureOnceAsync(silent, tick, syncLimit).ConfigureAwait(false);
            await Console.Error.WriteLineAsync($"failover {(silent ? "silent" : "visible")}, tickTime {tick.TotalMilliseconds} ms, run {run + 1}: {Format.Fixed(times[run], 1)} ms").ConfigureAwait(false);
        }

        Array.Sort(times);
        var target = silent ? detection.TotalMilliseconds + 150 : 150;
        var median = runs % 2 == 1 ? times[runs / 2] : (times[(runs / 2) - 1] + times[runs / 2]) / 2;
        table.Add(silent ? "silent (leader partitioned)" : "visible (leader crashed)", Format.Count(tick.TotalMilliseconds),
            silent ? Format.Count(detection.TotalMilliseconds) : "at once", Format.Count(runs),
            Format.Fixed(times[0], 1), Format.Fixed(median, 1), Format.Fixed(times[^1], 1),
            "≤ " + Format.Count(target), times[^1] <= target ? "met" : "not met");
    }

    private static async Task<double> MeasureOnceAsync(bool silent, TimeSpan tick, int syncLimit)
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
        var leader = await ensemble.WaitForLeaderAsync().ConfigureAwait(false);
        await Members.WaitAllServingAsync(ensemble, leader).ConfigureAwait(false);
        var follower = ensemble.Ids.First(id => id != leader);
        await using var zk = await Members.ConnectAsync(ensemble, follower, leader, new ZkSessionOptions { SessionTimeout = TimeSpan.FromMinutes(2) }).ConfigureAwait(false);
        await zk.CreateAsync("/failover", [], Acl.OpenUnsafe, CreateMode.Persistent).ConfigureAwait(false);
        var oldEpoch = (await zk.SetDataAsync("/failover", [0], -1).ConfigureAwait(false)).Mzxid >> 32;

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
        return elapsed;
    }

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
