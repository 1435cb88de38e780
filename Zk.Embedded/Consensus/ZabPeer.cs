using Zk.Embedded.Api;

namespace Zk.Embedded.Consensus;

/// <summary>
/// One peer's ZAB state machine, shaped like etcd raft's <c>RawNode</c>: <see cref="Tick"/>, <see cref="Step"/>,
/// <see cref="Propose"/> and <see cref="StorageDone"/> in; <see cref="TakeReady"/> out. No threads, clocks, sockets,
/// files or randomness of its own (DESIGN invariant 6), so a driver runs it for a real peer and a seeded simulator
/// runs many in one thread. Single-threaded: the caller serialises every call.
/// </summary>
internal sealed class ZabPeer
{
    private readonly PeerContext _ctx;
    private readonly Election _election;
    private LeaderRole? _leader;
    private LearnerRole? _learner;
    private Vote _currentVote;
    private (ServerState, ZabPhase) _reported = (ServerState.Looking, ZabPhase.Election);

    public ZabPeer(ConsensusConfig config, PersistedState disk, IConsensusRandom random, ISnapshotSource snapshots)
    {
        config.Validate();
        _ctx = new PeerContext(config, disk, random, snapshots);
        _election = new Election(_ctx);
        StartLooking("started");
        _ctx.Out.RoleChanges.Add(new RoleChange(ServerState.Looking, ZabPhase.Election, 0, "started"));
    }

    public int Id => _ctx.Config.MyId;
    public ServerState State { get; private set; }
    public ZabPhase Phase => _leader?.Phase ?? _learner?.ZabPhase ?? ZabPhase.Election;

    /// <summary>
    /// On a leader: its learners, and the followers and observers it forwards proposals to (synced), as mntr's
    /// zk_learners, zk_synced_followers and zk_synced_observers count them; zeros elsewhere.
    /// </summary>
    public (int Learners, int SyncedFollowers, int SyncedObservers) LearnerCounts
    {
        get
        {
            if (_leader is not { } leader)
                return default;
            var (followers, observers) = (0, 0);
            foreach (var learner in leader.Learners.Values)
            {
                if (learner.Stage < LearnerStage.Forwarding)
                    continue;
                if (learner.IsObserver)
                    observers++;
                else
                    followers++;
            }
            return (leader.Learners.Count, followers, observers);
        }
    }
    /// <summary>The epoch this peer leads and has established (a NEWLEADER quorum), else null.</summary>
    public uint? EstablishedEpoch => _leader is { Established: true } l ? l.Epoch : null;
    public bool IsServing { get; private set; }
    public int? Leader => State == ServerState.Looking ? null : _currentVote.Leader;
    public Zxid LastLogged => _ctx.Log.Last;
    public Zxid DurableZxid => _ctx.DurableZxid;
    public Zxid AppliedThrough => _ctx.AppliedThrough;
    public uint AcceptedEpoch => _ctx.AcceptedEpoch;
    public uint CurrentEpoch => _ctx.CurrentEpoch;
    public Vote CurrentVote => State == ServerState.Looking ? _election.Proposal : _currentVote;
    public bool HasReady => !_ctx.Out.IsEmpty;

    public void Tick()
    {
        _ctx.Now++;
        if (State == ServerState.Looking)
        {
            if (_election.Tick() is { } decided)
                Decide(decided);
        }
        else
        {
            _leader?.Tick();
            _learner?.Tick();
        }
        _ctx.Reads.Expire(ReadTimeoutTicks);
        AfterInput();
    }

    /// <summary>
    /// The transport reports its connection to <paramref name="peer"/> closed (a process that dies closes its
    /// sockets). A learner whose leader that is goes LOOKING at once and a leader drops that learner, as ZooKeeper's
    /// do when a read on the quorum socket fails, instead of waiting syncLimit ticks. Always safe: it only gives up a
    /// role or a follower sooner.
    /// </summary>
    public void Disconnected(int peer)
    {
        if (_learner is { } learner && learner.Leader == peer)
            _ctx.GoLooking($"connection to leader {peer} closed");
        else if (_leader is { } leader && leader.Learners.TryGetValue(peer, out var handle))
            leader.DropLearner(handle, "connection closed");
        AfterInput();
    }

    /// <summary>
    /// The driver moved a chunked SNAP along with <paramref name="peer"/> (a chunk from our leader, an ack from our
    /// learner): the sync is alive, as each read of ZooKeeper's sync stream resets its initLimit socket timeout. Only
    /// timeouts move; nothing is sent, persisted or decided.
    /// </summary>
    public void SyncProgress(int peer)
    {
        _learner?.SyncProgress(peer);
        _leader?.SyncProgress(peer);
    }

    public void Step(int from, ZabMessage message)
    {
        if (message is Notification n)
            OnNotification(from, n);
        else if (_leader is not null)
            _leader.Step(from, message);
        else
            _learner?.Step(from, message);
        AfterInput();
    }

    /// <summary>
    /// Gives up the current role and looks for a leader, as ZooKeeper's <c>Leader.shutdown(reason)</c> and
    /// <c>Learner.shutdown</c> do when the peer above the core cannot go on in it (a leader whose request pipeline
    /// stopped). Always safe: a role given up is at worst an election sooner. No-op while looking.
    /// </summary>
    public void StepDown(string reason)
    {
        if (State != ServerState.Looking)
            _ctx.GoLooking(reason);
        AfterInput();
    }

    /// <summary>The zxid <see cref="Propose"/> would give the next txn; null when this peer is not an established leader.</summary>
    public Zxid? NextZxid => _leader is { Established: true } leader && _ctx.LookingReason is null ? leader.Broadcast.Next : null;

