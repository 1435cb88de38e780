using Zk.Testing;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Zk.Embedded.Api;
using Zk.Embedded.InProcess;
using Zk.Embedded.Processing;
using Zk.Embedded.Sessions;
using Zk.Embedded.Tests.Storage;
using Zk.Embedded.Tree;
using Zk.Embedded.Txns;
using Zk.Embedded.Watches;

namespace Zk.Embedded.Tests.Replication;

/// <summary>
/// The follower's path through the pipeline: txns proposed by one peer core travel as encoded records (as the transport
/// will carry them) to another core's publisher, which applies them to its own state and answers its own waiting
/// requests by (SessionId, Cxid), with no help from the proposer.
/// </summary>
public sealed class FollowerPublisherTests
{
    [Fact]
    public async Task Txns_proposed_by_one_core_and_published_by_another_give_identical_trees_and_the_same_replies()
    {
        var time = TimeProvider.System;
        var leaderSessions = new SessionTracker(time, 1, new byte[32]);
        var proposed = new RecordingCommit();
        await using var leader = new RequestProcessor(
            TreeState.CreateInitial(), new TxnBuilder(new AclCache(), new PeerLimits(1 << 20, false, null)), new WatchManager(), leaderSessions, proposed, time, NullLogger.Instance);
        leader.Start();
        var script = new Script(leaderSessions);
        var answers = new List<Answer>();
        foreach (var (session, request, cxid) in script.Requests())
        {
            var answer = new Answer(session.SessionId, cxid, request);
            answers.Add(answer);
            // Pipelined, so batches mix sessions and the failing requests sit between others' txns.
            await leader.SubmitAsync(new PendingWrite(session, request, answer, Cxid: cxid));
        }

        foreach (var answer in answers)
        {
            await answer.Done.WaitAsync(TimeSpan.FromSeconds(30));
        }

        // The follower: its own sessions (same ids), its own requests waiting as forwarded writes, the txns as bytes.
        var followerCommit = new ImmediateCommit(default);
        var follower = new Publisher(TreeState.CreateInitial(), new WatchManager(), new SessionTracker(time, 2, new byte[32]), followerCommit, NullLogger.Instance);
        var followerSessions = new Dictionary<SessionId, ServerSession>();
        var followerAnswers = new List<(Answer Leader, Answer Follower)>();
        foreach (var answer in answers)
        {
            if (answer.Result.IsError || answer.Request is SyncRequest)
            {
                continue; // no txn: a follower would hear the leader's answer another way
            }

            if (!followerSessions.TryGetValue(answer.SessionId, out var mirror))
            {
                followerSessions[answer.SessionId] = mirror = new ServerSession(answer.SessionId, [], 30_000, []);
            }

            var followerAnswer = new Answer(answer.SessionId, answer.Cxid, answer.Request);
            followerAnswers.Add((answer, followerAnswer));
            follower.ExpectTxn(new PendingWrite(mirror, answer.Request, followerAnswer, Cxid: answer.Cxid));
        }

        var txns = proposed.Records.Select(r => TxnCodec.Decode(r.Record, r.Zxid)).ToList();
        followerCommit.Propose(txns);
        foreach (var txn in txns)
        {
            follower.Publish(txn);
        }

        Assert.Equal(
            followerAnswers.Select(a => (a.Leader.SessionId, a.Leader.Cxid)),
            txns.Select(t => (t.SessionId, t.Cxid)));
        Assert.Equal(TreeDigest.Of(leader.State), TreeDigest.Of(follower.State));
        StorageAssert.SameState(leader.State, follower.State);
        Assert.Equal(0, follower.WaitingCount);
        foreach (var (leaderAnswer, followerAnswer) in followerAnswers)
        {
            Assert.True(followerAnswer.Done.IsCompletedSuccessfully, $"{followerAnswer} was not answered by the follower");
            SameReply(leaderAnswer.Result, followerAnswer.Result, leaderAnswer.ToString());
        }

        script.CheckLeaderReplies(answers);
        Assert.Null(follower.State.Find("/app/eph"));
        Assert.Null(follower.State.Find("/app/seq-0000000001"));
        Assert.NotNull(follower.State.Find("/app/seq-0000000005"));
        Assert.NotNull(follower.State.Find("/app/m"));
    }

    private static void SameReply(Reply expected, Reply actual, string what)
    {
        Assert.True(expected.Error == actual.Error, $"{what}: {expected.Error} vs {actual.Error}");
        Assert.True(expected.Zxid == actual.Zxid, $"{what}: zxid {expected.Zxid} vs {actual.Zxid}");
        if (expected.Value is IReadOnlyList<OpResult> results)
        {
            Assert.Equal(results, Assert.IsAssignableFrom<IReadOnlyList<OpResult>>(actual.Value));
        }
        else
        {
            Assert.True(Equals(expected.Value, actual.Value), $"{what}: {expected.Value} vs {actual.Value}");
        }
    }

    /// <summary>Creates, sequential creates, ephemerals and a close, multis, versioned setData, and failures in between.</summary>
    private sealed class Script(SessionTracker sessions)
    {
        private static readonly IReadOnlyList<Acl> Open = Acl.OpenUnsafe;

