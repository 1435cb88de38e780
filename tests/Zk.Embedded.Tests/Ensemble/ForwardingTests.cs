using Zk.Testing;
using System.Collections.Concurrent;
using Xunit.Abstractions;
using Zk.Embedded.Api;
using Zk.Embedded.Ensemble;
using Zk.Embedded.Processing;
using Zk.Embedded.Sessions;
using Zk.Embedded.Tests.Support;
using Zk.Embedded.Tests.Replication;

namespace Zk.Embedded.Tests.Ensemble;

/// <summary>
/// Writes through followers (<see cref="WriteForwarder"/>) of three in-memory <see cref="EnsembleMember"/>s: they commit
/// through the leader and reach every member; ZooKeeper's errors come back to the caller and change nothing; the
/// follower answers only once it has applied the txn (per-session FIFO with later reads there); and a follower that
/// loses its leader fails its in-flight writes with ConnectionLoss instead of leaving them hanging.
/// </summary>
[Collection(RunsAlone.Name)]
public sealed class ForwardingTests(ITestOutputHelper output)
{
    private static readonly IReadOnlyList<Acl> Open = Acl.OpenUnsafe;

    [Fact]
    public async Task Create_setData_delete_and_multi_through_a_follower_commit_and_reach_every_member()
    {
        await using var ensemble = await TrafficEnsemble.StartAsync(output);
        var follower = (await ensemble.FollowersAsync())[0];
        var session = await ensemble.NewSessionAsync(follower);

        await ensemble.WriteAsync(follower, session, Create("/a", [1]), 1);
        await ensemble.WriteAsync(follower, session, Create("/gone", [0]), 2);
        await ensemble.WriteAsync(follower, session, new SetDataRequest("/a", [2], 0), 3);
        await ensemble.WriteAsync(follower, session, new DeleteRequest("/gone", 0), 4);
        var multi = await ensemble.WriteAsync(follower, session, new MultiRequest(
        [
            new CreateOp("/m", [3], Open, CreateMode.Persistent, -1),
            new SetDataOp("/a", [4], 1),
            new CheckOp("/m", 0),
        ]), 5);
        Assert.True(multi.Value is IReadOnlyList<OpResult> { Count: 3 } results && results[0] is CreateResult { Path: "/m" },
            $"expected the multi's results through the follower (CreateResult /m first), got {multi.Value}");
        // An empty multi makes no txn: the leader's reply, not a COMMIT, answers it.
        var empty = await ensemble.WriteAsync(follower, session, new MultiRequest([]), 6);
        Assert.True(empty.Value is IReadOnlyList<OpResult> { Count: 0 }, $"expected an empty multi's empty results through the follower, got {empty.Value}");

        var leader = await ensemble.LeaderAsync();
        await ensemble.AssertIdenticalAsync(leader.State.Zxid);
        foreach (var m in ensemble.Members.Values)
        {
            Assert.True(m.State.Find("/a")?.Data is [4], $"expected /a = [4] on server {m.Id}");
            Assert.True(m.State.Find("/m")?.Data is [3], $"expected /m = [3] on server {m.Id}");
            Assert.True(m.State.Find("/gone") is null, $"expected /gone deleted on server {m.Id}");
        }
    }

