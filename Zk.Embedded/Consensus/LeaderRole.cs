using Zk.Embedded.Api;

namespace Zk.Embedded.Consensus;

/// <summary>
/// The leader's discovery and sync (<c>Leader.lead</c>, <c>LearnerHandler.run</c>): a new epoch once a quorum of
/// voters has connected, the "follower is ahead" check on ACKEPOCH, a DIFF/TRUNC/SNAP stream per learner ended by
/// NEWLEADER, and establishment once a quorum (itself included, once its own currentEpoch is durable) acked
/// NEWLEADER. Broadcast lives in <see cref="Broadcast"/>.
/// </summary>
internal sealed class LeaderRole
{
    private readonly PeerContext _ctx;
    private readonly long _startTick;
    private readonly long _summaryEpoch;     // StateSummary of the leader at the start of discovery
    private readonly Zxid _summaryZxid;
    private long _epochAckTick = -1;
    private long _currentEpochSeq = -1;

    public LeaderRole(PeerContext ctx)
    {
        _ctx = ctx;
        _startTick = ctx.Now;
        _summaryEpoch = ctx.CurrentEpoch;
        _summaryZxid = ctx.Log.Last;
        HistoryEnd = ctx.Log.Last;
        Broadcast = new Broadcast(ctx, this);
        Reads = new LeaderReads(ctx, this);
        TryProposeEpoch();
    }

    public Dictionary<int, LearnerHandle> Learners { get; } = [];
    /// <summary>The epoch this leader proposes; 0 until a quorum has connected.</summary>
    public uint Epoch { get; private set; }
    /// <summary>The leader's log at election: all of it is committed once the leader is established.</summary>
    public Zxid HistoryEnd { get; }
    public bool EpochAcked => _epochAckTick >= 0;
    public bool Established { get; private set; }
    public Broadcast Broadcast { get; }
    public LeaderReads Reads { get; }
    public ZabPhase Phase => Established ? ZabPhase.Broadcast : EpochAcked ? ZabPhase.Synchronization : ZabPhase.Discovery;

    public void Step(int from, ZabMessage message)
    {
        if (message is LearnerInfo info)
        {
            OnLearnerInfo(from, info);
            return;
        }
        if (!Learners.TryGetValue(from, out var learner))
            return;   // no handler for this peer (dropped, or a stale message of an earlier connection)
        learner.LastHeard = _ctx.Now;
        switch (message)
        {
            case AckEpoch ack: OnAckEpoch(learner, ack); break;
            case AckNewLeader ack: OnAckNewLeader(learner, ack); break;
            case Ack ack: Broadcast.OnAck(learner, ack.Zxid); break;
            case Ping: break;
            case ReadIndexRequest r: Reads.Request(from, r.Id); break;
            case ReadProbeAck a: Reads.OnProbeAck(learner, a.Round); break;
            default: DropLearner(learner, $"unexpected {message.GetType().Name}"); break;
        }
    }

    public void Tick()
    {
        if (!EpochAcked && _ctx.Now - _startTick > _ctx.Config.InitLimit)
            _ctx.GoLooking("no quorum acknowledged the new epoch within initLimit");
        else if (EpochAcked && !Established && _ctx.Now - _epochAckTick > _ctx.Config.InitLimit)
            _ctx.GoLooking("no quorum acknowledged NEWLEADER within initLimit");
        else if (Established)
        {
            Broadcast.Tick();
            Reads.Tick();
        }
    }

    /// <summary>Storage progressed: our own acceptedEpoch, currentEpoch or log may now count.</summary>
    public void OnStorageDone()
    {
        if (Epoch != 0 && !EpochAcked)
            TryEpochQuorum();
        else if (EpochAcked && !Established)
            TryEstablish();
        else if (Established)
            Broadcast.TryCommit();
    }

    /// <summary>A learner acknowledged SNAP chunks: still syncing, not lagging (Broadcast's initLimit check).</summary>
    public void SyncProgress(int sid)
    {
        if (Learners.TryGetValue(sid, out var learner) && learner.Stage == LearnerStage.Forwarding)
            learner.LastHeard = learner.AckProgressTick = _ctx.Now;
    }

    public void DropLearner(LearnerHandle learner, string reason)
    {
        // The learner notices the silence within its limit and goes LOOKING, as a closed LearnerHandler socket does.
        _ = reason;
        Learners.Remove(learner.Sid);
    }