        public IEnumerable<(ServerSession Session, PipelineRequest Request, int Cxid)> Requests()
        {
            var (s1, s2, s3) = (NewSession(), NewSession(), NewSession());
            yield return (s1, new CreateSessionRequest(30_000), 0);
            yield return (s2, new CreateSessionRequest(30_000), 0);
            yield return (s3, new CreateSessionRequest(30_000), 0);
            yield return (s1, Create("/app", CreateMode.Persistent), 1);
            yield return (s1, Create("/app/seq-", CreateMode.PersistentSequential), 2);
            yield return (s1, Create("/app/seq-", CreateMode.PersistentSequential), 3);
            yield return (s2, Create("/app/eph", CreateMode.Ephemeral), 1);
            yield return (s2, Create("/app/eph-", CreateMode.EphemeralSequential), 2);
            yield return (s1, Create("/missing/x", CreateMode.Persistent), 4);                 // NoNode
            yield return (s1, new SetDataRequest("/app", [1], 0), 5);
            yield return (s1, new SetDataRequest("/app", [2], 0), 6);                          // BadVersion
            yield return (s3, new MultiRequest([
                new CreateOp("/app/m", [7], Open, CreateMode.Persistent, -1), new SetDataOp("/app/m", [8], 0),
                new CheckOp("/app", 1), new DeleteOp("/app/seq-0000000000", -1)]), 1);
            yield return (s3, new MultiRequest([new CreateOp("/app/m", null, Open, CreateMode.Persistent, -1)]), 2); // NodeExists
            yield return (s3, new SyncRequest("/app"), 3);
            yield return (s1, new SetDataRequest("/app", [3], 1), 7);
            yield return (s2, new CloseSessionRequest(Expired: false), 3);
            yield return (s1, new DeleteRequest("/app/seq-0000000001", -1), 8);
            yield return (s1, Create("/app/seq-", CreateMode.PersistentSequential), 9);
        }

        /// <summary>The leader answered the failures with ZooKeeper's codes, and each session in the order it asked.</summary>
        public void CheckLeaderReplies(List<Answer> answers)
        {
            var codes = answers.Select(a => a.Result.Error).ToList();
            var failed = answers.Where(a => a.Result.IsError).Select(a => (a.Cxid, a.Result.Error)).ToList();
            Assert.True(
                failed.SequenceEqual([(4, ZkErrorCode.NoNode), (6, ZkErrorCode.BadVersion), (2, ZkErrorCode.NodeExists)]),
                $"expected NoNode (cxid 4), BadVersion (cxid 6) and the failed multi (cxid 2) only, got {string.Join(", ", failed)}");
            var failedMulti = answers.Single(a => a.SessionId == answers[2].SessionId && a.Cxid == 2).Result;
            Assert.Equal(ZkErrorCode.NodeExists, Assert.IsType<ErrorResult>(Assert.Single(Assert.IsAssignableFrom<IReadOnlyList<OpResult>>(failedMulti.Value))).Code);
            // /app had five child creates before it (two seq-, eph, eph-, m): the suffix counts them all.
            Assert.Equal("/app/seq-0000000005", ((CreateResult)answers[^1].Result.Value!).Path);
            foreach (var session in answers.GroupBy(a => a.SessionId))
            {
                var order = session.OrderBy(a => a.CompletedAt).Select(a => a.Cxid).ToList();
                Assert.True(order.SequenceEqual(session.Select(a => a.Cxid)), $"session {session.Key} answered in order {string.Join(",", order)}");
            }

            Assert.DoesNotContain(ZkErrorCode.ConnectionLoss, codes);
        }

        private static CreateRequest Create(string path, CreateMode mode) => new(path, [1], Open, mode, -1, false);

        private ServerSession NewSession()
        {
            var id = sessions.NextSessionId();
            var session = new ServerSession(id, sessions.PasswordFor(id), 30_000, SessionTracker.LocalIds);
            sessions.Add(session);
            return session;
        }
    }

    /// <summary>One request's reply, and when (in completion order across the test) it came.</summary>
    private sealed class Answer(SessionId sessionId, int cxid, PipelineRequest request) : IReplyTarget
    {
        private static long s_completions;
        private readonly TaskCompletionSource<Reply> _reply = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public SessionId SessionId { get; } = sessionId;

        public int Cxid { get; } = cxid;

        public PipelineRequest Request { get; } = request;

        public long CompletedAt { get; private set; }

        public Task Done => _reply.Task;

        public Reply Result { get; private set; }

        public void Complete(in Reply reply)
        {
            CompletedAt = Interlocked.Increment(ref s_completions);
            Result = reply;
            _reply.TrySetResult(reply);
        }

        public override string ToString() => $"{Request.GetType().Name} of {SessionId} cxid {Cxid}";
    }

    /// <summary>A leader's commit stage that commits at once and keeps each proposed txn as the record a transport would carry.</summary>
    private sealed class RecordingCommit : ICommitStage
    {
        private readonly ImmediateCommit _inner = new(default);

        public List<(Zxid Zxid, byte[] Record)> Records { get; } = [];

        public bool CommitsAtOnce => true;

        public Zxid CommittedZxid => _inner.CommittedZxid;

        public void Propose(IReadOnlyList<Txn> txns)
        {
            _inner.Propose(txns);
            foreach (var txn in txns)
            {
                Records.Add((txn.Zxid, TxnCodec.Encode(txn)));
            }
        }

        public ValueTask WaitCommittedAsync(Zxid zxid) => ValueTask.CompletedTask;
    }
}