    [Fact]
    public async Task BadVersion_NodeExists_and_NoNode_through_a_follower_reach_the_caller_and_change_nothing()
    {
        await using var ensemble = await TrafficEnsemble.StartAsync(output);
        var follower = (await ensemble.FollowersAsync())[0];
        var session = await ensemble.NewSessionAsync(follower);
        await ensemble.WriteAsync(follower, session, Create("/a", [1]), 1);
        var leader = await ensemble.LeaderAsync();
        await ensemble.AssertIdenticalAsync(leader.State.Zxid);
        var before = ensemble.Members.Values.ToDictionary(m => m.Id, m => (m.State.Zxid, Digest: TreeDigest.Of(m.State)));

        var cases = new (PipelineRequest Request, ZkErrorCode Expected, string Path)[]
        {
            (new SetDataRequest("/a", [9], 5), ZkErrorCode.BadVersion, "/a"),
            (new DeleteRequest("/a", 3), ZkErrorCode.BadVersion, "/a"),
            (Create("/a", [9]), ZkErrorCode.NodeExists, "/a"),
            (new SetDataRequest("/none", [9], -1), ZkErrorCode.NoNode, "/none"),
            (new DeleteRequest("/none", -1), ZkErrorCode.NoNode, "/none"),
            (Create("/none/child", [9]), ZkErrorCode.NoNode, "/none/child"),
        };
        var cxid = 2;
        foreach (var (request, expected, path) in cases)
        {
            var reply = await TrafficEnsemble.SubmitAsync(follower, session, request, cxid++);
            Assert.True(reply.Error == expected && reply.ErrorPath == path,
                $"expected {request} through the follower to fail with {expected} on {path}, got {reply.Error} on {reply.ErrorPath}");
        }

        var failedMulti = await TrafficEnsemble.SubmitAsync(follower, session, new MultiRequest(
        [
            new CreateOp("/b", [1], Open, CreateMode.Persistent, -1),
            new SetDataOp("/a", [9], 7),
        ]), cxid++);
        Assert.True(failedMulti.Value is IReadOnlyList<OpResult> { Count: 2 } r && r[1] is ErrorResult { Code: ZkErrorCode.BadVersion },
            $"expected the failed multi's per-op results with BadVersion second, got {failedMulti.Error} {failedMulti.Value}");

        // A write after the errors proves they went through the same order; nothing else may have changed.
        await ensemble.WriteAsync(follower, session, new SetDataRequest("/a", [2], 0), cxid);
        await ensemble.AssertIdenticalAsync(leader.State.Zxid);
        foreach (var m in ensemble.Members.Values)
        {
            Assert.True(m.State.Zxid.Value == before[m.Id].Zxid.Value + 1, $"expected exactly one txn after the errors on server {m.Id}: {before[m.Id].Zxid} then {m.State.Zxid}");
            Assert.True(m.State.Find("/b") is null, $"expected the failed multi's /b absent on server {m.Id}");
        }
    }

    [Fact]
    public async Task A_follower_answers_a_forwarded_write_only_after_applying_it_so_the_sessions_next_read_sees_it()
    {
        await using var ensemble = await TrafficEnsemble.StartAsync(output);
        var follower = (await ensemble.FollowersAsync())[0];
        var session = await ensemble.NewSessionAsync(follower);

        // Sent back to back without awaiting, as a client pipelines them: each reply, when it is given, must find the
        // write (and the one before it) already in the tree reads on this follower see.
        const int Writes = 50;
        var probes = new List<Probe>();
        for (var i = 1; i <= Writes; i++)
        {
            var (path, previous) = ($"/n{i}", $"/n{i - 1}");
            var first = i == 1;
            var probe = new Probe(() => follower.State.Find(path) is not null && (first || follower.State.Find(previous) is not null));
            probes.Add(probe);
            await follower.SubmitAsync(new PendingWrite(session, Create(path, [1]), probe, Cxid: i));
        }

        for (var i = 0; i < Writes; i++)
        {
            var (reply, visible) = await probes[i].Result.WaitAsync(TrafficEnsemble.Deadline);
            Assert.True(reply.Error == ZkErrorCode.Ok, $"expected create /n{i + 1} to succeed, got {reply.Error}");
            Assert.True(visible, $"expected /n{i + 1} and its predecessor visible on the follower when its reply was given");
        }

        // An error answered by the leader's REPLY is given in the session's order too: after the writes before it.
        var order = new ConcurrentQueue<int>();
        var write = new Probe(() => true, () => order.Enqueue(1));
        var error = new Probe(() => follower.State.Find("/late") is not null, () => order.Enqueue(2));
        await follower.SubmitAsync(new PendingWrite(session, Create("/late", [1]), write, Cxid: Writes + 1));
        await follower.SubmitAsync(new PendingWrite(session, Create("/late", [1]), error, Cxid: Writes + 2));
        var (errorReply, errorSaw) = await error.Result.WaitAsync(TrafficEnsemble.Deadline);
        await write.Result.WaitAsync(TrafficEnsemble.Deadline);
        Assert.True(errorReply.Error == ZkErrorCode.NodeExists && errorSaw, $"expected NodeExists after /late was visible, got {errorReply.Error} (visible: {errorSaw})");
        Assert.True(order.SequenceEqual([1, 2]), $"expected the write's reply before the error's, got {string.Join(",", order)}");
    }

