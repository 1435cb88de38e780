using Zk.Testing;
using Xunit.Abstractions;
using Zk.Embedded.Api;
using Zk.Embedded.Storage;
using Zk.Embedded.Tests.Replication;
using Zk.Embedded.Tests.Support;

namespace Zk.Embedded.Tests.Ensemble;

/// <summary>
/// A member's storage stays bounded (issue 13 point f): with snapCount 100 each member snapshots its applied tree
/// every 50–100 txns and autopurge keeps snapRetainCount snapshots and the log from the oldest of them; after all
/// members crash, they restart from what purge left and hold the same tree (digest); a follower cut off for a few
/// writes afterwards still syncs by DIFF, and so does one that was behind the leader's newest snapshot when the leader
/// restarted (the window a restart loads reaches back before the snapshot).
/// </summary>
[Collection(RunsAlone.Name)]
public sealed class SnapshotPurgeEnsembleTests(ITestOutputHelper output) : IDisposable
{
    private const int Writes = 1000;
    private readonly TraceLogger _log = new();

    public void Dispose() => output.WriteLine(_log.Tail());

    [Fact]
    public async Task Members_snapshot_every_snapCount_txns_purge_their_logs_and_restart_with_the_same_tree()
    {
        await using var ensemble = await EnsembleKit.StartAsync(output, _log, 3, o => o with
        {
            Durable = true,
            SyncLimit = 20, // durable writers on a busy machine: a slow fsync must not cost the leader its quorum here
            Peer = o.Peer with { SnapCount = 100, SnapRetainCount = 3, PurgeInterval = TimeSpan.FromMilliseconds(50) },
        });
        var dirs = ensemble.Ids.ToDictionary(id => id, id => ensemble[id].Options.DataDir!);
        await using (var zk = await ensemble.ConnectAsync(ensemble.Leader!.Value))
        {
            // Rounds of 50: one burst would commit in a batch or two, and a member snapshots at most once per batch.
            for (var round = 0; round < Writes / 50; round++)
                await CreateAllAsync(zk, "/p", round * 50, 50);
        }

        await EnsembleKit.AssertConvergedAsync(ensemble, p => p.Core.Pipeline.State.Find($"/p{Writes - 1}") is not null);

        // Snapshots of the later writes exist and purge has left at most snapRetainCount of them everywhere.
        await EnsembleKit.WaitAsync(() => dirs.Values.All(d => SnapshotFile.List(d) is { Count: > 0 and <= 3 } s && s[0].Zxid.Counter > Writes / 2),
            () => "expected every member to keep 1-3 snapshots, the newest past txn " + Writes / 2 + ": "
                + string.Join("; ", dirs.Select(d => $"{d.Key}: {string.Join(",", SnapshotFile.List(d.Value).Select(s => s.Zxid))}")));
        var digest = TreeDigest.Of(ensemble.Running[0].Core.Pipeline.State);

        foreach (var id in ensemble.Ids)
            await ensemble.CrashAsync(id);
        foreach (var (id, dir) in dirs)
        {
            using var log = TxnLog.Open(dir);
            var first = log.ReadFrom(default).First().Zxid;
            var kept = log.ReadFrom(default).Count();
            Assert.True(first.Counter > 1 && kept < Writes, $"expected server {id}'s log purged of its start, it holds {kept} txns from {first}");
        }

        foreach (var id in ensemble.Ids)
            await ensemble.RestartAsync(id);
        await ensemble.WaitForLeaderAsync();
        await EnsembleKit.AssertConvergedAsync(ensemble, p => p.IsServing && TreeDigest.Of(p.Core.Pipeline.State) == digest);
        // A snapshot queued before the crash may have landed after the last purge; the restarted members purge it.
        await EnsembleKit.WaitAsync(() => dirs.Values.All(d => SnapshotFile.List(d).Count <= 3),
            () => "expected at most 3 snapshots per member after the restart: " + string.Join("; ", dirs.Select(d => $"{d.Key}: {SnapshotFile.List(d.Value).Count}")));

        // A follower a few writes behind syncs by DIFF from what the leader kept.
        var behind = ensemble.Followers[0];
        ensemble.Partition(behind);
        await EnsembleKit.WaitAsync(() => !ensemble[behind].IsServing, () => $"expected server {behind} to stop serving once cut off");
        await using (var zk = await ensemble.ConnectAsync(ensemble.Leader!.Value))
            await CreateAllAsync(zk, "/after", 0, 20);
        ensemble.Heal();
        await EnsembleKit.AssertConvergedAsync(ensemble, p => p.Core.Pipeline.State.Find("/after19") is not null);
        var syncs = _log.Lines.Where(l => l.Contains($"syncs learner {behind} by ", StringComparison.Ordinal)).ToList();
        Assert.True(syncs.Count > 0 && syncs[^1].Contains("by diff ", StringComparison.Ordinal),
            $"expected server {behind}'s last sync to be a DIFF: {string.Join(" | ", syncs)}");
    }

