using Zk.Embedded.Api;

namespace Zk.Embedded.Consensus;

/// <summary>
/// The established leader: zxids for proposals, PROPOSAL to synced participants, COMMIT on a quorum of voters'
/// durable acks strictly in zxid order (<c>Leader.tryToCommit</c>), INFORM to observers, PING every tick and the
/// quorum-of-synced-voters check that makes a cut-off leader quit (<c>Leader.lead</c>'s loop, SyncLimitCheck).
/// </summary>
internal sealed class Broadcast(PeerContext ctx, LeaderRole leader)
{
    private uint _counter;
    private long _nextPing;

    public Zxid LastProposed { get; private set; }
    public Zxid LastCommitted { get; private set; }

    /// <summary>Establishment commits the whole history this leader was elected with.</summary>
    public void Start()
    {
        LastProposed = leader.HistoryEnd;
        LastCommitted = leader.HistoryEnd;
        ctx.CommitThrough(leader.HistoryEnd);
        foreach (var learner in leader.Learners.Values)
            learner.AckProgressTick = ctx.Now;
    }

    /// <summary>The zxid the next proposal gets.</summary>
    public Zxid Next => new(leader.Epoch, _counter + 1);

    public Zxid Propose(ReadOnlyMemory<byte> data)
    {
        if (_counter == uint.MaxValue - 1)
        {
            // Leader.propose: the counter would roll over into the next epoch; a new election starts a new epoch.
            ctx.GoLooking("zxid counter exhausted (ZOOKEEPER-1277)");
            return default;
        }
        var txn = new ConsensusTxn(new Zxid(leader.Epoch, ++_counter), data);
        ctx.AppendLocal(txn);
        var proposal = new Proposal(txn, LastProposed);
        LastProposed = txn.Zxid;
        foreach (var learner in leader.Learners.Values)
        {
            if ((!learner.IsObserver || ctx.Config.Faults.CountObserverAcks) && learner.Stage >= LearnerStage.Forwarding)
                ctx.Send(learner.Sid, proposal);
        }
        return txn.Zxid;
    }

    public void OnAck(LearnerHandle learner, Zxid zxid)
    {
        // Observers never ack proposals; an ack before NEWLEADER's or from beyond what we proposed is stale.
        if ((learner.IsObserver && !ctx.Config.Faults.CountObserverAcks) || learner.Stage < LearnerStage.NewLeaderAcked || zxid > LastProposed)
            return;
        if (zxid > learner.AckedUpTo)
        {
            learner.AckedUpTo = zxid;
            learner.AckProgressTick = ctx.Now;
        }
        if (leader.Established)
            TryCommit();
    }

    /// <summary>Commits the next proposal while a quorum of voters holds it durably; never skips one.</summary>
    public void TryCommit()
    {
        var log = ctx.Log;
        while (LastCommitted < LastProposed)
        {
            var next = log[log.LowerBound(new Zxid(LastCommitted.Value + 1))];
            if (!ctx.Config.IsQuorum(AckCount(next.Zxid)))
                return;
            var previous = LastCommitted;
            LastCommitted = next.Zxid;
            ctx.CommitThrough(next.Zxid);
            var commit = new Commit(next.Zxid);
            Inform? inform = null;
            foreach (var learner in leader.Learners.Values)
            {
                if (learner.Stage < LearnerStage.Forwarding)
                    continue;
                if (learner.IsObserver)
                    ctx.Send(learner.Sid, inform ??= new Inform(next, previous));
                else
                    ctx.Send(learner.Sid, commit);
            }
        }
    }

    public void Tick()
    {
        var synced = 1;
        List<LearnerHandle>? lagging = null;
        var ping = ctx.Now >= _nextPing;
        if (ping)
            _nextPing = ctx.Now + ctx.Config.PingEveryTicks;
        foreach (var learner in leader.Learners.Values)
        {
            if (learner.Stage < LearnerStage.Forwarding)
                continue;
            if (ping)
                ctx.Send(learner.Sid, new Ping(LastCommitted));
            if (learner.Stage == LearnerStage.Forwarding)
            {
                // Still writing its sync stream: initLimit, as LearnerHandler's socket timeout during sync.
                if (ctx.Now - learner.AckProgressTick > ctx.Config.InitLimit)
                    (lagging ??= []).Add(learner);
            }
            else if (learner.AckedUpTo >= LastProposed || learner.IsObserver)
                learner.AckProgressTick = ctx.Now;
            else if (ctx.Now - learner.AckProgressTick > ctx.Config.SyncLimit)
                (lagging ??= []).Add(learner);
            if (!learner.IsObserver && learner.Stage >= LearnerStage.NewLeaderAcked
                && ctx.Now - learner.LastHeard <= ctx.Config.SyncLimit)
                synced++;
        }
        if (lagging is not null)
        {
            foreach (var learner in lagging)
                leader.DropLearner(learner, "no ack of the oldest proposal within syncLimit");
        }
        if (!ctx.Config.IsQuorum(synced))
            ctx.GoLooking("fewer than a quorum of voters synced within syncLimit");
    }

    private int AckCount(Zxid zxid)
    {
        // The leader's own ack is its durable log; it counts but is not required (QuorumMaj).
        var n = ctx.DurableZxid >= zxid ? 1 : 0;
        foreach (var learner in leader.Learners.Values)
        {
            if ((!learner.IsObserver || ctx.Config.Faults.CountObserverAcks) && learner.Stage >= LearnerStage.NewLeaderAcked && learner.AckedUpTo >= zxid)
                n++;
        }
        return n;
    }
}
