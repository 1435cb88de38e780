using System.Collections.Concurrent;
using Xunit.Abstractions;
using Zk.Embedded.Api;
using Zk.Embedded.Ensemble;
using Zk.Embedded.Processing;
using Zk.Embedded.Sessions;
using Zk.Embedded.Tests.Support;

namespace Zk.Embedded.Tests.Ensemble;

/// <summary>
/// Sessions of three in-memory <see cref="EnsembleMember"/>s as <see cref="GlobalSessions"/> keeps them: created and
/// closed by txns through any member, kept alive by the activity followers report, expired by the leader alone (its
/// close txn removes the ephemerals everywhere), given a fresh deadline by a new leader, and moved between members
/// with their ephemerals while writes through the old member fail with SessionMoved.
/// </summary>
[Collection(RunsAlone.Name)]
public sealed class GlobalSessionTests(ITestOutputHelper output)
{
    private static readonly IReadOnlyList<Acl> Open = Acl.OpenUnsafe;

    [Fact]
    public async Task A_session_created_through_a_follower_and_its_ephemerals_exist_on_every_member_until_it_closes()
    {
        await using var ensemble = await TrafficEnsemble.StartAsync(output);
        var follower = (await ensemble.FollowersAsync())[0];
        var session = await ensemble.NewSessionAsync(follower);
        var sink = new Sink();
        session.Sink = sink;
        await ensemble.WriteAsync(follower, session, Ephemeral("/e1"), 1);
        await ensemble.WriteAsync(follower, session, Ephemeral("/e2"), 2);
        var leader = await ensemble.LeaderAsync();
        await ensemble.AssertIdenticalAsync(leader.State.Zxid);
        foreach (var m in ensemble.Members.Values)
        {
            Assert.True(m.State.Sessions.ContainsKey(session.SessionId), $"expected session {session.SessionId} in server {m.Id}'s tree");
            Assert.True(m.State.Find("/e1")?.EphemeralOwner == session.SessionId.Value && m.State.Find("/e2") is not null,
                $"expected /e1 and /e2 owned by session {session.SessionId} on server {m.Id}");
        }

        await ensemble.WriteAsync(follower, session, new CloseSessionRequest(Expired: false), 3);
        await ensemble.AssertIdenticalAsync(leader.State.Zxid);
        foreach (var m in ensemble.Members.Values)
        {
            Assert.True(!m.State.Sessions.ContainsKey(session.SessionId) && !m.State.Ephemerals.ContainsKey(session.SessionId),
                $"expected session {session.SessionId} and its ephemeral table gone from server {m.Id}");
            Assert.True(m.State.Find("/e1") is null && m.State.Find("/e2") is null, $"expected /e1 and /e2 gone from server {m.Id}");
        }

        var ended = await sink.Ended.Task.WaitAsync(TrafficEnsemble.Deadline);
        Assert.True(ended == KeeperState.Closed, $"expected the follower to tell its client the session closed, got {ended}");
        Assert.False(follower.Sessions.TryGet(session.SessionId, out _), "expected the follower to stop tracking the closed session");
    }

    [Fact]
    public async Task A_silent_session_is_expired_by_the_leader_everywhere_while_one_heartbeating_through_a_follower_lives()
    {
        await using var ensemble = await TrafficEnsemble.StartAsync(output);
        var follower = (await ensemble.FollowersAsync())[0];
        var silent = await ensemble.NewSessionAsync(follower, timeoutMillis: 200);
        var silentSink = new Sink();
        silent.Sink = silentSink;
        var alive = await ensemble.NewSessionAsync(follower, timeoutMillis: 2_000);
        await ensemble.WriteAsync(follower, silent, Ephemeral("/silent"), 1);
        await ensemble.WriteAsync(follower, alive, Ephemeral("/alive"), 1);

        // The living session's client pings its follower only; the leader hears of it through the follower's reports.
        using var stop = new CancellationTokenSource();
        var pings = PingAsync(follower, alive, stop.Token);
        try
        {
            foreach (var m in ensemble.Members.Values)
                await ensemble.WaitAsync(m, () => !m.State.Sessions.ContainsKey(silent.SessionId), $"the silent session gone from server {m.Id}");
            var leader = await ensemble.LeaderAsync();
            await ensemble.AssertIdenticalAsync(leader.State.Zxid);
            foreach (var m in ensemble.Members.Values)
            {
                Assert.True(m.State.Find("/silent") is null, $"expected the expired session's /silent gone from server {m.Id}");
                Assert.True(m.State.Sessions.ContainsKey(alive.SessionId) && m.State.Find("/alive") is not null,
                    $"expected the heartbeating session and its /alive on server {m.Id}: only the leader expires, on the follower's reports");
            }

            var ended = await silentSink.Ended.Task.WaitAsync(TrafficEnsemble.Deadline);
            Assert.True(ended == KeeperState.Expired, $"expected the silent session's client to hear Expired, got {ended}");
            var write = await TrafficEnsemble.SubmitAsync(follower, alive, Create("/still"), 2);
            Assert.True(write.Error == ZkErrorCode.Ok, $"expected the living session to write after the other expired, got {write.Error}");
        }
        finally
        {
            await stop.CancelAsync();
            await pings;
        }
    }