    private void OnLearnerInfo(int from, LearnerInfo info)
    {
        var isObserver = Array.IndexOf(_ctx.Config.Observers, from) >= 0;
        if (!isObserver && !_ctx.Config.IsVoter(from))
            return;
        if (Epoch != 0 && info.AcceptedEpoch > Epoch)
        {
            // It promised a newer epoch to a leader that never established, and it refuses ours for good
            // (LearnerRole: "older than our acceptedEpoch"). ZooKeeper keeps such a learner out until its leader
            // changes, which a healthy quorum never does; a new election picks an epoch at or above its promise.
            _ctx.GoLooking($"learner {from} accepted epoch {info.AcceptedEpoch}, above ours {Epoch}");
            return;
        }
        if (Learners.TryGetValue(from, out var known) && known is { Stage: LearnerStage.Connected } && known.AcceptedEpoch == info.AcceptedEpoch)
        {
            // The learner sent its LearnerInfo again before our LEADERINFO reached it (LearnerRole.Tick): same
            // connection, nothing to reset.
            known.LastHeard = _ctx.Now;
            if (Epoch != 0)
                _ctx.Send(from, new LeaderInfo(Epoch));
            return;
        }
        Learners[from] = new LearnerHandle(from, isObserver, info.AcceptedEpoch) { LastHeard = _ctx.Now };
        if (Epoch == 0)
            TryProposeEpoch();
        else
            _ctx.Send(from, new LeaderInfo(Epoch));
    }

    /// <summary><c>getEpochToPropose</c>: max(acceptedEpoch of the leader and every learner so far) + 1, once a quorum of voters is in.</summary>
    private void TryProposeEpoch()
    {
        var voters = 1;
        var max = _ctx.AcceptedEpoch;
        foreach (var learner in Learners.Values)
        {
            max = Math.Max(max, learner.AcceptedEpoch);
            if (!learner.IsObserver)
                voters++;
        }
        if (!_ctx.Config.IsQuorum(voters))
            return;
        if (max == uint.MaxValue)
            throw new InvalidOperationException("epoch space exhausted");
        Epoch = max + 1;
        _ctx.PersistAcceptedEpoch(Epoch);
        foreach (var learner in Learners.Values)
            _ctx.Send(learner.Sid, new LeaderInfo(Epoch));
    }

    private void OnAckEpoch(LearnerHandle learner, AckEpoch ack)
    {
        if (ack.Epoch != Epoch || learner.Stage != LearnerStage.Connected)
        {
            DropLearner(learner, "ACKEPOCH out of place");
            return;
        }
        learner.Stage = LearnerStage.EpochAcked;
        learner.PeerZxid = ack.LastZxid;
        if (!EpochAcked && ack.CurrentEpoch >= 0)
        {
            // Leader.waitForEpochAck / StateSummary.isMoreRecentThan: a learner with a later (currentEpoch, zxid)
            // may hold commits this leader lacks; only a new election can pick the right leader.
            if (IsAhead(ack.CurrentEpoch, ack.LastZxid))
            {
                _ctx.GoLooking($"follower {learner.Sid} is ahead of the leader ({ack.CurrentEpoch}, {ack.LastZxid})");
                return;
            }
            learner.CountsForEpoch = true;
        }
        if (EpochAcked)
            Sync(learner);
        else
            TryEpochQuorum();
    }

    private bool IsAhead(long currentEpoch, Zxid lastZxid) =>
        currentEpoch > _summaryEpoch || (currentEpoch == _summaryEpoch && lastZxid > _summaryZxid);

    private void TryEpochQuorum()
    {
        // The leader counts itself once its own acceptedEpoch is durable.
        var voters = _ctx.DurableAcceptedEpoch == Epoch ? 1 : 0;
        foreach (var learner in Learners.Values)
        {
            if (learner.CountsForEpoch && !learner.IsObserver)
                voters++;
        }
        if (!_ctx.Config.IsQuorum(voters))
            return;
        _epochAckTick = _ctx.Now;
        _currentEpochSeq = _ctx.PersistCurrentEpoch(Epoch);
        foreach (var learner in Learners.Values)
        {
            if (learner.Stage == LearnerStage.EpochAcked)
                Sync(learner);
        }
    }

