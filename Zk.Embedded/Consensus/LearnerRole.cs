using Zk.Embedded.Api;

namespace Zk.Embedded.Consensus;

internal enum LearnerPhase { Connecting, AckingEpoch, Syncing, AwaitingUpToDate, Broadcast }

/// <summary>
/// A follower or observer (<c>Learner.registerWithLeader</c>, <c>syncWithLeader</c>, <c>Follower.processPacket</c>,
/// <c>Observer.processPacket</c>). Every durability promise waits for <see cref="PeerContext.StorageDone"/>: ACKEPOCH
/// for the acceptedEpoch write, the NEWLEADER ACK for the history and currentEpoch (ZOOKEEPER-3911, 4643), each
/// ACK for its txn (ZOOKEEPER-3023). Anything out of place sends the peer back to LOOKING, as an exception in
/// <c>followLeader</c> does.
/// </summary>
internal sealed class LearnerRole
{
    private readonly PeerContext _ctx;
    private readonly List<ConsensusTxn> _deferred = [];
    private uint _epoch;
    private long _lastHeard;
    private long _started;   // connected, or last heard of SNAP progress (SyncProgress)
    private long _awaitSeq = -1;
    private bool _syncStarted;
    private bool _newLeaderAcked;
    private Zxid _streamLast;
    private Zxid _commitThrough;
    private Zxid _lastAcked;

    public LearnerRole(PeerContext ctx, int leader)
    {
        _ctx = ctx;
        Leader = leader;
        IsObserver = ctx.Config.IsObserver;
        _lastHeard = _started = ctx.Now;
        ctx.Send(leader, new LearnerInfo(ctx.AcceptedEpoch, IsObserver));
    }

    public int Leader { get; }
    public bool IsObserver { get; }
    public LearnerPhase Phase { get; private set; }

    /// <summary>Ticks since the leader was last heard from.</summary>
    public long SilentTicks => _ctx.Now - _lastHeard;
    public uint Epoch => _epoch;

    public ZabPhase ZabPhase => Phase switch
    {
        LearnerPhase.Connecting or LearnerPhase.AckingEpoch => ZabPhase.Discovery,
        LearnerPhase.Broadcast => ZabPhase.Broadcast,
        _ => ZabPhase.Synchronization,
    };

    /// <summary>Set when UPTODATE arrived in this step: the peer serves from now on.</summary>
    public bool BecameUpToDate { get; set; }

    public void Step(int from, ZabMessage message)
    {
        if (from != Leader)
            return;
        if (message is LearnerInfo)
        {
            // The peer we follow follows someone itself (us, after crossed restarts): it leads nothing, and its
            // LearnerInfo retries must not count as hearing from a leader, or two peers follow each other for ever
            // (the simulator found that cycle; ZooKeeper's learner fails to connect to a peer that does not lead).
            _ctx.GoLooking($"peer {Leader}, which we follow, sent LearnerInfo: it does not lead");
            return;
        }
        _lastHeard = _ctx.Now;
        switch (message)
        {
            case LeaderInfo info when Phase == LearnerPhase.Connecting: OnLeaderInfo(info); break;
            // The answer to a LearnerInfo we sent again (see Tick) while the first was on its way.
            case LeaderInfo info when info.Epoch == _epoch: break;
            // Until LEADERINFO answers our LearnerInfo, anything else is from the leader's previous connection to us.
            case not LeaderInfo when Phase == LearnerPhase.Connecting: break;
            case Diff or Trunc or Snap when Phase == LearnerPhase.Syncing && !_syncStarted: OnSyncStart(message); break;
            case Proposal p when Phase == LearnerPhase.Syncing && _syncStarted: OnStreamProposal(p); break;
            case Proposal p when (!IsObserver || _ctx.Config.Faults.CountObserverAcks) && Phase is LearnerPhase.AwaitingUpToDate or LearnerPhase.Broadcast: OnProposal(p); break;
            case NewLeader nl when Phase == LearnerPhase.Syncing && _syncStarted && nl.Epoch == _epoch: OnNewLeader(nl); break;
            case Commit c when !IsObserver && Phase is LearnerPhase.AwaitingUpToDate or LearnerPhase.Broadcast: OnCommit(c.Zxid); break;
            case Inform i when IsObserver && Phase is LearnerPhase.AwaitingUpToDate or LearnerPhase.Broadcast: OnInform(i); break;
            case UpToDate u when Phase == LearnerPhase.AwaitingUpToDate && _newLeaderAcked && u.Epoch == _epoch: OnUpToDate(); break;
            case Ping ping when Phase is LearnerPhase.AwaitingUpToDate or LearnerPhase.Broadcast: OnPing(ping); break;
            // It acked NEWLEADER, so it follows this epoch: its ack tells the leader it still leads.
            case ReadProbe probe when !IsObserver && Phase is LearnerPhase.AwaitingUpToDate or LearnerPhase.Broadcast:
                _ctx.Send(Leader, new ReadProbeAck(probe.Round));
                break;
            case ReadIndexReply reply when Phase == LearnerPhase.Broadcast: _ctx.Reads.SetIndex(reply.Id, reply.Index); break;
            default: _ctx.GoLooking($"unexpected {message.GetType().Name} from leader {Leader} in {Phase}"); break;
        }
    }