    [Fact]
    public async Task A_new_leader_gives_every_session_a_fresh_deadline_and_expires_the_ones_no_client_comes_back_for()
    {
        await using var ensemble = await TrafficEnsemble.StartAsync(output);
        var leader = await ensemble.LeaderAsync();
        var followers = await ensemble.FollowersAsync();
        var kept = new List<ServerSession>();
        foreach (var f in followers)
            kept.Add(await ensemble.NewSessionAsync(f, timeoutMillis: 5_000));
        var orphan = await ensemble.NewSessionAsync(leader, timeoutMillis: 300);
        await ensemble.WriteAsync(leader, orphan, Ephemeral("/orphan"), 1);
        await ensemble.AssertIdenticalAsync(leader.State.Zxid);
        // A follower's tracker also holds sessions its clients are still connecting (no createSession committed),
        // as many as make its count equal the tree's: they must not hide the tree's other sessions from the new leader.
        foreach (var f in followers)
        {
            while (f.Sessions.Count < f.State.Sessions.Count)
                f.Sessions.Add(new ServerSession(f.Sessions.NextSessionId(), [], 60_000, SessionTracker.LocalIds));
        }

        var beforeCrash = TimeProvider.System.GetTimestamp();

        await ensemble.CrashAsync(leader.Id);
        var next = await ensemble.AllServingAsync();
        // Checked on the new leader's loop right after it serves: every session of its tree is tracked, heard from
        // no earlier than the crash (ZooKeeper's new leader re-adds each session with now + timeout).
        var stale = new List<string>();
        await ensemble.WaitAsync(next, () =>
        {
            stale.Clear();
            foreach (var id in next.State.Sessions.Keys)
            {
                if (!next.Sessions.TryGet(id, out var s))
                    stale.Add($"{id} untracked");
                else if (s.LastHeardTimestamp < beforeCrash)
                    stale.Add($"{id} last heard before the crash");
            }

            return true;
        }, "a look at the new leader's tracker");
        Assert.True(stale.Count == 0, $"expected every session tracked with a fresh deadline on new leader {next.Id}, got {string.Join(", ", stale)}");

        using var stop = new CancellationTokenSource();
        var pings = kept.Select((s, i) => PingAsync(followers[i], s, stop.Token)).ToList();
        try
        {
            foreach (var m in ensemble.Members.Values)
                await ensemble.WaitAsync(m, () => !m.State.Sessions.ContainsKey(orphan.SessionId), $"the crashed leader's silent session expired on server {m.Id}");
            foreach (var m in ensemble.Members.Values)
            {
                Assert.True(m.State.Find("/orphan") is null, $"expected /orphan gone from server {m.Id} with its session");
                foreach (var s in kept)
                    Assert.True(m.State.Sessions.ContainsKey(s.SessionId), $"expected session {s.SessionId}, alive through the failover, on server {m.Id}");
            }
        }
        finally
        {
            await stop.CancelAsync();
            await Task.WhenAll(pings);
        }
    }