    /// <summary>Queues the sync stream and NEWLEADER, then forwards later traffic to this learner (Zab.tla issue #1).</summary>
    private void Sync(LearnerHandle learner)
    {
        var log = _ctx.Log;
        var plan = SyncPlanner.Plan(log, learner.PeerZxid);
        var first = plan.FirstIndex;
        switch (plan.Kind)
        {
            case SyncKind.Diff: _ctx.Send(learner.Sid, new Diff(plan.Zxid)); break;
            case SyncKind.Trunc: _ctx.Send(learner.Sid, new Trunc(plan.Zxid)); break;
            default:
                var snapshot = _ctx.Snapshots.Take();
                if (snapshot.Zxid < log.Base || snapshot.Zxid > log.Last)
                    throw new InvalidOperationException($"snapshot at {snapshot.Zxid} is outside the log window ({log.Base}, {log.Last}]");
                _ctx.Send(learner.Sid, new Snap(snapshot));
                first = log.LowerBound(new Zxid(snapshot.Zxid.Value + 1));
                break;
        }
        // Before establishment the whole history goes; afterwards participants also get outstanding proposals and
        // observers only what is committed (they see the rest as INFORM), as LearnerHandler.startForwarding does.
        var end = !Established ? HistoryEnd : learner.IsObserver ? Broadcast.LastCommitted : Broadcast.LastProposed;
        var previous = first > 0 ? log[first - 1].Zxid : log.Base;
        for (var i = first; i < log.Count && log[i].Zxid <= end; i++)
        {
            _ctx.Send(learner.Sid, new Proposal(log[i], previous));
            previous = log[i].Zxid;
        }
        var committed = Established ? Broadcast.LastCommitted : HistoryEnd;
        _ctx.Send(learner.Sid, new NewLeader(Epoch, committed, previous));
        learner.StreamEnd = previous;
        learner.Stage = LearnerStage.Forwarding;
        learner.AckProgressTick = _ctx.Now;
    }

    private void OnAckNewLeader(LearnerHandle learner, AckNewLeader ack)
    {
        if (ack.Epoch != Epoch || learner.Stage != LearnerStage.Forwarding)
        {
            DropLearner(learner, "NEWLEADER ACK out of place");
            return;
        }
        learner.Stage = LearnerStage.NewLeaderAcked;
        learner.AckedUpTo = learner.StreamEnd;
        learner.AckProgressTick = _ctx.Now;
        if (Established)
        {
            SendUpToDate(learner);
            Broadcast.TryCommit();   // its NEWLEADER ACK covers the stream's outstanding proposals
        }
        else
        {
            TryEstablish();
        }
    }

    private void TryEstablish()
    {
        var voters = _ctx.DurableCurrentEpoch == Epoch && _ctx.DurableSeq >= _currentEpochSeq ? 1 : 0;
        foreach (var learner in Learners.Values)
        {
            if (learner.Stage >= LearnerStage.NewLeaderAcked && !learner.IsObserver)
                voters++;
        }
        if (!_ctx.Config.IsQuorum(voters))
            return;
        Established = true;
        Broadcast.Start();
        foreach (var learner in Learners.Values)
        {
            if (learner.Stage == LearnerStage.NewLeaderAcked)
                SendUpToDate(learner);
        }
    }

    private void SendUpToDate(LearnerHandle learner)
    {
        learner.Stage = LearnerStage.UpToDate;
        learner.LastHeard = _ctx.Now;
        _ctx.Send(learner.Sid, new UpToDate(Epoch));
    }
}

internal enum LearnerStage { Connected, EpochAcked, Forwarding, NewLeaderAcked, UpToDate }

/// <summary>The leader's view of one learner (a <c>LearnerHandler</c> without its socket).</summary>
internal sealed class LearnerHandle(int sid, bool isObserver, uint acceptedEpoch)
{
    public int Sid { get; } = sid;
    public bool IsObserver { get; } = isObserver;
    public uint AcceptedEpoch { get; } = acceptedEpoch;
    public LearnerStage Stage { get; set; }
    public bool CountsForEpoch { get; set; }
    public Zxid PeerZxid { get; set; }
    /// <summary>The last zxid of the sync stream: acking NEWLEADER means holding all of it durably.</summary>
    public Zxid StreamEnd { get; set; }
    public Zxid AckedUpTo { get; set; }
    public long LastHeard { get; set; }
    /// <summary>When this learner last caught up or acked more (for ZooKeeper's SyncLimitCheck).</summary>
    public long AckProgressTick { get; set; }
    /// <summary>The newest read-index round this follower acknowledged (<see cref="LeaderReads"/>).</summary>
    public long ReadRound { get; set; }
}
