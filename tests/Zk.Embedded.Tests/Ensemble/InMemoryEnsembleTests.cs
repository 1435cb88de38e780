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
// Alone: a three-voter ensemble with a short tick loses its quorum when the parallel tests starve one follower
// for syncLimit ticks, which is the behaviour under test elsewhere, not here.
[Collection(RunsAlone.Name)]
public sealed class InMemoryEnsembleTests(ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan Deadline = EnsembleKit.Deadline;
    private readonly TraceLogger _log = new();

    /// <summary>The members' log, for the reader of a failure.</summary>
    public void Dispose() => output.WriteLine(_log.Tail());

    [Fact]
    public async Task A_write_forwarded_by_a_member_that_crashes_fails_with_ConnectionLoss_instead_of_waiting_for_ever()
    {
        await using var ensemble = await StartAsync(3);
        var follower = ensemble.Followers[0];
        var zk = await ensemble.ConnectAsync(follower);
        // Paused, the follower's forward never leaves; crashed, nothing it waits for can come back.
        ensemble.Network.Pause(follower);
        var write = zk.CreateAsync("/lost", [], Acl.OpenUnsafe, CreateMode.Persistent).AsTask();
        await ensemble.CrashAsync(follower);
        var finished = await Task.WhenAny(write, Task.Delay(Deadline));
        Assert.True(finished == write, $"expected the forwarded write to fail once its member crashed; it was still waiting after {Deadline}");
        var failure = await Assert.ThrowsAsync<ZkException>(() => write);
        Assert.Equal(ZkErrorCode.ConnectionLoss, failure.Code);
    }

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
            await EnsembleKit.RetryOnConnectionLossAsync(() => zk.SetDataAsync("/app", "v2"u8.ToArray(), -1).AsTask());
            await zk.CreateAsync("/app/after", [], Acl.OpenUnsafe, CreateMode.Persistent);
        }

        await ensemble.RestartAsync(leader);
        await EnsembleKit.AssertConvergedAsync(ensemble, peer =>
            peer.Core.Pipeline.State.Find("/app") is { Data: var data } && data.AsSpan().SequenceEqual("v2"u8)
            && peer.Core.Pipeline.State.Find("/app/after") is not null);
    }

    [Fact]
    public async Task A_crashed_leaders_followers_give_it_up_when_its_connection_closes_even_with_ZooKeepers_default_tick()
    {
        // tickTime 2000 (ZooKeeper's default): syncLimit 5 would let a silent leader go unnoticed for 10 s. A crash
        // closes its connections, and the followers act on that at once, as ZooKeeper's do when the socket fails.
        await using var ensemble = await EnsembleKit.StartAsync(output, _log, 3, o => o with { TickTime = TimeSpan.FromSeconds(2) });
        var leader = ensemble.Leader!.Value;
        await ensemble.CrashAsync(leader);
        var next = await ensemble.WaitForLeaderAsync(Deadline);
        await using var zk = await ensemble.ConnectAsync(next);
        await zk.CreateAsync("/after-crash", [], Acl.OpenUnsafe, CreateMode.Persistent);
        Assert.True(_log.Lines.Any(l => l.Contains($"connection to leader {leader} closed", StringComparison.Ordinal)),
            $"expected a follower to give up leader {leader} because its connection closed, not by syncLimit; the log:\n{_log.Tail(40)}");
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
        await EnsembleKit.WaitAsync(() => changes.Any(c => c.Server == next && c.Change.IsLeader),
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
        var states = new ConcurrentQueue<KeeperState>();
        minority.StateChanged += states.Enqueue;

        ensemble.Partition(cut);
        await EnsembleKit.WaitAsync(() => !ensemble[cut].IsServing, () => $"expected server {cut} to stop serving once cut off; it is {ensemble[cut].Mode}");
        var refused = await Assert.ThrowsAsync<ZkException>(() => minority.CreateAsync("/cut", [], Acl.OpenUnsafe, CreateMode.Persistent).AsTask());
        Assert.True(refused.Code == ZkErrorCode.ConnectionLoss, $"expected ConnectionLoss for a write on the cut-off member, got {refused.Code}");
        await majority.CreateAsync("/during", [], Acl.OpenUnsafe, CreateMode.Persistent);

        await EnsembleKit.WaitAsync(() => states.Contains(KeeperState.Disconnected), () => $"expected the cut-off member's session to hear Disconnected, got [{string.Join(", ", states)}]");

        ensemble.Heal();
        await ensemble.WaitForLeaderAsync(Deadline);
        await EnsembleKit.AssertConvergedAsync(ensemble, peer => peer.Core.Pipeline.State.Find("/during") is not null
            && peer.Core.Pipeline.State.Find("/cut") is null);
        await EnsembleKit.WaitAsync(() => states.LastOrDefault() == KeeperState.SyncConnected, () => $"expected the session to hear SyncConnected once its member serves again, got [{string.Join(", ", states)}]");
        Assert.NotNull(await minority.ExistsAsync("/during"));
    }

    [Fact]
    public async Task A_reattach_whose_claim_the_leader_never_answers_is_attached_after_a_tick_and_counted()
    {
        using var unanswered = new CounterProbe(Telemetry.MeterName, "zk.sessions.reattach.unanswered");
        await using var ensemble = await StartAsync(3);
        var (leader, follower) = (ensemble.Leader!.Value, ensemble.Followers[0]);
        var zk = await ensemble.ConnectAsync(leader);
        await EnsembleKit.WaitAsync(() => ensemble[follower].Core.Pipeline.State.Sessions.ContainsKey(new SessionId(zk.SessionId)),
            () => $"expected server {follower} to apply the createSession of {zk.SessionId:x}");   // else it would catch up by a read index, which the block stops

        ensemble.Network.Block(follower, leader);   // the follower's claim never arrives
        var moved = await ensemble.ConnectAsync(follower, new ZkSessionOptions { SessionId = zk.SessionId, SessionPassword = zk.SessionPassword, LastZxidSeen = zk.LastZxidSeen })
            .AsTask().WaitAsync(EnsembleKit.Deadline);
        ensemble.Heal();

        Assert.True(moved.State == SessionState.Connected, $"expected the reattach to go through after its wait, the handle is {moved.State}");
        Assert.True(unanswered.Total >= 1, "expected zk.sessions.reattach.unanswered to count the reattach answered before its claim was");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_session_reattached_on_a_follower_its_createSession_has_not_reached_yet_is_attached_not_expired(bool overTheWire)
    {
        // tickTime 500: syncLimit is 2.5 s, so the follower keeps its leader while whatever the leader sends it arrives
        // a second late (in order), the session's createSession among it; a second is the margin this test has.
        await using var ensemble = await EnsembleKit.StartAsync(output, _log, 3,
            o => o with { TickTime = TimeSpan.FromMilliseconds(500), Peer = new ZkPeerOptions { ClientPort = 0 } });
        var (leader, follower) = (ensemble.Leader!.Value, ensemble.Followers[0]);
        ensemble.Network.SetFaults(leader, follower, new LinkFaults { MinDelay = TimeSpan.FromSeconds(1), MaxDelay = TimeSpan.FromSeconds(1) });
        var zk = await ensemble.ConnectAsync(leader);
        var id = new SessionId(zk.SessionId);
        Assert.False(ensemble[follower].Core.Pipeline.State.Sessions.ContainsKey(id), $"expected server {follower} not to have applied the createSession of {id} yet");

        // As a Java or kazoo client that has seen only its connect answered: no zxid to refuse on.
        await using var moved = overTheWire
            ? (IZooKeeper)await ZkClient.ConnectAsync(ensemble[follower].ClientEndPoint!.ToString(), new ZkClientOptions { SessionId = zk.SessionId, SessionPassword = zk.SessionPassword })
                .AsTask().WaitAsync(EnsembleKit.Deadline)
            : await ensemble.ConnectAsync(follower, new ZkSessionOptions { SessionId = zk.SessionId, SessionPassword = zk.SessionPassword })
                .AsTask().WaitAsync(EnsembleKit.Deadline);
        ensemble.Network.SetFaults(leader, follower, null);

        await moved.CreateAsync("/moved", [], Acl.OpenUnsafe, CreateMode.Ephemeral);
        Assert.Equal(zk.SessionId, (await moved.ExistsAsync("/moved"))?.EphemeralOwner);
    }

    [Fact]
    public async Task A_session_keeps_its_ephemerals_when_it_moves_to_another_member()
    {
        await using var ensemble = await StartAsync(3);
        var (first, second) = (ensemble.Followers[0], ensemble.Leader!.Value);
        var zk = await ensemble.ConnectAsync(first);
        await zk.CreateAsync("/owner", [], Acl.OpenUnsafe, CreateMode.Ephemeral);
        var epoch = EpochOf(ensemble, second);

        await using var moved = await ensemble.ConnectAsync(second, new ZkSessionOptions { SessionId = zk.SessionId, SessionPassword = zk.SessionPassword });
        // Re-attached without the old handle's LastZxidSeen, nothing stops the leader from answering before it
        // published its own commit (the next test passes it): sync first, as ZooKeeper's clients do.
        await moved.SyncAsync("/owner");
        Assert.True(await moved.ExistsAsync("/owner") is not null, "expected the session's ephemeral on the member it moved to");
        await moved.CreateAsync("/owner2", [], Acl.OpenUnsafe, CreateMode.Ephemeral);
        ZkException? stale = null;
        try
        {
            await zk.SetDataAsync("/owner", [1], -1);
        }
        catch (ZkException e)
        {
            stale = e;
        }

        // A leader elected meanwhile (a starved member can cost the quorum for a moment) learns which member holds each
        // session afresh, from the first write through one, as ZooKeeper's does: only then may the old handle's write
        // go through.
        Assert.True(stale is not null || EpochOf(ensemble, second) != epoch,
            $"expected the old handle's write to fail once the session moved; it succeeded with no leader change (epoch {epoch})");
        Assert.True(stale is null || stale.Code is ZkErrorCode.SessionMoved or ZkErrorCode.ConnectionLoss or ZkErrorCode.SessionExpired,
            $"expected the old handle's write to fail with SessionMoved, ConnectionLoss or SessionExpired, got {stale?.Code}");

        await moved.CloseAsync();
        await EnsembleKit.AssertConvergedAsync(ensemble, peer => peer.Core.Pipeline.State.Find("/owner") is null && peer.Core.Pipeline.State.Find("/owner2") is null);
    }

    /// <summary>The epoch member <paramref name="server"/> serves in, or null while it has none.</summary>
    private static uint? EpochOf(InMemoryEnsemble ensemble, int server) =>
        ensemble.Running.FirstOrDefault(p => p.Options.ServerId == server)?.Core.Member?.Status.EstablishedEpoch;

    [Fact]
    public async Task A_session_re_attached_with_its_last_seen_zxid_is_refused_by_a_member_without_it_and_never_reads_back_in_time()
    {
        await using var ensemble = await StartAsync(3);
        var (first, second) = (ensemble.Followers[0], ensemble.Followers[1]);
        var zk = await ensemble.ConnectAsync(first);
        await zk.CreateAsync("/seen", [1], Acl.OpenUnsafe, CreateMode.Persistent);
        var created = (await zk.ExistsAsync("/seen"))!.Value.Mzxid;
        Assert.True(zk.LastZxidSeen >= created, $"expected the handle to have seen the create's zxid 0x{created:x}, it saw 0x{zk.LastZxidSeen:x}");

        // A zxid no member has applied yet: refused, as ZooKeeper refuses a client that has seen more than the server.
        var ahead = await Assert.ThrowsAsync<ZkException>(() => ensemble.ConnectAsync(second,
            new ZkSessionOptions { SessionId = zk.SessionId, SessionPassword = zk.SessionPassword, LastZxidSeen = zk.LastZxidSeen + 1 }).AsTask());
        Assert.True(ahead.Code == ZkErrorCode.ConnectionLoss, $"expected ConnectionLoss for a zxid the member has not seen, got {ahead.Code}");

        // With what it saw: accepted once the member has it (ConnectionLoss until then, and the client tries again),
        // and then its read shows the create without a sync.
        var options = new ZkSessionOptions { SessionId = zk.SessionId, SessionPassword = zk.SessionPassword, LastZxidSeen = zk.LastZxidSeen };
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        IZooKeeper moved;
        while (true)
        {
            try
            {
                moved = await ensemble.ConnectAsync(second, options);
                break;
            }
            catch (ZkException e) when (e.Code == ZkErrorCode.ConnectionLoss && System.Diagnostics.Stopwatch.GetElapsedTime(started) < Deadline)
            {
                await Task.Delay(5); // the member catches up within a commit or two
            }
        }

        await using (moved)
        {
            Assert.Equal([1], (await moved.GetDataAsync("/seen")).Data.ToArray());
            Assert.True(moved.LastZxidSeen >= zk.LastZxidSeen, $"expected the moved handle to have seen at least 0x{zk.LastZxidSeen:x}, it saw 0x{moved.LastZxidSeen:x}");
        }
    }

    [Fact]
    public async Task Wire_clients_reach_any_member_and_srvr_reports_each_members_mode()
    {
        await using var ensemble = await StartAsync(3, new ZkPeerOptions { ClientPort = 0, FourLetterWordWhitelist = "*", MaxSessionTimeout = TimeSpan.FromMinutes(1) });
        var leader = ensemble.Leader!.Value;
        var follower = ensemble.Followers[0];
        Assert.Contains("Mode: leader", await InteropTools.FourLetterWordAsync(ensemble[leader].ClientEndPoint!, "srvr", Deadline));
        Assert.Contains("Mode: follower", await InteropTools.FourLetterWordAsync(ensemble[follower].ClientEndPoint!, "srvr", Deadline));
        var followerMntr = await InteropTools.FourLetterWordAsync(ensemble[follower].ClientEndPoint!, "mntr", Deadline);
        Assert.Contains("zk_server_state\tfollower", followerMntr);
        Assert.Contains("zk_peer_state\tfollowing - broadcast", followerMntr);
        Assert.DoesNotContain("zk_learners", followerMntr);
        await EnsembleKit.WaitAsync(() => ensemble.Followers.Count == 2, () => "expected both followers to serve");
        var leaderMntr = await InteropTools.FourLetterWordAsync(ensemble[leader].ClientEndPoint!, "mntr", Deadline);
        Assert.Contains("zk_peer_state\tleading - broadcast", leaderMntr);
        Assert.Contains("zk_learners\t2", leaderMntr);
        Assert.Contains("zk_synced_followers\t2", leaderMntr);
        Assert.Contains("zk_synced_observers\t0", leaderMntr);

        await using (var client = await ZkClient.ConnectAsync(ensemble[follower].ClientEndPoint!.ToString()))
            await client.CreateAsync("/wire", "w"u8.ToArray(), Acl.OpenUnsafe, CreateMode.Persistent);
        await EnsembleKit.AssertConvergedAsync(ensemble, peer => peer.Core.Pipeline.State.Find("/wire") is not null);

        ensemble.Partition(follower);
        await EnsembleKit.WaitAsync(() => !ensemble[follower].IsServing, () => $"expected server {follower} to stop serving once cut off");
        var refused = await InteropTools.FourLetterWordAsync(ensemble[follower].ClientEndPoint!, "srvr", Deadline);
        Assert.True(refused.Contains("not currently serving requests"), $"expected srvr of a member without a leader to say it does not serve, got: {refused}");
        // It takes no writes, so it never says imok (the mission's rule; ZooKeeper's ruok answers nothing in an error state).
        var ruok = await InteropTools.FourLetterWordAsync(ensemble[follower].ClientEndPoint!, "ruok", Deadline);
        Assert.True(ruok == "", $"expected ruok of a member without a leader to answer nothing, got: {ruok}");
        Assert.Equal("imok", await InteropTools.FourLetterWordAsync(ensemble[leader].ClientEndPoint!, "ruok", Deadline));
    }

    private Task<InMemoryEnsemble> StartAsync(int voters, ZkPeerOptions? peer = null) =>
        EnsembleKit.StartAsync(output, _log, voters, options => peer is null ? options : options with { Peer = peer });
}
