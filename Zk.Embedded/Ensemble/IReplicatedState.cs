using Zk.Embedded.Consensus;

namespace Zk.Embedded.Ensemble;

/// <summary>
/// What the driver applies committed txns to (the peer's tree through its publisher, or a test's list). Called on the
/// driver's one loop, in zxid order; <see cref="ISnapshotSource.Take"/> returns the state as of the last txn applied.
/// </summary>
internal interface IReplicatedState : ISnapshotSource
{
    /// <summary>Replaces the whole state (the leader sent a SNAP).</summary>
    void Restore(ConsensusSnapshot snapshot);

    /// <summary>Applies one committed txn: the next after the last one applied.</summary>
    void Apply(ConsensusTxn txn);

    /// <summary>
    /// Captures the applied state on the driver's loop for a periodic snapshot; the function it returns writes it to
    /// the spool on another thread. Null when this state takes no periodic snapshots.
    /// </summary>
    Func<SnapshotSpool, ConsensusSnapshot>? CaptureApplied() => null;
}
