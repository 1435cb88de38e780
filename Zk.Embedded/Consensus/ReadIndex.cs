using Zk.Embedded.Api;

namespace Zk.Embedded.Consensus;

/// <summary>
/// The answer to <see cref="ZabPeer.ReadIndex"/> <paramref name="Id"/>: <paramref name="Index"/> is the leader's
/// commit point as of a quorum round started after the request, and this peer has handed out every txn up to it;
/// null when the read cannot be made linearizable here (not serving, leadership lost, no answer in time, too many).
/// </summary>
internal readonly record struct ReadIndexResult(long Id, Zxid? Index);

/// <summary>
/// This peer's own read-index requests until each is answered (docs/consensus.md, "Linearizable reads"): first the
/// index from the leader (or from this peer's own rounds when it leads), then the wait until the peer has applied it.
/// Every request is answered exactly once, in <see cref="Ready.Reads"/>.
/// </summary>
internal sealed class LocalReads(PeerContext ctx)
{
    /// <summary>Bounds the table (a driver that never stops asking costs this much, then its reads fail at once).</summary>
    public const int MaxOutstanding = 16 * 1024;

    private readonly Dictionary<long, (Zxid? Index, long AskedTick)> _outstanding = [];
    private int _indexed;   // entries holding an index: Release has work only then

    public int Count => _outstanding.Count;

    /// <summary>Records a new request; false (and answered as failed) when the table is full.</summary>
    public bool TryAdd(long id)
    {
        if (_outstanding.ContainsKey(id))
            throw new InvalidOperationException($"read index {id} is already outstanding: ids must be unique");
        if (_outstanding.Count >= MaxOutstanding)
        {
            Fail(id);
            return false;
        }

        _outstanding.Add(id, (null, ctx.Now));
        return true;
    }

    /// <summary>Answers <paramref name="id"/> as failed and forgets it.</summary>
    public void Drop(long id)
    {
        if (_outstanding.Remove(id, out var entry))
        {
            _indexed -= entry.Index is null ? 0 : 1;
            Fail(id);
        }
    }

    private void Fail(long id) => ctx.Out.Reads.Add(new ReadIndexResult(id, null));

    /// <summary>The leader's index for <paramref name="id"/>; an id we no longer wait for (answered, failed) is ignored.</summary>
    public void SetIndex(long id, Zxid index)
    {
        if (!_outstanding.TryGetValue(id, out var entry) || entry.Index is not null)
            return;
        _outstanding[id] = (index, entry.AskedTick);
        _indexed++;
    }

    /// <summary>Answers every request whose index this peer has handed out to apply.</summary>
    public void Release()
    {
        if (_indexed == 0)
            return;
        List<long>? done = null;
        foreach (var (id, entry) in _outstanding)
        {
            if (entry.Index is { } index && index <= ctx.AppliedThrough)
            {
                ctx.Out.Reads.Add(new ReadIndexResult(id, index));
                (done ??= []).Add(id);
            }
        }
        Remove(done);
    }

    /// <summary>
    /// Fails requests older than <paramref name="limitTicks"/>: an answer lost on the way (a dropped message) must
    /// not leave a reader waiting while the peer keeps its leader.
    /// </summary>
    public void Expire(int limitTicks)
    {
        if (_outstanding.Count == 0)
            return;
        List<long>? done = null;
        foreach (var (id, entry) in _outstanding)
        {
            if (ctx.Now - entry.AskedTick > limitTicks)
            {
                Fail(id);
                (done ??= []).Add(id);
            }
        }
        Remove(done);
    }

    /// <summary>The peer stopped serving: no index it waits for can be trusted any more.</summary>
    public void FailAll()
    {
        foreach (var id in _outstanding.Keys)
            Fail(id);
        _outstanding.Clear();
        _indexed = 0;
    }

    private void Remove(List<long>? ids)
    {
        if (ids is null)
            return;
        foreach (var id in ids)
        {
            if (_outstanding.Remove(id, out var entry) && entry.Index is not null)
                _indexed--;
        }
    }
}

/// <summary>
/// The established leader's read-index rounds (etcd's <c>readOnly</c>, ReadIndex with <c>ReadOnlySafe</c>). A request
/// (its own or a learner's) waits for the next round; a round records the commit point, sends <see cref="ReadProbe"/>
/// to the followers that acked NEWLEADER and completes once a quorum of voters (the leader counts itself) answered
/// that round or a later one. Only a leader that a quorum still follows gets there, so the commit point covers every
/// write any member acknowledged before the request: a deposed leader never answers (ZOOKEEPER-1675). Requests that
/// arrive while a round is out wait for the next one, so one round serves any number of concurrent reads.
/// </summary>
internal sealed class LeaderReads(PeerContext ctx, LeaderRole leader)
{
    private readonly Queue<Round> _rounds = new();
    private List<(int From, long Id)> _pending = [];
    private long _lastRound;

    /// <summary>A read index for <paramref name="from"/> (this peer or a learner) and its request id.</summary>
    public void Request(int from, long id)
    {
        if (!leader.Established || _pending.Count >= LocalReads.MaxOutstanding)
        {
            // A learner's request is dropped: it fails when its own limit passes, as a lost message would.
            if (from == ctx.Config.MyId)
                ctx.Reads.Drop(id);
            return;
        }
        _pending.Add((from, id));
        if (_rounds.Count == 0)
            StartRound();
    }

    public void OnProbeAck(LearnerHandle learner, long round)
    {
        if (learner.IsObserver || learner.Stage < LearnerStage.NewLeaderAcked || round > _lastRound || round <= learner.ReadRound)
            return;
        learner.ReadRound = round;
        TryComplete();
    }

    /// <summary>A round still out after a tick may have lost a probe or an ack: probe again (a later round's acks complete it).</summary>
    public void Tick()
    {
        if (_rounds.Count > 0)
            StartRound();
    }

    private void StartRound()
    {
        var round = new Round(++_lastRound, leader.Broadcast.LastCommitted, _pending);
        _pending = [];
        _rounds.Enqueue(round);
        foreach (var learner in leader.Learners.Values)
        {
            if (!learner.IsObserver && learner.Stage >= LearnerStage.NewLeaderAcked)
                ctx.Send(learner.Sid, new ReadProbe(round.Number));
        }
        TryComplete();
    }

    private void TryComplete()
    {
        while (_rounds.TryPeek(out var round))
        {
            if (!ctx.Config.Faults.ReadIndexWithoutQuorum && !ctx.Config.IsQuorum(Acks(round.Number)))
                return;
            _rounds.Dequeue();
            foreach (var (from, id) in round.Requests)
            {
                if (from == ctx.Config.MyId)
                    ctx.Reads.SetIndex(id, round.Index);
                else
                    ctx.Send(from, new ReadIndexReply(id, round.Index));
            }
        }
        if (_pending.Count > 0)
            StartRound();
    }

    private int Acks(long round)
    {
        var n = 1;   // the leader itself: it still leads when it counts
        foreach (var learner in leader.Learners.Values)
        {
            if (!learner.IsObserver && learner.Stage >= LearnerStage.NewLeaderAcked && learner.ReadRound >= round)
                n++;
        }
        return n;
    }

    private sealed record Round(long Number, Zxid Index, List<(int From, long Id)> Requests);
}