    [Fact]
    public async Task Failed_writes_pipelined_ahead_of_successful_ones_through_a_follower_are_all_answered_in_order()
    {
        // The leader's answer to a failed forwarded write must reach the follower before the COMMIT of any later txn of
        // the session: the follower answers a session's writes in order, and a txn whose request is not the oldest one
        // waiting is one it cannot place. Sent late (once the leader's own pipeline got to it), it lost that race
        // under pipelining, and the session's later writes waited until they failed with ConnectionLoss (found by
        // EnsembleRequestFuzzTests).
        await using var ensemble = await TrafficEnsemble.StartAsync(output);
        var follower = (await ensemble.FollowersAsync())[0];
        var session = await ensemble.NewSessionAsync(follower);
        var leader = await ensemble.LeaderAsync();
        var busy = await ensemble.NewSessionAsync(leader);
        const int Pairs = 100;
        var order = new ConcurrentQueue<int>();
        var probes = new List<Probe>();
        for (var i = 1; i <= Pairs; i++)
        {
            var (failed, created, path) = (2 * i - 1, 2 * i, $"/p{i}");
            var error = new Probe(() => true, () => order.Enqueue(failed));
            var write = new Probe(() => follower.State.Find(path) is not null, () => order.Enqueue(created));
            probes.Add(error);
            probes.Add(write);
            await follower.SubmitAsync(new PendingWrite(session, new SetDataRequest("/none", [1], -1), error, Cxid: failed));
            await follower.SubmitAsync(new PendingWrite(session, Create(path, [1]), write, Cxid: created));
            await leader.SubmitAsync(new PendingWrite(busy, Create($"/busy{i}", [1]), null, Cxid: i));
        }

        for (var i = 0; i < probes.Count; i++)
        {
            var done = await Task.WhenAny(probes[i].Result, Task.Delay(TrafficEnsemble.Deadline));
            Assert.True(done == probes[i].Result, $"expected request {i + 1} of the session through server {follower.Id} to be answered, it waits still ({order.Count} answered)");
            var (reply, visible) = await probes[i].Result;
            var expected = i % 2 == 0 ? ZkErrorCode.NoNode : ZkErrorCode.Ok;
            Assert.True(reply.Error == expected && visible, $"expected request {i + 1} to end {expected}, got {reply.Error} (its node visible: {visible})");
        }

        Assert.True(order.SequenceEqual(Enumerable.Range(1, 2 * Pairs)), $"expected the session's answers in the order sent, got {string.Join(",", order.Take(20))}...");
    }

    [Fact]
    public async Task A_sync_through_another_follower_makes_its_reads_see_a_write_acknowledged_through_the_first()
    {
        await using var ensemble = await TrafficEnsemble.StartAsync(output);
        var followers = await ensemble.FollowersAsync();
        var writer = await ensemble.NewSessionAsync(followers[0]);
        var reader = await ensemble.NewSessionAsync(followers[1]);
        for (var i = 1; i <= 20; i++)
        {
            var path = $"/s{i}";
            await ensemble.WriteAsync(followers[0], writer, Create(path, [1]), i);
            var sync = new Probe(() => followers[1].State.Find(path) is not null);
            await followers[1].SubmitAsync(new PendingWrite(reader, new SyncRequest("/"), sync, Cxid: i));
            var (reply, visible) = await sync.Result.WaitAsync(TrafficEnsemble.Deadline);
            Assert.True(reply.Error == ZkErrorCode.Ok && visible, $"expected sync {i} on server {followers[1].Id} to succeed and show /s{i}, got {reply.Error} (visible: {visible})");
        }
    }

