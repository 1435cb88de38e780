using Zk.Testing.History;
using Zk.Embedded.Api;

namespace Zk.Testing.Simulation;

/// <summary>
/// The recorded client history and the checks over it (issue 14): per-session reads never go back in zxid, per-session
/// FIFO, a linearizable history of the registers and queues (<see cref="Linearizability"/>: setData, multis, sequential
/// creates and linearizable reads against a model of those nodes, per connected component), sequential names unique and
/// increasing with zxid per parent; at quiescence, with the peers' trees: no acknowledged write lost, no
/// ephemeral of a closed session left, every acknowledged ephemeral of a live session present, identical digests.
/// </summary>
internal sealed class History
{
    public List<SimOp> Ops { get; } = [];
    /// <summary>Watches set by reads, the events the clients received, and the sessions leaders proposed to expire.</summary>
    public List<SimWatch> Watches { get; } = [];
    public List<SimEvent> Events { get; } = [];
    public List<long> Expirations { get; } = [];
    /// <summary>setWatches a client sent on a new connection, and the watches they fired at once.</summary>
    public int Rewatches { get; set; }
    public int RewatchFired { get; set; }
    /// <summary>Reconnects with a session: reattached by the peer's GlobalSessions, refused (behind the client, or its member could not catch up), or told the session expired; ReattachCatchUps: those whose member did not know the session and caught up first.</summary>
    public int Reattached { get; set; }
    public int ReattachRefused { get; set; }
    public int ReattachExpired { get; set; }
    /// <summary>Reattaches at a member that did not know the session yet and caught up by a read index first.</summary>
    public int ReattachCatchUps { get; set; }
    /// <summary>Writes a learner forwarded to its leader (REQUESTs delivered), and replies of SessionMoved clients received.</summary>
    public int Forwarded { get; set; }
    public int SessionMoved { get; set; }
    /// <summary>
    /// Times a learner failed its waiting forwarded writes because the leader answered none for its bound (WriteForwarder):
    /// a request or reply the network lost, or a bug that loses one (the clients only see ConnectionLoss).
    /// </summary>
    public int ForwardsUnanswered { get; set; }
    /// <summary>Requests sent in the quiet phase: the liveness check fails the run if one is left unanswered on a live connection.</summary>
    public int QuietRequests { get; set; }
    /// <summary>Replies of ConnectionLoss (a member not serving, a forwarded write lost or its leader gone); the other unknown outcomes are replies the client never got.</summary>
    public int ConnectionLossReplies { get; set; }
    /// <summary>The connected components of the checked history (<see cref="Linearizability.Components"/>) the search could not decide, and those it found linearizable.</summary>
    public int Inconclusive { get; private set; }
    public int Linearizable { get; private set; }

    /// <summary>A client got a successful reply; <paramref name="lastSeen"/> is the newest zxid it had seen before (ZooKeeper's lastZxidSeen).</summary>
    public void Returned(SimOp op, Zxid lastSeen)
    {
        // Any reply, read or write, carries the zxid the client now knows; it may never be older than what it knew.
        if (op.Zxid < lastSeen)
            throw new ConsensusViolation($"client {op.Client} got a reply at {op.Zxid} after having seen {lastSeen} (reads went back): {op}");
    }

    /// <summary>The checks over the history alone.</summary>
    public void Check()
    {
        CheckFifo();
        CheckSequentialNames();
        // A refusal in doubt changed nothing and observed nothing the client heard of: it constrains nothing.
        var modelled = Ops.Where(o => o.WritesRegister || o.Kind is SimOpKind.CreateSequential or SimOpKind.LinearRead)
            .Where(o => o.Outcome is SimOutcome.Ok or SimOutcome.BadVersion || (o.Outcome == SimOutcome.Unknown && !o.Refused));
        foreach (var component in Linearizability.Components(modelled))
        {
            switch (Linearizability.Check(component.Ops))
            {
                case LinearizabilityVerdict.NotLinearizable:
                    throw new ConsensusViolation($"the history of {string.Join(", ", component.Paths)} is not linearizable:\n  {string.Join("\n  ", component.Ops.Where(o => o.Outcome != SimOutcome.Unknown).TakeLast(12))}");
                case LinearizabilityVerdict.Inconclusive: Inconclusive++; break;
                default: Linearizable++; break;
            }
        }
    }

