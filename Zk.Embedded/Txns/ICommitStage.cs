using Zk.Embedded.Api;
namespace Zk.Embedded.Txns;

/// <summary>
/// The seam between proposing a txn and publishing it (etcd raft's <c>Ready</c> in spirit): the proposer hands it
/// batches in zxid order, and it says, by a watermark, which of them are committed. Standalone it is the durable log
/// (committed = fsynced) or nothing (in memory); in an ensemble, the consensus driver (committed = durable on a quorum
/// and committed by the leader). It never holds a thread waiting for a network event.
/// </summary>
internal interface ICommitStage
{
    /// <summary>
    /// True when <see cref="Propose"/> commits at once (no log, no quorum): the pipeline then prepares and publishes
    /// on one loop, with no hand-off.
    /// </summary>
    bool CommitsAtOnce { get; }

    /// <summary>The newest committed zxid: nothing above it may be published.</summary>
    Zxid CommittedZxid { get; }

    /// <summary>
    /// Takes a batch of proposed txns: contiguous zxids (<see cref="TxnSequence.CheckContiguous"/>), following every
    /// earlier batch. Called from the proposer's one loop; the txns need not be committed when it returns.
    /// </summary>
    /// <exception cref="TxnInvariantException">the batch does not follow on from the previous one.</exception>
    void Propose(IReadOnlyList<Txn> txns);

    /// <summary>
    /// Completes once <see cref="CommittedZxid"/> is at least <paramref name="zxid"/>. The durable log makes the txns
    /// durable here, on the caller, when no sync under way covers them yet (group commit: one fsync takes every batch
    /// written before it started), so it completes synchronously; a replicated stage completes it when a quorum has
    /// acknowledged. Throws when the txns can never commit (the log failed).
    /// </summary>
    ValueTask WaitCommittedAsync(Zxid zxid);
}

/// <summary>An in-memory peer's commit stage: nothing to persist, so a proposed txn is committed.</summary>
internal sealed class ImmediateCommit(Zxid lastZxid) : ICommitStage
{
    private long _committed = lastZxid.Value; // a long for Volatile

    public bool CommitsAtOnce => true;

    public Zxid CommittedZxid => new(Volatile.Read(ref _committed));

    public void Propose(IReadOnlyList<Txn> txns)
    {
        if (txns.Count > 0)
        {
            Volatile.Write(ref _committed, TxnSequence.CheckContiguous(txns, new Zxid(_committed)).Value);
        }
    }

    public ValueTask WaitCommittedAsync(Zxid zxid) => ValueTask.CompletedTask;
}
