using System.Diagnostics;
using Zk.Embedded.Api;
using Zk.Embedded.Wire.Client;

namespace Zk.Bench.EnsembleWire;

/// <summary>One leader SIGKILL under load: sets completed per bucket across it, and the first set issued after it that was acknowledged.</summary>
internal sealed record KillResult(string System, double FirstWriteMs, double[] OpsPerSecond, long Errors);

/// <summary>
/// Writers on the members that survive (a connect string of the followers only, so no session has to move) set their
/// own 16-byte node in a closed loop, each retrying at once on ConnectionLoss; the leader gets SIGKILL after
/// <see cref="Before"/> and the loop runs <see cref="After"/> more. The first write after the kill is the first
/// acknowledged set that was issued after it: a set in flight at the kill may be acknowledged later by the old leader's
/// last commit, which says nothing about the new one.
/// </summary>
internal static class LeaderKill
{
    public static readonly TimeSpan Before = TimeSpan.FromSeconds(2);
    public static readonly TimeSpan After = TimeSpan.FromSeconds(8);
    public static readonly TimeSpan Bucket = TimeSpan.FromMilliseconds(100);

    public static async Task<KillResult> MeasureAsync(EnsembleProcesses ensemble, int writers)
    {
        var members = Enumerable.Range(1, ensemble.Clients.Length).ToList();
        var leader = await ensemble.LeaderAsync(members).ConfigureAwait(false);
        var survivors = string.Join(',', members.Where(id => id != leader).Select(id => ensemble.Clients[id - 1].ToString()));
        var clients = new List<ZkClient>();
        try
        {
            for (var i = 0; i < writers; i++)
            {
                var client = await ZkClient.ConnectAsync(survivors, new ZkClientOptions { SessionTimeout = TimeSpan.FromSeconds(20) }).ConfigureAwait(false);
                clients.Add(client);
                try
                {
                    await client.CreateAsync($"/kill{i}", new byte[16], Acl.OpenUnsafe, CreateMode.Persistent).ConfigureAwait(false);
                }
                catch (ZkException e) when (e.Code == ZkErrorCode.NodeExists)
                {
                }
            }

            var start = Stopwatch.GetTimestamp();
            var end = start + ToTicks(Before + After);
            var loops = clients.Select((c, i) => Task.Run(() => WriteLoopAsync(c, $"/kill{i}", end))).ToArray();
            await Task.Delay(Before).ConfigureAwait(false);
            ensemble.Kill(leader);
            var killedAt = Stopwatch.GetTimestamp();
            var results = await Task.WhenAll(loops).ConfigureAwait(false);

            var buckets = new double[(int)((Before + After) / Bucket)];
            var firstAfter = long.MaxValue;
            long errors = 0;
            foreach (var (writes, failed) in results)
            {
                errors += failed;
                foreach (var (issued, acked) in writes)
                {
                    var at = (int)((acked - start) / (double)ToTicks(Bucket));
                    if (at >= 0 && at < buckets.Length)
                        buckets[at] += 1 / Bucket.TotalSeconds;
                    if (issued > killedAt && acked < firstAfter)
                        firstAfter = acked;
                }
            }

            var firstMs = firstAfter == long.MaxValue ? double.NaN : (firstAfter - killedAt) * 1000.0 / Stopwatch.Frequency;
            return new KillResult(ensemble.Name, firstMs, buckets, errors);
        }
        finally
        {
            foreach (var c in clients)
                await c.DisposeAsync().ConfigureAwait(false);
        }
    }

    private static async Task<(List<(long Issued, long Acked)> Writes, long Errors)> WriteLoopAsync(ZkClient client, string path, long end)
    {
        var writes = new List<(long, long)>();
        var data = new byte[16];
        long errors = 0;
        while (Stopwatch.GetTimestamp() < end)
        {
            var issued = Stopwatch.GetTimestamp();
            try
            {
                await client.SetDataAsync(path, data, -1).ConfigureAwait(false);
                writes.Add((issued, Stopwatch.GetTimestamp()));
            }
            catch (ZkException)
            {
                errors++; // ConnectionLoss while the ensemble elects: the next try goes at once
                await Task.Delay(1).ConfigureAwait(false);
            }
        }

        return (writes, errors);
    }

    private static long ToTicks(TimeSpan span) => (long)(span.TotalSeconds * Stopwatch.Frequency);
}