    [Fact]
    public async Task A_session_moved_to_another_member_keeps_its_ephemerals_and_its_writes_through_the_old_one_fail_with_SessionMoved()
    {
        await using var ensemble = await TrafficEnsemble.StartAsync(output);
        var followers = await ensemble.FollowersAsync();
        var (from, to) = (followers[0], followers[1]);
        var session = await ensemble.NewSessionAsync(from);
        var created = await ensemble.WriteAsync(from, session, Ephemeral("/mine"), 1);
        var seen = created.Zxid;
        await ensemble.WaitAsync(to, () => to.State.Zxid >= seen, $"server {to.Id} to reach zxid {seen}");

        var behind = Assert.Throws<ZkException>(() => to.Reattach(session.SessionId, session.Password, new Zxid(to.State.Zxid.Value + 1)));
        Assert.True(behind.Code == ZkErrorCode.ConnectionLoss, $"expected a client that saw a newer zxid refused with ConnectionLoss, got {behind.Code}");
        var wrong = Assert.Throws<ZkException>(() => to.Reattach(session.SessionId, new byte[16], seen));
        Assert.True(wrong.Code == ZkErrorCode.SessionExpired, $"expected a wrong password refused with SessionExpired, got {wrong.Code}");

        var moved = to.Reattach(session.SessionId, session.Password, seen)
            ?? throw new InvalidOperationException("expected the member to know the session");
        await ensemble.WriteAsync(to, moved, Ephemeral("/mine2"), 2);
        var stale = await TrafficEnsemble.SubmitAsync(from, session, new SetDataRequest("/mine", [9], -1), 3);
        Assert.True(stale.Error == ZkErrorCode.SessionMoved, $"expected a write through the old member to fail with SessionMoved, got {stale.Error}");

        var leader = await ensemble.LeaderAsync();
        await ensemble.AssertIdenticalAsync(leader.State.Zxid);
        foreach (var m in ensemble.Members.Values)
        {
            Assert.True(m.State.Find("/mine") is { Data: [1] } mine && mine.EphemeralOwner == session.SessionId.Value,
                $"expected /mine unchanged and still the session's on server {m.Id}");
            Assert.True(m.State.Find("/mine2") is not null, $"expected /mine2 on server {m.Id}");
        }

        // Back to the first member: writes through it work again, and through the second fail.
        var back = from.Reattach(session.SessionId, session.Password, leader.State.Zxid)
            ?? throw new InvalidOperationException("expected the member to know the session");
        await ensemble.WriteAsync(from, back, new SetDataRequest("/mine", [2], 0), 4);
        var again = await TrafficEnsemble.SubmitAsync(to, moved, new SetDataRequest("/mine", [9], -1), 5);
        Assert.True(again.Error == ZkErrorCode.SessionMoved, $"expected the second member's write to fail with SessionMoved once the session moved back, got {again.Error}");
        await ensemble.WriteAsync(from, back, new CloseSessionRequest(Expired: false), 6);
        await ensemble.AssertIdenticalAsync(leader.State.Zxid);
        foreach (var m in ensemble.Members.Values)
            Assert.True(m.State.Find("/mine") is null && m.State.Find("/mine2") is null, $"expected both ephemerals gone from server {m.Id} after the close");
    }

    [Fact]
    public async Task After_a_leader_change_the_first_member_a_session_writes_through_owns_it()
    {
        await using var ensemble = await TrafficEnsemble.StartAsync(output);
        var leader = await ensemble.LeaderAsync();
        var first = (await ensemble.FollowersAsync())[0];
        var session = await ensemble.NewSessionAsync(first);
        await ensemble.CrashAsync(leader.Id);
        await ensemble.AllServingAsync();
        var other = ensemble.Members.Values.Single(m => m != first);

        // The new leader knows no owners; the first write claims the session (ZooKeeper's checkSession), so a write
        // through another member that the client never reattached to is refused.
        await ensemble.WriteAsync(first, session, Create("/claimed"), 1);
        var stray = await TrafficEnsemble.SubmitAsync(other, session, Create("/stray"), 2);
        Assert.True(stray.Error == ZkErrorCode.SessionMoved, $"expected a write through server {other.Id}, not the session's, to fail with SessionMoved, got {stray.Error}");
    }

    [Fact]
    public async Task The_leader_forgets_the_members_of_sessions_that_closed()
    {
        await using var ensemble = await TrafficEnsemble.StartAsync(output);
        var leader = await ensemble.LeaderAsync();
        var follower = (await ensemble.FollowersAsync())[0];
        for (var i = 0; i < 10; i++)
        {
            var session = await ensemble.NewSessionAsync(follower);
            await ensemble.WriteAsync(follower, session, new CloseSessionRequest(Expired: false), 1);
        }

        await ensemble.WaitAsync(leader, () => leader.SessionOwnerCount == 0, "the leader's owner table empty once every session closed");
    }

    /// <summary>A client's pings: touches the session on its member until stopped.</summary>
    private static async Task PingAsync(EnsembleMember member, ServerSession session, CancellationToken stop)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(20));
        try
        {
            while (await timer.WaitForNextTickAsync(stop))
                member.Sessions.Touch(session);
        }
        catch (OperationCanceledException)
        {
            // stopped
        }
    }

    private static CreateRequest Ephemeral(string path) => new(path, [1], Open, CreateMode.Ephemeral, -1, false);

    private static CreateRequest Create(string path) => new(path, [1], Open, CreateMode.Persistent, -1, false);

    private sealed class Sink : ISessionSink
    {
        public TaskCompletionSource<KeeperState> Ended { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void OnWatchEvent(WatchedEvent watchedEvent)
        {
        }

        public void OnSessionEnded(KeeperState state) => Ended.TrySetResult(state);

        public void OnDetached()
        {
        }
    }
}
