using Microsoft.Extensions.Logging.Abstractions;
using Zk.Embedded.Api;
using Zk.Embedded.Consensus;
using Zk.Embedded.Ensemble;
using Zk.Embedded.Processing;
using Zk.Embedded.Sessions;
using Zk.Embedded.Tree;
using Zk.Embedded.Txns;
using Zk.Embedded.Watches;

namespace Zk.Embedded.Tests.Pipeline;

/// <summary>
/// A leader's pipeline whose batch only partly committed when the leader lost its quorum: the core has applied the
/// committed txns, so the leader's tree must hold them and their requests succeed; only the rest fail. Before the fix
/// the whole batch failed and the tree missed the committed part, which the member never got back (the deterministic
/// simulator found it: a session missing on its old leader at quiescence). Both ways the pipeline runs: its own loops
/// (a real member) and stepped (the simulator).
/// </summary>
public sealed class PartialCommitTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task The_committed_part_of_a_batch_is_published_when_the_commit_stage_fails_behind_it(bool stepped)
    {
        var sink = new RecordingSink();
        var commit = new ReplicatedCommit(sink, default);
        var time = TimeProvider.System;
        var processor = new RequestProcessor(TreeState.CreateInitial(), new TxnBuilder(new AclCache(), new PeerLimits(1 << 20, false, null)),
            new WatchManager(), new SessionTracker(time, 1, new byte[32]), commit, time, NullLogger.Instance, new Zxid(1, 0)) { Stepped = stepped };
        var session = new ServerSession(default, [], 0, [new Id("super", "")], isSystem: true);
        var replies = new List<Task<Reply>>();
        foreach (var path in new[] { "/a", "/b", "/c" })
        {
            var target = new ReplyTarget();
            // Queued before the pipeline runs, so its first batch takes all three.
            processor.Post(new PendingWrite(session, new CreateRequest(path, null, Acl.OpenUnsafe, CreateMode.Persistent, -1, false), target, null, replies.Count + 1));
            replies.Add(target.Reply);
        }

        await using (processor)
        {
            if (stepped)
                processor.RunPending();
            else
                processor.Start();
            await sink.Proposed(3).WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal([new Zxid(1, 1), new Zxid(1, 2), new Zxid(1, 3)], sink.Zxids);

            commit.Advance(new Zxid(1, 2));
            commit.Fail("lost its quorum");
            if (stepped)
                processor.RunPending();

            var outcome = await Task.WhenAll(replies).WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal([ZkErrorCode.Ok, ZkErrorCode.Ok, ZkErrorCode.ConnectionLoss], outcome.Select(r => r.Error));
            Assert.Equal([new Zxid(1, 1), new Zxid(1, 2)], outcome.Take(2).Select(r => r.Zxid));
            Assert.Equal(new Zxid(1, 2), processor.State.Zxid);
            Assert.NotNull(processor.State.Find("/b"));
            Assert.Null(processor.State.Find("/c"));
            await processor.Faulted.WaitAsync(TimeSpan.FromSeconds(30));
        }
    }

    private sealed class RecordingSink : IProposalSink
    {
        private readonly List<Zxid> _zxids = [];
        private readonly TaskCompletionSource _three = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public List<Zxid> Zxids
        {
            get
            {
                lock (_zxids)
                    return [.. _zxids];
            }
        }

        public Task Proposed(int count) => count == 3 ? _three.Task : throw new ArgumentOutOfRangeException(nameof(count));

        public void Propose(IReadOnlyList<ConsensusTxn> txns)
        {
            lock (_zxids)
            {
                _zxids.AddRange(txns.Select(t => t.Zxid));
                if (_zxids.Count >= 3)
                    _three.TrySetResult();
            }
        }
    }

    private sealed class ReplyTarget : IReplyTarget
    {
        private readonly TaskCompletionSource<Reply> _reply = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task<Reply> Reply => _reply.Task;

        public void Complete(in Reply reply) => _reply.TrySetResult(reply);
    }
}