    public void Tick()
    {
        // Before UPTODATE the learner's socket timeout is initLimit ticks, afterwards syncLimit (Learner.connectToLeader).
        var limit = Phase == LearnerPhase.Broadcast ? _ctx.Config.SyncLimit : _ctx.Config.InitLimit;
        if (_ctx.Now - _lastHeard > limit)
            _ctx.GoLooking($"leader {Leader} silent for {limit} ticks");
        // The leader's own waits (epoch, then NEWLEADER) take at most 2·initLimit; pings alone must not keep a
        // learner whose UPTODATE was lost waiting forever, nor answers to its LearnerInfo keep it connecting.
        else if (Phase != LearnerPhase.Broadcast && _ctx.Now - _started > 3 * _ctx.Config.InitLimit)
            _ctx.GoLooking($"not up to date with leader {Leader} within 3·initLimit ticks");
        else if (Phase == LearnerPhase.Connecting)
            // Our LearnerInfo may have reached the leader before it finished its election (a follower often decides
            // first) and been dropped; ZooKeeper's learner retries its connection to the leader the same way.
            _ctx.Send(Leader, new LearnerInfo(_ctx.AcceptedEpoch, IsObserver));
    }

    /// <summary>A chunk of the leader's SNAP arrived: the sync is making progress, so its limits start again.</summary>
    public void SyncProgress(int from)
    {
        if (from == Leader && Phase == LearnerPhase.Syncing)
            _lastHeard = _started = _ctx.Now;
    }

    /// <summary>Storage progressed: send the acknowledgements that were waiting for it, in protocol order.</summary>
    public void OnStorageDone()
    {
        if (_awaitSeq >= 0 && _ctx.DurableSeq >= _awaitSeq)
        {
            _awaitSeq = -1;
            if (Phase == LearnerPhase.AckingEpoch)
            {
                Phase = LearnerPhase.Syncing;
                _ctx.Send(Leader, new AckEpoch(_epoch, _ctx.DurableCurrentEpoch, _ctx.DurableZxid));
            }
            else if (Phase == LearnerPhase.AwaitingUpToDate)
            {
                _newLeaderAcked = true;
                _lastAcked = _ctx.DurableZxid;
                _ctx.Send(Leader, new AckNewLeader(_epoch));
            }
        }
        SendAck();
    }

