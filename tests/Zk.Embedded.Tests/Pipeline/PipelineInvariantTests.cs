using Microsoft.Extensions.Logging.Abstractions;
using Zk.Embedded.Api;
using Zk.Embedded.InProcess;
using Zk.Embedded.Processing;
using Zk.Embedded.Sessions;
using Zk.Embedded.Storage;
using Zk.Embedded.Tests.Storage;
using Zk.Embedded.Tests.Support;
using Zk.Embedded.Tree;
using Zk.Embedded.Txns;
using Zk.Embedded.Watches;

namespace Zk.Embedded.Tests.Pipeline;

/// <summary>
/// The pipeline's seam invariants, each fed a bad sequence: zxids strictly increase where txns are applied and
/// published, a proposed batch is contiguous, nothing is published above the committed watermark, and a txn answers
/// only the oldest waiting request of its session with its cxid. A broken one stops writes through the fault path.
/// </summary>
public sealed class PipelineInvariantTests
{
    private static Txn Create(long zxid, string path, long session = 0, int cxid = 0) =>
        new(new Zxid(zxid), new SessionId(session), 1, new CreateTxn(path, null, AclList.Open, 0, (int)zxid), cxid);

    [Fact]
    public void A_publisher_refuses_a_txn_that_does_not_follow_the_published_state()
    {
        var commit = new Committed(new Zxid(10));
        var publisher = NewPublisher(commit);
        publisher.Publish(Create(1, "/a"));
        publisher.Publish(Create(2, "/b"));

        var e = Assert.Throws<TxnInvariantException>(() => publisher.Publish(Create(2, "/c")));
        Assert.Contains("0x2 does not follow the published state at 0x2", e.Message, StringComparison.Ordinal);
        Assert.Throws<TxnInvariantException>(() => publisher.Publish(Create(1, "/d")));
        Assert.Equal(new Zxid(2), publisher.State.Zxid);
        Assert.Null(publisher.State.Find("/c"));
    }

    [Fact]
    public void A_publisher_refuses_a_txn_above_the_committed_watermark()
    {
        var commit = new Committed(new Zxid(1));
        var publisher = NewPublisher(commit);
        publisher.Publish(Create(1, "/a"));

        var e = Assert.Throws<TxnInvariantException>(() => publisher.Publish(Create(2, "/b")));
        Assert.Contains("only txns up to 0x1 are committed", e.Message, StringComparison.Ordinal);
        Assert.Equal(new Zxid(1), publisher.State.Zxid);
        commit.Zxid = new Zxid(2);
        publisher.Publish(Create(2, "/b"));
        Assert.NotNull(publisher.State.Find("/b"));
    }

    [Fact]
    public void A_txn_whose_cxid_is_not_its_sessions_oldest_waiting_request_is_refused()
    {
        var publisher = NewPublisher(new Committed(new Zxid(10)));
        var session = new ServerSession(new SessionId(0x42), [], 30_000, []);
        var target = new Recorder();
        publisher.Expect(new Step(new PendingWrite(session, new CreateRequest("/a", null, Acl.OpenUnsafe, CreateMode.Persistent, -1, false), target, Cxid: 7), null, 0, 0, default) with { Txn = Create(1, "/a", 0x42, 7) });

        var e = Assert.Throws<TxnInvariantException>(() => publisher.Publish(Create(1, "/a", session: 0x42, cxid: 8)));
        Assert.Contains("has cxid 8", e.Message, StringComparison.Ordinal);
        Assert.Contains("cxid 7", e.Message, StringComparison.Ordinal);
        Assert.Empty(target.Replies);
    }

    [Fact]
    public void The_commit_stage_refuses_a_batch_with_a_gap_or_a_repeat()
    {
        var memory = new ImmediateCommit(default);
        Assert.Throws<TxnInvariantException>(() => memory.Propose([Create(1, "/a"), Create(3, "/b")]));
        Assert.Throws<TxnInvariantException>(() => memory.Propose([Create(2, "/a")]));
        memory.Propose([Create(1, "/a"), Create(2, "/b")]);
        var e = Assert.Throws<TxnInvariantException>(() => memory.Propose([Create(2, "/c")]));
        Assert.Contains("zxid 0x2 after 0x2", e.Message, StringComparison.Ordinal);
        Assert.Equal(new Zxid(2), memory.CommittedZxid);
    }

