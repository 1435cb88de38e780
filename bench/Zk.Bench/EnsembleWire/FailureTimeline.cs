using System.Diagnostics;
using Zk.Embedded.Api;
using Zk.Embedded.Wire.Client;

namespace Zk.Bench.EnsembleWire;

/// <summary>
/// The ZooKeeper paper's failure graph: sessions on every member (a connect string of all of them, so a session on a
/// killed member moves) run a closed loop of 70 % getData and 30 % setData while a follower is killed with SIGKILL and
/// restarted, then the leader; completed requests per bucket over time.
/// </summary>
internal static class FailureTimeline
{
    public static readonly TimeSpan Bucket = TimeSpan.FromMilliseconds(250);

    /// <summary>Seconds from the start: follower killed, follower restarted, leader killed, leader restarted; the run's end.</summary>
    public static readonly (double At, string Label)[] Events = [(3, "follower killed"), (7, "follower restarted"), (11, "leader killed"), (15, "leader restarted")];

    public const double Length = 20;

    public static async Task<(string System, double[] OpsPerSecond, long Errors)> MeasureAsync(EnsembleProcesses ensemble, int sessions)
    {
        var ids = Enumerable.Range(1, ensemble.Clients.Length).ToList();
        var leader = await ensemble.LeaderAsync(ids).ConfigureAwait(false);
        var follower = ids.Last(id => id != leader);
        var connect = string.Join(',', ensemble.Clients.Select(c => c.ToString()));
        var clients = new List<ZkClient>();
        try
        {
            for (var i = 0; i < sessions; i++)
            {
                var client = await ZkClient.ConnectAsync(connect, new ZkClientOptions { SessionTimeout = TimeSpan.FromSeconds(20) }).ConfigureAwait(false);
                clients.Add(client);
                try
                {
                    await client.CreateAsync($"/f{i}", new byte[16], Acl.OpenUnsafe, CreateMode.Persistent).ConfigureAwait(false);
                }
                catch (ZkException e) when (e.Code == ZkErrorCode.NodeExists)
                {
                }
            }

            var start = Stopwatch.GetTimestamp();
            var end = start + (long)(Length * Stopwatch.Frequency);
            var loops = clients.Select((c, i) => Task.Run(() => LoopAsync(c, $"/f{i}", i, end))).ToArray();
            foreach (var (at, label) in Events)
            {
                var due = start + (long)(at * Stopwatch.Frequency);
                var wait = TimeSpan.FromSeconds((due - Stopwatch.GetTimestamp()) / (double)Stopwatch.Frequency);
                if (wait > TimeSpan.Zero)
                    await Task.Delay(wait).ConfigureAwait(false);
                var target = label.StartsWith("follower", StringComparison.Ordinal) ? follower : leader;
                if (label.EndsWith("killed", StringComparison.Ordinal))
                    ensemble.Kill(target);
                else
                    ensemble.Start(target);
            }

            var results = await Task.WhenAll(loops).ConfigureAwait(false);
            var buckets = new double[(int)(Length / Bucket.TotalSeconds)];
            long errors = 0;
            foreach (var (done, failed) in results)
            {
                errors += failed;
                foreach (var at in done)
                {
                    var index = (int)((at - start) / (Bucket.TotalSeconds * Stopwatch.Frequency));
                    if (index >= 0 && index < buckets.Length)
                        buckets[index] += 1 / Bucket.TotalSeconds;
                }
            }

            return (ensemble.Name, buckets, errors);
        }
        finally
        {
            foreach (var c in clients)
                await c.DisposeAsync().ConfigureAwait(false);
        }
    }

    private static async Task<(List<long> Done, long Errors)> LoopAsync(ZkClient client, string path, int seed, long end)
    {
        var random = new Random(seed);
        var data = new byte[16];
        var done = new List<long>();
        long errors = 0;
        while (Stopwatch.GetTimestamp() < end)
        {
            try
            {
                if (random.Next(100) < 30)
                    await client.SetDataAsync(path, data, -1).ConfigureAwait(false);
                else
                    await client.GetDataAsync(path).ConfigureAwait(false);
                done.Add(Stopwatch.GetTimestamp());
            }
            catch (ZkException)
            {
                errors++; // ConnectionLoss while its member is down or the ensemble elects: tried again at once
                await Task.Delay(1).ConfigureAwait(false);
            }
        }

        return (done, errors);
    }
}
