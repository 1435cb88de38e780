using Zk.Embedded.Consensus;
using Zk.Embedded.Ensemble;

namespace Zk.Testing.Simulation;

/// <summary>
/// A simulated peer's core output handed on as the consensus driver does (<see cref="ReadyOrder"/>): a SNAP's restore
/// and the committed txns applied to the peer and checked against the one history (<see cref="ConsensusChecker.CheckApplied"/>),
/// the persist requests queued for its disk. Where the messages go, and what read indexes and role changes do, is the
/// harness's.
/// </summary>
internal abstract class SimPeerOutput(SimPeer peer, ConsensusChecker checker) : IReadyHandler
{
    protected SimPeer Peer { get; } = peer;

    public abstract void Send(int to, ZabMessage message);

    public void Restore(ConsensusSnapshot snapshot)
    {
        Peer.Restore(snapshot);
        checker.CheckApplied(Peer, 0);
    }

    public void Persist(List<PersistRequest> requests) => Peer.Enqueue(requests);

    public virtual void Apply(List<ConsensusTxn> committed)
    {
        var before = Peer.Applied.Count;
        Peer.Apply(committed);
        checker.CheckApplied(Peer, before);
    }

    public virtual void AnswerReads(List<ReadIndexResult> reads)
    {
    }

    public virtual void RoleChanged(RoleChange change)
    {
    }
}
