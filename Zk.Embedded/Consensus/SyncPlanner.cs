using Zk.Embedded.Api;

namespace Zk.Embedded.Consensus;

internal enum SyncKind { Diff, Trunc, Snap }

/// <summary>
/// How to bring a learner from <c>peerZxid</c> to the leader's log: the message to send first, its zxid, and the
/// index in the leader's window of the first txn to stream after it (for SNAP, decided after the snapshot).
/// </summary>
internal readonly record struct SyncPlan(SyncKind Kind, Zxid Zxid, int FirstIndex);

/// <summary>
/// <c>LearnerHandler.syncFollower</c> and <c>queueCommittedProposals</c>, over the in-memory window only (no
/// on-disk txn log read yet: a learner behind the window gets SNAP).
/// </summary>
internal static class SyncPlanner
{
    public static SyncPlan Plan(LogWindow log, Zxid peerZxid)
    {
        if (peerZxid == log.Last)
            return new(SyncKind.Diff, peerZxid, log.Count);
        if (peerZxid > log.Last)
            return new(SyncKind.Trunc, log.Last, log.Count);   // the peer has a tail nobody committed
        if (peerZxid < log.Base)
            return new(SyncKind.Snap, default, 0);             // older than anything we can stream
        if (peerZxid == log.Base)
            return new(SyncKind.Diff, peerZxid, 0);
        var i = log.LowerBound(peerZxid);
        if (log[i].Zxid == peerZxid)
            return new(SyncKind.Diff, peerZxid, i + 1);
        // The peer logged a txn we never had. Same epoch: cut back to the last txn we share. Across an epoch
        // ZooKeeper refuses TRUNC ("peer zxid is from different epoch") and sends SNAP; so do we.
        if (log[i].Zxid.Epoch != peerZxid.Epoch)
            return new(SyncKind.Snap, default, 0);
        var previous = i > 0 ? log[i - 1].Zxid : log.Base;
        return new(SyncKind.Trunc, previous, i);
    }
}