    private void OnLeaderInfo(LeaderInfo info)
    {
        _epoch = info.Epoch;
        if (info.Epoch > _ctx.AcceptedEpoch)
        {
            Phase = LearnerPhase.AckingEpoch;
            _awaitSeq = _ctx.PersistAcceptedEpoch(info.Epoch);
        }
        else if (info.Epoch == _ctx.AcceptedEpoch)
        {
            // Already accepted this epoch: say so with −1 so the leader does not count it (Learner.registerWithLeader).
            Phase = LearnerPhase.Syncing;
            _ctx.Send(Leader, new AckEpoch(_epoch, -1, _ctx.Log.Last));
        }
        else
        {
            _ctx.GoLooking($"leader's epoch {info.Epoch} is older than our acceptedEpoch {_ctx.AcceptedEpoch}");
        }
    }

    private void OnSyncStart(ZabMessage message)
    {
        _syncStarted = true;
        switch (message)
        {
            case Diff d when d.Zxid != _ctx.Log.Last:
                _ctx.GoLooking($"DIFF from {d.Zxid} but our log ends at {_ctx.Log.Last}");
                return;
            case Trunc t when !_ctx.Log.Contains(t.Zxid):
                _ctx.GoLooking($"TRUNC to {t.Zxid}, which is not in our log");
                return;
            case Trunc t when _ctx.Config.Faults.SkipTrunc:
                _streamLast = t.Zxid;   // planted: the tail stays, and proposals' predecessors go unchecked (as over TCP)
                return;
            case Trunc t:
                _ctx.TruncateAfter(t.Zxid);
                break;
            case Snap s:
                _ctx.InstallSnapshot(s.Snapshot);
                break;
        }
        _streamLast = _ctx.Log.Last;
    }

    private void OnStreamProposal(Proposal proposal)
    {
        var txn = proposal.Txn;
        if (proposal.Previous != _streamLast || !LogWindow.IsNext(_streamLast, txn.Zxid))
        {
            _ctx.GoLooking($"sync stream gap: {txn.Zxid} after {proposal.Previous}, but we have {_streamLast}");
            return;
        }
        _streamLast = txn.Zxid;
        // Txns of the new epoch (a late joiner's stream) wait until currentEpoch is written, so the epoch files
        // never fall behind the log (acceptedEpoch ≥ currentEpoch ≥ epoch(lastZxid), QuorumPeer.loadDataBase).
        // Older epochs' txns may raise currentEpoch on the way: everything before an epoch's first txn in the
        // leader's log is that epoch's whole initial history, so the ZOOKEEPER-4643 order still holds.
        if (txn.Zxid.Epoch >= _epoch)
        {
            _deferred.Add(txn);
            return;
        }
        if (txn.Zxid.Epoch > _ctx.CurrentEpoch)
            _ctx.PersistCurrentEpoch(txn.Zxid.Epoch);
        _ctx.AppendLocal(txn);
    }

    private void OnNewLeader(NewLeader newLeader)
    {
        if (newLeader.StreamEnd != _streamLast)
        {
            _ctx.GoLooking($"sync stream ended at {newLeader.StreamEnd}, but we have {_streamLast}");
            return;
        }
        _commitThrough = newLeader.CommittedThrough;
        // History first, then currentEpoch, then the new epoch's txns: the ACK waits for all of it (ZOOKEEPER-4643).
        _awaitSeq = _ctx.PersistCurrentEpoch(_epoch);
        foreach (var txn in _deferred)
            _awaitSeq = _ctx.AppendLocal(txn);
        _deferred.Clear();
        Phase = LearnerPhase.AwaitingUpToDate;
        PlantedNewLeaderFaults();
    }

    /// <summary>Only the simulator's tests get here with a flag set (<see cref="PlantedFaults"/>).</summary>
    private void PlantedNewLeaderFaults()
    {
        var faults = _ctx.Config.Faults;
        if (faults.AckNewLeaderBeforeDurable)
        {
            _awaitSeq = -1;
            _newLeaderAcked = true;
            _lastAcked = _ctx.Log.Last;
            _ctx.Send(Leader, new AckNewLeader(_epoch));
        }
        if (faults.ServeBeforeUpToDate)
        {
            BecameUpToDate = true;
            _ctx.CommitThrough(_commitThrough);
        }
    }