    /// <summary>
    /// The same without a disk: each member's in-memory store keeps its newest snapshot (read back from the spool file
    /// off the driver's loop, since that store is written on the loop) and drops the log it covers; members crashed
    /// and restarted in the same process come back from it with the same tree.
    /// </summary>
    [Fact]
    public async Task Members_in_memory_snapshot_every_snapCount_txns_and_restart_in_process_with_the_same_tree()
    {
        await using var ensemble = await EnsembleKit.StartAsync(output, _log, 3, o => o with
        {
            Durable = false,
            Peer = o.Peer with { SnapCount = 100 },
        });
        await using (var zk = await ensemble.ConnectAsync(ensemble.Leader!.Value))
        {
            for (var round = 0; round < Writes / 50; round++)
                await CreateAllAsync(zk, "/m", round * 50, 50);
        }

        await EnsembleKit.AssertConvergedAsync(ensemble, p => p.Core.Pipeline.State.Find($"/m{Writes - 1}") is not null);
        await EnsembleKit.WaitAsync(
            () => ensemble.Ids.All(id => _log.Lines.Any(l => l.Contains($"Peer {id} snapshots its applied tree", StringComparison.Ordinal))),
            () => "expected every member to take a periodic snapshot");
        var digest = TreeDigest.Of(ensemble.Running[0].Core.Pipeline.State);

        foreach (var id in ensemble.Ids)
            await ensemble.CrashAsync(id);
        foreach (var id in ensemble.Ids)
            await ensemble.RestartAsync(id);
        await ensemble.WaitForLeaderAsync();
        await EnsembleKit.AssertConvergedAsync(ensemble, p => p.IsServing && TreeDigest.Of(p.Core.Pipeline.State) == digest);
    }

    [Fact]
    public async Task A_member_behind_the_restarted_leaders_newest_snapshot_syncs_by_DIFF_from_the_log_the_leader_kept()
    {
        await using var ensemble = await EnsembleKit.StartAsync(output, _log, 3, o => o with
        {
            Durable = true,
            SyncLimit = 20,
            Peer = o.Peer with { SnapCount = 40, SnapRetainCount = 3, PurgeInterval = TimeSpan.FromMinutes(10) },
        });
        var dirs = ensemble.Ids.ToDictionary(id => id, id => ensemble[id].Options.DataDir!);
        var behind = ensemble.Followers[0];
        await using (var zk = await ensemble.ConnectAsync(ensemble.Leader!.Value))
            await CreateAllAsync(zk, "/before", 0, 10);
        await EnsembleKit.AssertConvergedAsync(ensemble, p => p.Core.Pipeline.State.Find("/before9") is not null);
        await ensemble.CrashAsync(behind);
        Zxid behindAt;
        using (var log = TxnLog.Open(dirs[behind]))
            behindAt = log.LastZxid;

        var others = ensemble.Ids.Where(id => id != behind).ToList();
        await using (var zk = await ensemble.ConnectAsync(ensemble.Leader!.Value))
        {
            for (var round = 0; round < 6; round++)
                await CreateAllAsync(zk, "/after", round * 25, 25);
        }
        // Both others snapshot past the crashed member's last zxid, so after their restart their windows start there.
        await EnsembleKit.WaitAsync(() => others.All(id => SnapshotFile.List(dirs[id]) is { Count: > 0 } s && s[0].Zxid > behindAt),
            () => $"expected servers {string.Join(",", others)} to snapshot past {behindAt}: "
                + string.Join("; ", others.Select(id => $"{id}: {string.Join(",", SnapshotFile.List(dirs[id]).Select(s => s.Zxid))}")));
        foreach (var id in others)
            await ensemble.CrashAsync(id);
        foreach (var id in others)
            await ensemble.RestartAsync(id);
        await ensemble.WaitForLeaderAsync();

        await ensemble.RestartAsync(behind);
        await EnsembleKit.AssertConvergedAsync(ensemble, p => p.IsServing && p.Core.Pipeline.State.Find("/after149") is not null);
        var syncs = _log.Lines.Where(l => l.Contains($"syncs learner {behind} by ", StringComparison.Ordinal)).ToList();
        Assert.True(syncs.Count > 0 && syncs[^1].Contains("by diff ", StringComparison.Ordinal),
            $"expected server {behind} (at {behindAt}) to be synced by DIFF from the log kept before the leader's snapshot: {string.Join(" | ", syncs)}");
    }

    private static Task CreateAllAsync(IZooKeeper zk, string prefix, int from, int count) =>
        Task.WhenAll(Enumerable.Range(from, count).Select(i => EnsembleKit.RetryOnConnectionLossAsync(async () =>
        {
            try
            {
                await zk.CreateAsync($"{prefix}{i}", [], Acl.OpenUnsafe, CreateMode.Persistent);
            }
            catch (ZkException e) when (e.Code == ZkErrorCode.NodeExists)
            {
                // an earlier try committed before its connection was lost
            }
        })));
}
