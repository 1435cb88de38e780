using Xunit.Abstractions;
using Zk.Embedded.Api;
using Zk.Embedded.Tests.Support;
using Zk.Transport.InMemory;

namespace Zk.Embedded.Tests.Ensemble;

/// <summary>
/// How members that fell behind or diverged come back (CONSENSUS-NOTES §4): a follower cut off for a few writes
/// catches up by DIFF, one cut off past the leader's committed-log window by SNAP, a leader whose uncommitted tail
/// never reached a quorum is truncated (TRUNC) when it rejoins; and observers serve reads without voting. Which sync
/// the leader chose is read from its log (LearnerSync); each test prints its network seed.
/// </summary>
// Alone: a three-voter ensemble with a short tick loses its quorum when the parallel tests starve one follower
// for syncLimit ticks, which is the behaviour under test elsewhere, not here.
[Collection(RunsAlone.Name)]
public sealed class EnsembleCatchUpTests(ITestOutputHelper output) : IDisposable
{
    private readonly TraceLogger _log = new();

    public void Dispose() => output.WriteLine(_log.Tail());

    [Fact]
    public async Task A_follower_cut_off_for_a_few_writes_catches_up_by_DIFF()
    {
        await using var ensemble = await EnsembleKit.StartAsync(output, _log, 3);
        var (leader, behind) = (ensemble.Leader!.Value, ensemble.Followers[0]);
        await using var zk = await ensemble.ConnectAsync(leader);
        await CutOffAsync(ensemble, behind);
        for (var i = 0; i < 20; i++)
            await zk.CreateAsync($"/d{i}", [], Acl.OpenUnsafe, CreateMode.Persistent);

        ensemble.Heal();
        await EnsembleKit.AssertConvergedAsync(ensemble, p => p.Core.Pipeline.State.Find("/d19") is not null);
        AssertSynced(behind, "diff");
    }

    [Fact]
    public async Task A_follower_cut_off_past_the_committed_log_window_catches_up_by_SNAP()
    {
        await using var ensemble = await EnsembleKit.StartAsync(output, _log, 3);
        var (leader, behind) = (ensemble.Leader!.Value, ensemble.Followers[0]);
        await using var zk = await ensemble.ConnectAsync(leader);
        await CutOffAsync(ensemble, behind);
        // The leader keeps the last 500 committed txns for DIFF (zookeeper.commitLogCount); more forces a snapshot.
        var writes = Enumerable.Range(0, 600).Select(i => zk.CreateAsync($"/s{i}", [], Acl.OpenUnsafe, CreateMode.Persistent).AsTask());
        await Task.WhenAll(writes);

        ensemble.Heal();
        await EnsembleKit.AssertConvergedAsync(ensemble, p => p.Core.Pipeline.State.Find("/s599") is not null);
        AssertSynced(behind, "snap");
    }

    [Theory]
    [InlineData(false, "trunc")]
    [InlineData(true, "snap")]
    public async Task A_leader_with_an_uncommitted_tail_loses_it_when_it_rejoins(bool newEpochWritesFirst, string expectedSync)
    {
        // Rejoining before the new leader wrote anything, its tail is past the new leader's log: TRUNC. Once the new
        // epoch has txns, the tail diverges across an epoch, and ZooKeeper never TRUNCs across one: SNAP.
        await using var ensemble = await EnsembleKit.StartAsync(output, _log, 3);
        var old = ensemble.Leader!.Value;
        await using var zk = await ensemble.ConnectAsync(old);
        await zk.CreateAsync("/committed", [], Acl.OpenUnsafe, CreateMode.Persistent);

        // Cut off, the leader still logs what it proposes; no follower hears it, so none of it commits.
        ensemble.Partition(old);
        var lost = zk.CreateAsync("/uncommitted", [], Acl.OpenUnsafe, CreateMode.Persistent).AsTask();
        await EnsembleKit.WaitAsync(() => !ensemble[old].IsServing, () => $"expected cut-off leader {old} to step down");
        var failed = await Assert.ThrowsAsync<ZkException>(() => lost);
        Assert.True(failed.Code == ZkErrorCode.ConnectionLoss, $"expected the uncommitted write to fail with ConnectionLoss, got {failed.Code}");
        var next = await ensemble.WaitForLeaderAsync();
        if (newEpochWritesFirst)
        {
            await using var other = await ensemble.ConnectAsync(next);
            await other.CreateAsync("/after", [], Acl.OpenUnsafe, CreateMode.Persistent);
        }

        ensemble.Heal();
        await EnsembleKit.WaitAsync(() => ensemble[old].IsServing, () => $"expected server {old} to rejoin, it is {ensemble[old].Mode}");
        await using (var other = await ensemble.ConnectAsync(next))
            await other.CreateAsync("/rejoined", [], Acl.OpenUnsafe, CreateMode.Persistent);
        await EnsembleKit.AssertConvergedAsync(ensemble, p => p.Core.Pipeline.State.Find("/rejoined") is not null
            && p.Core.Pipeline.State.Find("/uncommitted") is null && p.Core.Pipeline.State.Find("/committed") is not null);
        AssertSynced(old, expectedSync);
    }

    [Fact]
    public async Task An_observer_serves_reads_and_does_not_vote()
    {
        await using var ensemble = await EnsembleKit.StartAsync(output, _log, 3, o => o with { Observers = 1 });
        const int observer = 4;
        await EnsembleKit.WaitAsync(() => ensemble[observer].Mode == PeerMode.Observer, () => $"expected server 4 to observe, it is {ensemble[observer].Mode}");
        await using (var writer = await ensemble.ConnectAsync(observer))
            await writer.CreateAsync("/via-observer", "o"u8.ToArray(), Acl.OpenUnsafe, CreateMode.Persistent);
        await using (var reader = await ensemble.ConnectAsync(observer))
        {
            await reader.SyncAsync("/via-observer");
            Assert.NotNull(await reader.ExistsAsync("/via-observer"));
        }

        // Two of three voters gone: the observer and the last voter are no quorum.
        var voters = ensemble.Ids.Where(id => id != observer).ToList();
        await ensemble.CrashAsync(voters[0]);
        await ensemble.CrashAsync(voters[1]);
        await EnsembleKit.WaitAsync(() => !ensemble[observer].IsServing && !ensemble[voters[2]].IsServing,
            () => $"expected no member to serve without a quorum of voters: observer {ensemble[observer].Mode}, server {voters[2]} {ensemble[voters[2]].Mode}");
        Assert.Null(ensemble.Leader);
    }

    private static async Task CutOffAsync(InMemoryEnsemble ensemble, int follower)
    {
        ensemble.Partition(follower);
        await EnsembleKit.WaitAsync(() => !ensemble[follower].IsServing, () => $"expected server {follower} to stop serving once cut off");
    }

    private void AssertSynced(int learner, string kind)
    {
        var lines = _log.Lines.Where(l => l.Contains($"syncs learner {learner} by ", StringComparison.Ordinal)).ToList();
        Assert.True(lines.Count > 0 && lines[^1].Contains($"by {kind} ", StringComparison.Ordinal),
            $"expected the last sync of learner {learner} to be a {kind}; the leader's syncs of it: {string.Join(" | ", lines)}");
    }
}
