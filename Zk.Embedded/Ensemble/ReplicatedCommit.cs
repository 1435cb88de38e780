using System.Buffers;
using Zk.Embedded.Api;
using Zk.Embedded.Consensus;
using Zk.Embedded.Txns;

namespace Zk.Embedded.Ensemble;

/// <summary>
/// The commit stage of an ensemble member. On the leader the proposer's batches are encoded and handed to the
/// consensus driver, which proposes each with the zxid the proposer gave it; <see cref="CommittedZxid"/> moves as the
/// core commits them (the driver's loop calls <see cref="Advance"/>). On a follower nothing is proposed here: it only
/// carries the watermark the follower's publisher checks. Once leadership is lost (<see cref="Fail"/>) every wait for
/// an uncommitted txn fails with ConnectionLoss, which stops that term's pipeline, as ZooKeeper's leader shuts down
/// its request processors when it stops leading.
/// </summary>
internal sealed class ReplicatedCommit(IProposalSink? driver, Zxid committed) : ICommitStage
{
    private readonly object _gate = new();
    private readonly PriorityQueue<TaskCompletionSource, Zxid> _waiting = new();
    private long _committed = committed.Value; // a long for Volatile
    private Zxid _proposed = committed;
    private string? _failure;

    // The pipeline's loop alone proposes: encoded in one buffer, kept in an arena (Consensus/TxnArena.cs says why).
    private readonly ArrayBufferWriter<byte> _scratch = new(4096);
    private readonly TxnArena _arena = new();

    public bool CommitsAtOnce => false;

    public Zxid CommittedZxid => new(Volatile.Read(ref _committed));

    public void Propose(IReadOnlyList<Txn> txns)
    {
        if (txns.Count == 0)
            return;
        if (driver is null)
            throw new InvalidOperationException("A follower's commit stage proposes nothing: its writes go to the leader.");
        _proposed = TxnSequence.CheckContiguous(txns, _proposed);
        var encoded = new ConsensusTxn[txns.Count];
        for (var i = 0; i < txns.Count; i++)
        {
            _scratch.ResetWrittenCount();
            TxnCodec.EncodeTo(txns[i], _scratch);
            encoded[i] = new ConsensusTxn(txns[i].Zxid, _arena.Copy(_scratch.WrittenSpan));
        }
        driver.Propose(encoded);
    }

    public ValueTask WaitCommittedAsync(Zxid zxid)
    {
        lock (_gate)
        {
            if (_committed >= zxid.Value)
                return ValueTask.CompletedTask;
            if (_failure is not null)
                return ValueTask.FromException(Lost(_failure));
            var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiting.Enqueue(tcs, zxid);
            return new ValueTask(tcs.Task);
        }
    }

    /// <summary>Everything up to <paramref name="zxid"/> is committed (called in zxid order).</summary>
    public void Advance(Zxid zxid)
    {
        lock (_gate)
        {
            if (zxid.Value <= _committed)
                return;
            Volatile.Write(ref _committed, zxid.Value);
            while (_waiting.TryPeek(out var tcs, out var waitingFor) && waitingFor <= zxid)
            {
                _waiting.Dequeue();
                tcs.TrySetResult();
            }
        }
    }

    /// <summary>Nothing more will commit through this stage: every waiter and later wait fails with ConnectionLoss.</summary>
    public void Fail(string reason)
    {
        lock (_gate)
        {
            _failure ??= reason;
            while (_waiting.TryDequeue(out var tcs, out _))
                tcs.TrySetException(Lost(_failure));
        }
    }

    private static ZkException Lost(string reason) =>
        new(ZkErrorCode.ConnectionLoss, null, $"This peer stopped leading before the write committed: {reason}.");
}

/// <summary>
/// Where a leader's pipeline hands its encoded txns: the consensus driver, which proposes each on its loop with the
/// zxid it carries (<see cref="ProposalIntake"/>), or the deterministic simulator's peer, which does the same at once.
/// </summary>
internal interface IProposalSink
{
    /// <summary>Queues txns for the core to propose, in zxid order; each must get exactly the zxid it carries.</summary>
    void Propose(IReadOnlyList<ConsensusTxn> txns);
}

/// <summary>How a driver proposes a pipeline's txns to its core (<see cref="ConsensusDriver"/>, and the simulator's the same way).</summary>
internal static class ProposalIntake
{
    /// <summary>
    /// Proposes <paramref name="txns"/> in order, each only if the core's next zxid is the one it carries (checked
    /// before proposing: a txn the core numbered differently from the pipeline must not commit). Returns null, or the
    /// first txn not proposed and why; the ones after it are not proposed either. A core that still leads then ends
    /// its term: the refused txn's pipeline has stopped (its later zxids would never match), and a leader that stayed
    /// one would refuse every write until something else ended its term. A proposal of a term already over (queued
    /// before the role change) changes nothing more: stepping down a member that follows again would force an election.
    /// </summary>
    public static (Zxid Zxid, string Reason)? ProposeAll(ZabPeer core, IReadOnlyList<ConsensusTxn> txns)
    {
        foreach (var txn in txns)
        {
            var next = core.NextZxid;
            var zxid = next == txn.Zxid ? core.Propose(txn.Data) : null;
            if (zxid != txn.Zxid)
            {
                var reason = next is null || zxid is null && next == txn.Zxid
                    ? "this peer is no longer an established leader"
                    : $"the core's next zxid is {next}";
                if (core.NextZxid is not null)
                    core.StepDown($"proposal {txn.Zxid} refused: {reason}");
                return (txn.Zxid, reason);
            }
        }

        return null;
    }
}