    /// <summary>Proposes a txn; returns its zxid, or null when this peer is not an established leader.</summary>
    public Zxid? Propose(ReadOnlyMemory<byte> data)
    {
        if (_leader is not { Established: true } leader || _ctx.LookingReason is not null)
            return null;
        var zxid = leader.Broadcast.Propose(data);
        AfterInput();
        return zxid == default ? null : zxid;
    }

    /// <summary>
    /// Asks for a linearizable read (docs/consensus.md, "Linearizable reads"): <see cref="Ready.Reads"/> answers
    /// <paramref name="id"/> once a quorum round confirmed the leader after this call and this peer has handed out
    /// every txn up to the leader's commit point at that round; or with null at once when this peer does not serve,
    /// when it stops serving, or when no answer came within <see cref="ReadTimeoutTicks"/>. Ids must be unique among
    /// the outstanding ones.
    /// </summary>
    public void ReadIndex(long id)
    {
        // TryAdd answers a request it cannot hold (the table is full) as failed.
        if (_ctx.Reads.TryAdd(id))
        {
            if (!IsServing || _ctx.LookingReason is not null)
                _ctx.Reads.Drop(id);
            else if (_leader is { } leader)
                leader.Reads.Request(Id, id);
            else
                _ctx.Send(_learner!.Leader, new ReadIndexRequest(id));
        }
        AfterInput();
    }

    /// <summary>
    /// How long a read index may wait: twice syncLimit, past which a live leader has answered or the peer has given
    /// it up. Only a lost request or answer (a dropped message) is ever failed by it.
    /// </summary>
    public int ReadTimeoutTicks => 2 * _ctx.Config.SyncLimit;

    /// <summary>Every persist request up to <paramref name="seq"/> is durable (the driver's fsync returned).</summary>
    public void StorageDone(long seq)
    {
        _ctx.StorageDone(seq);
        _leader?.OnStorageDone();
        _learner?.OnStorageDone();
        AfterInput();
    }

    public Ready TakeReady()
    {
        var ready = _ctx.Out;
        _ctx.Out = new Ready();
        return ready;
    }

    private void OnNotification(int from, Notification n)
    {
        if (State != ServerState.Looking)
        {
            // A settled peer answers a LOOKING one with its vote, which is how a restarted peer finds the leader.
            if (n.State == ServerState.Looking)
                _ctx.Send(from, new Notification(_election.Round, _currentVote, State));
            // The peer this learner chose, before it has said it leads (no LEADERINFO yet), votes for another: it
            // is not leading and will not answer. Electing again now beats waiting initLimit for its silence (seen
            // when three members start together: one decides on a quorum that the third's better vote then moved).
            if (_learner is { Phase: LearnerPhase.Connecting } && from == _currentVote.Leader && n.State != ServerState.Leading && n.Vote.Leader != from)
                _ctx.GoLooking($"leader {from} is {n.State} with a vote for {n.Vote.Leader}");
            // Another voter lost the leader, and this follower's own timeout is at most a tick away: the voters' ticks
            // are not in phase, so waiting for it would hold the election up to a tick longer (ZooKeeper waits; a
            // deliberate difference). A follower that heard its leader within the last syncLimit ticks stays.
            else if (_learner is { Phase: LearnerPhase.Broadcast, IsObserver: false } learner && n.State == ServerState.Looking
                && _ctx.Config.IsVoter(from) && learner.SilentTicks >= _ctx.Config.SyncLimit)
                _ctx.GoLooking($"leader {learner.Leader} silent for {learner.SilentTicks} ticks and voter {from} is looking");
            return;
        }
        if (!_ctx.Config.IsVoter(from))
        {
            // An observer's notification is answered, never counted (FastLeaderElection.Messenger.WorkerReceiver).
            _ctx.Send(from, new Notification(_election.Round, _election.Proposal, ServerState.Looking));
            return;
        }
        if (_election.OnNotification(from, n) is { } decided)
            Decide(decided);
    }

    private void Decide(Vote vote)
    {
        _currentVote = vote;
        if (vote.Leader == Id)
        {
            State = ServerState.Leading;
            _leader = new LeaderRole(_ctx);
        }
        else
        {
            State = _ctx.Config.IsObserver ? ServerState.Observing : ServerState.Following;
            _learner = new LearnerRole(_ctx, vote.Leader);
        }
    }

    private void StartLooking(string reason)
    {
        _ctx.ClearLooking();
        _leader = null;
        _learner = null;
        State = ServerState.Looking;
        SetServing(false);
        _ctx.Reads.FailAll();
        _ = reason;
        _election.Start();
    }

    private void AfterInput()
    {
        // A phase may give up while handling an input; the LOOKING switch waits until it returns (no re-entrancy).
        var reason = _ctx.LookingReason;
        if (reason is not null)
        {
            StartLooking(reason);
            Report(reason);
            return;
        }
        if (!IsServing && (_leader is { Established: true } || _learner is { BecameUpToDate: true }))
        {
            var epoch = _leader?.Epoch ?? _learner!.Epoch;
            // Once established, members advertise the new epoch in their vote (updateElectionVote, ZOOKEEPER-1732).
            _currentVote = _currentVote with { PeerEpoch = epoch };
            SetServing(true);
        }
        _ctx.Reads.Release();
        Report("progress");
    }

    private void SetServing(bool on)
    {
        if (IsServing == on)
            return;
        IsServing = on;
        _ctx.Out.Serving = on;
    }

    private void Report(string reason)
    {
        var now = (State, Phase);
        if (now == _reported)
            return;
        _reported = now;
        _ctx.Out.RoleChanges.Add(new RoleChange(State, Phase, _leader?.Epoch ?? _learner?.Epoch ?? 0, reason));
    }
}