    [Fact]
    public async Task Many_sessions_writing_through_every_member_at_once_leave_every_acknowledged_write_on_every_member()
    {
        await using var ensemble = await TrafficEnsemble.StartAsync(output);
        await ensemble.AllServingAsync();
        const int SessionsPerMember = 4, WritesPerSession = 25;
        var acked = new ConcurrentBag<string>();
        var writers = new List<Task>();
        foreach (var member in ensemble.Members.Values)
        {
            for (var s = 0; s < SessionsPerMember; s++)
            {
                var session = await ensemble.NewSessionAsync(member);
                var prefix = $"/w{member.Id}-{s}-";
                writers.Add(Task.Run(async () =>
                {
                    for (var i = 1; i <= WritesPerSession; i++)
                    {
                        await ensemble.WriteAsync(member, session, Create(prefix + i, [(byte)i]), i);
                        acked.Add(prefix + i);
                    }
                }));
            }
        }

        await Task.WhenAll(writers).WaitAsync(TrafficEnsemble.Deadline);
        var leader = await ensemble.LeaderAsync();
        await ensemble.AssertIdenticalAsync(leader.State.Zxid);
        Assert.Equal(ensemble.Members.Count * SessionsPerMember * WritesPerSession, acked.Count);
        foreach (var m in ensemble.Members.Values)
        {
            var missing = acked.Where(p => m.State.Find(p) is null).ToList();
            Assert.True(missing.Count == 0, $"expected every acknowledged write on server {m.Id}, missing {string.Join(", ", missing.Take(5))}");
        }
    }

    [Fact]
    public async Task A_follower_cut_off_from_its_leader_fails_its_in_flight_write_with_ConnectionLoss_and_takes_no_more()
    {
        await using var ensemble = await TrafficEnsemble.StartAsync(output);
        var leader = await ensemble.LeaderAsync();
        var follower = (await ensemble.FollowersAsync())[0];
        var session = await ensemble.NewSessionAsync(follower);
        await ensemble.WriteAsync(follower, session, Create("/before", [1]), 1);

        // The request is lost on its way, then the follower is cut off: its caller must hear ConnectionLoss.
        ensemble.Network.Block(follower.Id, leader.Id);
        var lost = new EnsembleTestKit.Answer();
        await follower.SubmitAsync(new PendingWrite(session, Create("/lost", [1]), lost, Cxid: 2));
        ensemble.Network.Partition([follower.Id]);
        var reply = await lost.Reply.WaitAsync(TrafficEnsemble.Deadline);
        Assert.True(reply.Error == ZkErrorCode.ConnectionLoss, $"expected ConnectionLoss for the write in flight when the follower lost its leader, got {reply.Error}");

        await ensemble.WaitAsync(follower, () => !follower.IsServing, $"server {follower.Id} to stop serving once cut off");
        var refused = await TrafficEnsemble.SubmitAsync(follower, session, Create("/minority", [1]), 3);
        Assert.True(refused.Error == ZkErrorCode.ConnectionLoss, $"expected the cut-off member to refuse a write with ConnectionLoss, got {refused.Error}");

        ensemble.Network.Heal();
        leader = await ensemble.AllServingAsync();
        var check = await ensemble.NewSessionAsync(leader);
        await ensemble.WriteAsync(leader, check, Create("/after", [1]), 1);
        await ensemble.AssertIdenticalAsync(leader.State.Zxid);
        foreach (var m in ensemble.Members.Values)
        {
            Assert.True(m.State.Find("/lost") is null && m.State.Find("/minority") is null,
                $"expected neither /lost nor /minority on server {m.Id}: neither reached the leader");
            Assert.True(m.State.Find("/before") is not null, $"expected /before on server {m.Id}");
        }
    }

