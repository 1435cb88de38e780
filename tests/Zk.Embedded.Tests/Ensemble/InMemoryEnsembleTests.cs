using System.Collections.Concurrent;
using Xunit.Abstractions;
using Zk.Embedded.Api;
using Zk.Embedded.Tests.Interop;
using Zk.Embedded.Wire.Client;
using Zk.Embedded.Tests.Replication;
using Zk.Embedded.Tests.Support;
using Zk.Transport.InMemory;

namespace Zk.Embedded.Tests.Ensemble;

/// <summary>
/// Whole ensembles of <see cref="ZkPeer"/>s through the public API (<see cref="InMemoryEnsemble"/>): sessions on any
/// member, writes through followers, a leader crash with writes going on, a restarted member catching up, a minority
/// partition that stops serving, and identical trees at quiescence. Each test prints the network seed.
/// </summary>
public sealed class InMemoryEnsembleTests(ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);
    private readonly TraceLogger _log = new();

    /// <summary>The members' log, for the reader of a failure.</summary>
    public void Dispose() => output.WriteLine(_log.Tail());

    [Theory]
    [InlineData(3)]
    [InlineData(5)]
    public async Task Writes_through_any_member_reach_every_member_and_go_on_after_the_leader_crashes(int voters)
    {
        await using var ensemble = await StartAsync(voters);
        var leader = ensemble.Leader!.Value;
        var follower = ensemble.Followers[0];
        await using (var zk = await ensemble.ConnectAsync(follower))
        {
            await zk.CreateAsync("/app", "v1"u8.ToArray(), Acl.OpenUnsafe, CreateMode.Persistent);
            await ensemble.CrashAsync(leader);
            var next = await ensemble.WaitForLeaderAsync(Deadline);
            Assert.True(next != leader, $"expected a new leader after server {leader} crashed, still {next}");
            await RetryOnConnectionLossAsync(() => zk.SetDataAsync("/app", "v2"u8.ToArray(), -1).AsTask());
            await zk.CreateAsync("/app/after", [], Acl.OpenUnsafe, CreateMode.Persistent);
        }

        await ensemble.RestartAsync(leader);
        await AssertConvergedAsync(ensemble, peer =>
            peer.Core.Pipeline.State.Find("/app") is { Data: var data } && data.AsSpan().SequenceEqual("v2"u8)
            && peer.Core.Pipeline.State.Find("/app/after") is not null);
    }

    [Fact]
    public async Task Members_raise_LeadershipChanged_and_report_their_mode()
    {
        var changes = new ConcurrentQueue<(long Server, LeadershipChangedEventArgs Change)>();
        await using var ensemble = await StartAsync(3);
        foreach (var peer in ensemble.Running)
            peer.LeadershipChanged += (sender, change) => changes.Enqueue((((ZkPeer)sender!).Options.ServerId, change));
        var leader = ensemble.Leader!.Value;
        Assert.Equal(PeerMode.Leader, ensemble[leader].Mode);
        Assert.All(ensemble.Followers, id => Assert.Equal(leader, ensemble[id].LeaderId));

        await ensemble.CrashAsync(leader);
        var next = await ensemble.WaitForLeaderAsync(Deadline);
        await WaitAsync(() => changes.Any(c => c.Server == next && c.Change.IsLeader),
            () => $"expected server {next} to raise LeadershipChanged as leader; got {string.Join("; ", changes.Select(c => $"{c.Server}: {c.Change}"))}");
        Assert.Equal(PeerMode.Leader, ensemble[next].Mode);
        Assert.All(ensemble.Followers, id => Assert.Equal(next, ensemble[id].LeaderId));
    }

    [Fact]
    public async Task A_partitioned_minority_stops_serving_while_the_majority_commits()
    {
        await using var ensemble = await StartAsync(3);
        var leader = ensemble.Leader!.Value;
        var cut = ensemble.Followers[0];
        await using var minority = await ensemble.ConnectAsync(cut);
        await using var majority = await ensemble.ConnectAsync(leader);
        await minority.CreateAsync("/before", [], Acl.OpenUnsafe, CreateMode.Persistent);

        ensemble.Partition(cut);
        await WaitAsync(() => !ensemble[cut].IsServing, () => $"expected server {cut} to stop serving once cut off; it is {ensemble[cut].Mode}");
        var refused = await Assert.ThrowsAsync<ZkException>(() => minority.CreateAsync("/cut", [], Acl.OpenUnsafe, CreateMode.Persistent).AsTask());
        Assert.True(refused.Code == ZkErrorCode.ConnectionLoss, $"expected ConnectionLoss for a write on the cut-off member, got {refused.Code}");
        await majority.CreateAsync("/during", [], Acl.OpenUnsafe, CreateMode.Persistent);

        ensemble.Heal();
        await ensemble.WaitForLeaderAsync(Deadline);
        await AssertConvergedAsync(ensemble, peer => peer.Core.Pipeline.State.Find("/during") is not null
            && peer.Core.Pipeline.State.Find("/cut") is null);
    }

    [Fact]
    public async Task A_session_keeps_its_ephemerals_when_it_moves_to_another_member()
    {
        await using var ensemble = await StartAsync(3);
        var (first, second) = (ensemble.Followers[0], ensemble.Leader!.Value);
        var zk = await ensemble.ConnectAsync(first);
        await zk.CreateAsync("/owner", [], Acl.OpenUnsafe, CreateMode.Ephemeral);

        await using var moved = await ensemble.ConnectAsync(second, new ZkSessionOptions { SessionId = zk.SessionId, SessionPassword = zk.SessionPassword });
        Assert.NotNull(await moved.ExistsAsync("/owner"));
        await moved.CreateAsync("/owner2", [], Acl.OpenUnsafe, CreateMode.Ephemeral);
        var stale = await Assert.ThrowsAsync<ZkException>(() => zk.SetDataAsync("/owner", [1], -1).AsTask());
        Assert.True(stale.Code is ZkErrorCode.SessionMoved or ZkErrorCode.ConnectionLoss or ZkErrorCode.SessionExpired,
            $"expected the old handle's write to fail once the session moved, got {stale.Code}");

        await moved.CloseAsync();
        await AssertConvergedAsync(ensemble, peer => peer.Core.Pipeline.State.Find("/owner") is null && peer.Core.Pipeline.State.Find("/owner2") is null);
    }

    [Fact]
    public async Task Wire_clients_reach_any_member_and_srvr_reports_each_members_mode()
    {
        await using var ensemble = await StartAsync(3, new ZkPeerOptions { ClientPort = 0, FourLetterWordWhitelist = "*", MaxSessionTimeout = TimeSpan.FromMinutes(1) });
        var leader = ensemble.Leader!.Value;
        var follower = ensemble.Followers[0];
        Assert.Contains("Mode: leader", await InteropTools.FourLetterWordAsync(ensemble[leader].ClientEndPoint!, "srvr", Deadline));
        Assert.Contains("Mode: follower", await InteropTools.FourLetterWordAsync(ensemble[follower].ClientEndPoint!, "srvr", Deadline));
        Assert.Contains("zk_server_state\tfollower", await InteropTools.FourLetterWordAsync(ensemble[follower].ClientEndPoint!, "mntr", Deadline));

        await using (var client = await ZkClient.ConnectAsync(ensemble[follower].ClientEndPoint!.ToString()))
            await client.CreateAsync("/wire", "w"u8.ToArray(), Acl.OpenUnsafe, CreateMode.Persistent);
        await AssertConvergedAsync(ensemble, peer => peer.Core.Pipeline.State.Find("/wire") is not null);

        ensemble.Partition(follower);
        await WaitAsync(() => !ensemble[follower].IsServing, () => $"expected server {follower} to stop serving once cut off");
        var refused = await InteropTools.FourLetterWordAsync(ensemble[follower].ClientEndPoint!, "srvr", Deadline);
        Assert.True(refused.Contains("not currently serving requests"), $"expected srvr of a member without a leader to say it does not serve, got: {refused}");
    }

    private async Task<InMemoryEnsemble> StartAsync(int voters, ZkPeerOptions? peer = null)
    {
        var seed = Environment.GetEnvironmentVariable("ZK_SEED") is { } s ? int.Parse(s) : Random.Shared.Next();
        output.WriteLine($"network seed={seed} (set ZK_SEED to replay)");
        return await InMemoryEnsemble.StartAsync(voters, new InMemoryEnsembleOptions { Network = new InMemoryNetworkOptions { Seed = seed }, WaitTimeout = Deadline, LoggerFactory = _log, Peer = peer ?? new InMemoryEnsembleOptions().Peer });
    }

    /// <summary>A write in flight when the leader crashed fails with ConnectionLoss; a client tries again (as ZooKeeper's do).</summary>
    private static async Task RetryOnConnectionLossAsync(Func<Task> write)
    {
        var deadline = DateTime.UtcNow + Deadline;
        while (true)
        {
            try
            {
                await write();
                return;
            }
            catch (ZkException e) when (e.Code == ZkErrorCode.ConnectionLoss && DateTime.UtcNow < deadline)
            {
                await Task.Delay(20);
            }
        }
    }

    /// <summary>Every running member satisfies <paramref name="holds"/> and all trees are identical.</summary>
    private static async Task AssertConvergedAsync(InMemoryEnsemble ensemble, Func<ZkPeer, bool> holds)
    {
        string Describe() => string.Join(", ", ensemble.Running.Select(p =>
            $"server {p.Options.ServerId} {p.Mode} zxid {p.LastZxid:x} digest {TreeDigest.Of(p.Core.Pipeline.State)[..12]} holds={holds(p)}"));
        await WaitAsync(() => ensemble.Running.All(holds)
            && ensemble.Running.Select(p => TreeDigest.Of(p.Core.Pipeline.State)).Distinct().Count() == 1,
            () => $"expected every member to converge on identical trees: {Describe()}");
    }

    private static async Task WaitAsync(Func<bool> condition, Func<string> failure)
    {
        var deadline = DateTime.UtcNow + Deadline;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
                Assert.Fail(failure());
            await Task.Delay(10);
        }
    }
}