    private void OnProposal(Proposal proposal)
    {
        if ((proposal.Previous != _ctx.Log.Last && !_ctx.Config.Faults.SkipTrunc) || !LogWindow.IsNext(_ctx.Log.Last, proposal.Txn.Zxid))
        {
            _ctx.GoLooking($"proposal gap: {proposal.Txn.Zxid} after {proposal.Previous}, but we have {_ctx.Log.Last}");
            return;
        }
        _ctx.AppendLocal(proposal.Txn);
        if (_ctx.Config.Faults.AckBeforeFsync && _newLeaderAcked)
        {
            _lastAcked = proposal.Txn.Zxid;
            _ctx.Send(Leader, new Ack(_lastAcked));
        }
    }

    private void OnCommit(Zxid zxid)
    {
        if (Phase == LearnerPhase.AwaitingUpToDate)
        {
            if (zxid > _ctx.Log.Last)
                _ctx.GoLooking($"COMMIT {zxid} for a proposal we never got (last {_ctx.Log.Last})");
            else if (zxid > _commitThrough)
                _commitThrough = zxid;
            return;
        }
        // Follower.processPacket: a COMMIT must match the oldest pending proposal.
        var expected = _ctx.Log.LowerBound(new Zxid(_ctx.AppliedThrough.Value + 1));
        if (expected >= _ctx.Log.Count || _ctx.Log[expected].Zxid != zxid)
        {
            _ctx.GoLooking($"COMMIT {zxid} does not match the next pending proposal after {_ctx.AppliedThrough}");
            return;
        }
        _ctx.CommitThrough(zxid);
    }

    private void OnInform(Inform inform)
    {
        var txn = inform.Txn;
        if (txn.Zxid <= _ctx.Log.Last && _ctx.Log.Contains(txn.Zxid))
        {
            // Already streamed to us uncommitted; INFORM only says it is committed now.
        }
        else if (inform.Previous == _ctx.Log.Last && LogWindow.IsNext(_ctx.Log.Last, txn.Zxid))
        {
            _ctx.AppendLocal(txn);
        }
        else
        {
            _ctx.GoLooking($"INFORM gap: {txn.Zxid} after {_ctx.Log.Last}");
            return;
        }
        if (Phase == LearnerPhase.AwaitingUpToDate)
            _commitThrough = txn.Zxid;
        else
            _ctx.CommitThrough(txn.Zxid);
    }

    /// <summary>
    /// Answers the heartbeat. The leader's commit point also repairs a lost last COMMIT: our log is a prefix of the
    /// leader's, so whatever of it the leader has committed is committed (ZooKeeper needs no such repair over TCP).
    /// </summary>
    private void OnPing(Ping ping)
    {
        if (Phase == LearnerPhase.Broadcast && ping.LastCommitted > _ctx.Log.Last)
        {
            // Channels are FIFO, so the PROPOSAL or INFORM of that commit reached us before this PING, or was lost.
            _ctx.GoLooking($"leader committed {ping.LastCommitted} but our log ends at {_ctx.Log.Last}: a message was lost");
            return;
        }
        if (Phase == LearnerPhase.Broadcast && ping.LastCommitted > _ctx.AppliedThrough)
            _ctx.CommitThrough(ping.LastCommitted);
        _ctx.Send(Leader, new Ping(_ctx.AppliedThrough));
    }

    private void OnUpToDate()
    {
        Phase = LearnerPhase.Broadcast;
        BecameUpToDate = true;
        _ctx.CommitThrough(_commitThrough);
    }

    /// <summary>A follower acks its durable log (cumulative); observers never ack proposals.</summary>
    private void SendAck()
    {
        if ((IsObserver && !_ctx.Config.Faults.CountObserverAcks) || !_newLeaderAcked || _ctx.DurableZxid <= _lastAcked)
            return;
        _lastAcked = _ctx.DurableZxid;
        _ctx.Send(Leader, new Ack(_lastAcked));
    }
}