    [Fact]
    public async Task A_forwarded_write_lost_with_a_reset_connection_to_the_leader_fails_with_ConnectionLoss_instead_of_hanging()
    {
        await using var ensemble = await TrafficEnsemble.StartAsync(output);
        var leader = await ensemble.LeaderAsync();
        var follower = (await ensemble.FollowersAsync())[0];
        var session = await ensemble.NewSessionAsync(follower);

        // The leader stalls, the follower forwards, the connection resets (what was in flight is lost, both hear the
        // reset) and the leader resumes well within syncLimit: the follower keeps following, and the write it sent
        // is gone. ZooKeeper's follower sees the socket close and drops its pending requests: ConnectionLoss.
        ensemble.Network.Pause(leader.Id);
        var lost = new EnsembleTestKit.Answer();
        await follower.SubmitAsync(new PendingWrite(session, Create("/lost", [1]), lost, Cxid: 1));
        await ensemble.WaitAsync(follower, () => true, "the follower's loop to send the request");
        ensemble.Network.ResetConnection(follower.Id, leader.Id);
        ensemble.Network.Resume(leader.Id);
        var reply = await lost.Reply.WaitAsync(TrafficEnsemble.Deadline);
        Assert.True(reply.Error == ZkErrorCode.ConnectionLoss, $"expected ConnectionLoss for the write lost with the connection, got {reply.Error}");

        leader = await ensemble.AllServingAsync();
        await ensemble.WriteAsync(follower, session, Create("/after", [1]), 2);
        await ensemble.AssertIdenticalAsync(leader.State.Zxid);
        Assert.True(follower.State.Find("/lost") is null, "expected /lost absent: its request was lost");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_forwarded_write_whose_request_or_reply_the_link_lost_fails_with_ConnectionLoss_at_the_next_mark(bool requestLost)
    {
        using var noticed = LinkGaps();
        await using var ensemble = await TrafficEnsemble.StartAsync(output);
        var leader = await ensemble.LeaderAsync();
        var follower = (await ensemble.FollowersAsync())[0];
        var session = await ensemble.NewSessionAsync(follower);

        // Lost silently (the transport may lose messages; no notice), and the link recovers before syncLimit, so the
        // follower keeps its leader: only its mark shows the gap. A lost request: a create; a lost reply: NoNode, which
        // makes no txn, so the leader's REPLY alone answers it.
        var lost = new EnsembleTestKit.Answer();
        if (requestLost)
        {
            ensemble.Network.Block(follower.Id, leader.Id);
            await follower.SubmitAsync(new PendingWrite(session, Create("/lost", [1]), lost, Cxid: 1));
            await ensemble.WaitAsync(follower, () => true, "the follower's loop to send the request");
        }
        else
        {
            ensemble.Network.Block(leader.Id, follower.Id);
            await follower.SubmitAsync(new PendingWrite(session, new SetDataRequest("/none", [1], -1), lost, Cxid: 1));
            await ensemble.WaitAsync(leader, () => leader.Forwarder.RepliesSent(follower.Id) >= 1, "the leader to send its reply");
        }

        ensemble.Network.Heal();
        var reply = await lost.Reply.WaitAsync(TrafficEnsemble.Deadline);
        Assert.True(reply.Error == ZkErrorCode.ConnectionLoss, $"expected ConnectionLoss for the write whose {(requestLost ? "request" : "reply")} was lost, got {reply.Error}");
        Assert.True(noticed.Total >= 1, "expected the leader's answer to the follower's mark to show the loss (zk.forwards.failed, reason link_gap), not the answer bound");

        leader = await ensemble.AllServingAsync();
        await ensemble.WriteAsync(follower, session, Create("/after", [1]), 2);
        await ensemble.AssertIdenticalAsync(leader.State.Zxid);
        Assert.True(follower.State.Find("/lost") is null, "expected /lost absent: its request was lost");
    }

    private static CounterProbe LinkGaps() =>
        new(Telemetry.MeterName, "zk.forwards.failed", new KeyValuePair<string, object?>("reason", "link_gap"));

    private static CreateRequest Create(string path, byte[] data) => new(path, data, Open, CreateMode.Persistent, -1, false);

    /// <summary>A reply target that evaluates <paramref name="probe"/> at the moment the reply is given.</summary>
    private sealed class Probe(Func<bool> probe, Action? onComplete = null) : IReplyTarget
    {
        private readonly TaskCompletionSource<(Reply, bool)> _result = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task<(Reply Reply, bool Visible)> Result => _result.Task;

        public void Complete(in Reply reply)
        {
            onComplete?.Invoke();
            _result.TrySetResult((reply, probe()));
        }
    }
}