    /// <summary>The checks against every peer's tree once all are up, in broadcast and applied the same history.</summary>
    public void CheckQuiescent(IReadOnlyList<SimPeer> peers)
    {
        var digest = peers[0].Tree.Digest();
        foreach (var peer in peers)
        {
            if (peer.Tree.Digest() != digest)
                throw new ConsensusViolation($"peer {peer.Id}'s tree digest differs from peer {peers[0].Id}'s at quiescence (both at {peer.Tree.Zxid}/{peers[0].Tree.Zxid}); \n  {TreeDigest.Difference(peer.Tree.State, peers[0].Tree.State)}");
        }
        var state = peers[0].Tree.State;
        var closed = Ops.Where(o => o.Kind == SimOpKind.CloseSession && o.Outcome is SimOutcome.Ok or SimOutcome.Unknown).Select(o => o.Session).ToHashSet();
        closed.UnionWith(Expirations);
        foreach (var op in Ops.Where(o => o.Outcome == SimOutcome.Ok))
        {
            if (op.Kind == SimOpKind.CloseSession && (SimTree.EphemeralsOf(state, op.Session) > 0 || SimTree.HasSession(state, op.Session)))
                throw new ConsensusViolation($"session {op.Session:x} was closed ({op}) but it or its ephemerals remain");
            if (op.Kind is SimOpKind.Ephemeral or SimOpKind.CreateSequential or SimOpKind.Multi && !closed.Contains(op.Session)
                && !SimTree.Exists(state, op.CreatedPath!))
                throw new ConsensusViolation($"acknowledged {op} is missing at quiescence");
            if (op.WritesRegister && SimTree.Read(state, op.Path)!.Value.Version <= op.ExpectedVersion)
                throw new ConsensusViolation($"acknowledged {op} is missing at quiescence: {op.Path} is at version {SimTree.Read(state, op.Path)!.Value.Version}");
        }
    }

    private void CheckFifo()
    {
        foreach (var session in Ops.Where(o => o.Outcome == SimOutcome.Ok).GroupBy(o => (o.Client, o.Session)))
        {
            SimOp? previous = null;
            foreach (var op in session.OrderBy(o => o.Invoke).ThenBy(o => o.Id))
            {
                if (previous is not null && (op.Return < previous.Return || Txn(op) && Txn(previous) && op.Zxid <= previous.Zxid))
                    throw new ConsensusViolation($"session {session.Key.Session:x} replies out of order: {previous} then {op}");
                previous = op;
            }
        }
    }

    private void CheckSequentialNames()
    {
        foreach (var parent in Ops.Where(o => o.Outcome == SimOutcome.Ok && o.Kind is SimOpKind.CreateSequential or SimOpKind.Multi).GroupBy(o => o.CreatedPath![..o.CreatedPath!.LastIndexOf('/')]))
        {
            SimOp? previous = null;
            foreach (var op in parent.OrderBy(o => o.Zxid))
            {
                if (previous is not null && Linearizability.SequenceOf(op.CreatedPath!) <= Linearizability.SequenceOf(previous.CreatedPath!))
                    throw new ConsensusViolation($"sequential names under {parent.Key} not increasing with zxid: {previous} then {op}");
                previous = op;
            }
        }
    }

    /// <summary>A write with its own zxid (a linearizable read is a read: the zxid of the state it saw).</summary>
    private static bool Txn(SimOp op) => op.IsWrite && !op.NoTxn;
}