    [Fact]
    public async Task The_durable_commit_stage_refuses_a_gap_before_writing_it()
    {
        using var dir = new TempDirectory();
        var (storage, _) = PeerStorage.Open(dir.Path, dir.Path, forceSync: true, snapCount: 100_000, snapRetainCount: 3, new AclCache(), NullLogger.Instance);
        using (storage)
        {
            storage.Propose([Create(1, "/a")]);
            Assert.Throws<TxnInvariantException>(() => storage.Propose([Create(3, "/c")]));
            await storage.WaitCommittedAsync(new Zxid(1));
            Assert.Equal(new Zxid(1), storage.CommittedZxid);
        }
    }

    [Fact]
    public void A_new_epoch_starts_at_counter_one_and_follows_the_previous_epoch()
    {
        Assert.True(TxnSequence.Follows(new Zxid(3, 9), new Zxid(4, 1)));
        Assert.False(TxnSequence.Follows(new Zxid(3, 9), new Zxid(4, 2)));
        Assert.False(TxnSequence.Follows(new Zxid(3, 9), new Zxid(2, 10)));
        Assert.Equal(new Zxid(4, 1), Proposer.Next(new Zxid(3, uint.MaxValue)));
        Assert.Equal(new Zxid(3, 10), Proposer.Next(new Zxid(3, 9)));
    }

    [Fact]
    public async Task A_commit_stage_that_breaks_the_watermark_stops_writes_with_a_clear_fault()
    {
        // A stage that says it committed less than it was given: publishing would reply before durability.
        var commit = new Committed(new Zxid(0)) { CommitsAtOnce = true };
        var time = TimeProvider.System;
        var sessions = new SessionTracker(time, 1, new byte[32]);
        var processor = new RequestProcessor(TreeState.CreateInitial(), new TxnBuilder(new AclCache(), new PeerLimits(1 << 20, false, null)), new WatchManager(), sessions, commit, time, NullLogger.Instance);
        processor.Start();
        await using var _ = processor;
        var session = new ServerSession(default, [], 0, [new Id("super", "")], isSystem: true);
        var target = new Recorder();
        await processor.SubmitAsync(new PendingWrite(session, new CreateRequest("/a", null, Acl.OpenUnsafe, CreateMode.Persistent, -1, false), target));

        var fault = await processor.Faulted.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.IsType<TxnInvariantException>(fault);
        Assert.Contains("committed", fault.Message, StringComparison.Ordinal);
        // Faulted completes as the fault is recorded; the caller's ConnectionLoss follows from the same stop.
        await Eventually.TrueAsync(() => { lock (target.Replies) { return target.Replies.Count > 0; } }, "the waiting create to be answered after the fault");
        var reply = Assert.Single(target.Replies);
        Assert.Equal(ZkErrorCode.ConnectionLoss, reply.Error);
        Assert.Null(processor.State.Find("/a"));
    }

    private static Publisher NewPublisher(ICommitStage commit) =>
        new(TreeState.CreateInitial(), new WatchManager(), new SessionTracker(TimeProvider.System, 1, new byte[32]), commit, NullLogger.Instance);

    /// <summary>A commit stage whose watermark the test sets.</summary>
    private sealed class Committed(Zxid zxid) : ICommitStage
    {
        public Zxid Zxid { get; set; } = zxid;

        public bool CommitsAtOnce { get; init; }

        public Zxid CommittedZxid => Zxid;

        public void Propose(IReadOnlyList<Txn> txns)
        {
        }

        public ValueTask WaitCommittedAsync(Zxid zxid) => ValueTask.CompletedTask;
    }

    private sealed class Recorder : IReplyTarget
    {
        public List<Reply> Replies { get; } = [];

        public void Complete(in Reply reply)
        {
            lock (Replies)
            {
                Replies.Add(reply);
            }
        }
    }
}
