using Zk.Embedded.Consensus;

namespace Zk.Embedded.Ensemble;

/// <summary>What a member does with each part of its core's output (<see cref="Ready"/>).</summary>
internal interface IReadyHandler
{
    void Send(int to, ZabMessage message);

    /// <summary>A SNAP's state replaces the member's.</summary>
    void Restore(ConsensusSnapshot snapshot);

    /// <summary>The requests go to the store in order; the core hears they are durable later, as an input.</summary>
    void Persist(List<PersistRequest> requests);

    /// <summary>Committed txns, in zxid order, for the member's state.</summary>
    void Apply(List<ConsensusTxn> committed);

    void AnswerReads(List<ReadIndexResult> reads);

    void RoleChanged(RoleChange change);
}

/// <summary>
/// The order a member hands on one <see cref="Ready"/> in, the same for the consensus driver and the simulator's peers
/// (which is what lets the simulator stand for the driver here): messages first (they promise nothing a later part
/// could contradict: an ACK waits for StorageDone, not for this); a SNAP's restore before its persist requests (the
/// restore reads the SNAP's spool file before the storage worker may move it into place); the committed txns; then the
/// read indexes, each answered only once the txns up to it are applied; last the role changes, so a handler of one
/// sees the state the whole output left.
/// </summary>
internal static class ReadyOrder
{
    public static void HandOn(Ready ready, IReadyHandler handler)
    {
        foreach (var (to, message) in ready.Messages)
            handler.Send(to, message);
        if (ready.Restore is { } snapshot)
            handler.Restore(snapshot);
        if (ready.Persist.Count > 0)
            handler.Persist(ready.Persist);
        if (ready.Committed.Count > 0)
            handler.Apply(ready.Committed);
        if (ready.Reads.Count > 0)
            handler.AnswerReads(ready.Reads);
        foreach (var change in ready.RoleChanges)
            handler.RoleChanged(change);
    }
}
