namespace Zk.Embedded.Consensus;

/// <summary>
/// <c>FastLeaderElection.lookForLeader</c> in ticks: rounds, vote adoption, a quorum of equal votes, a short
/// finalize wait, and joining an ensemble that already has a leader (<c>outofelection</c>). Returns the vote to
/// act on once decided.
/// </summary>
internal sealed class Election(PeerContext ctx)
{
    private readonly Dictionary<int, (Vote Vote, ServerState State)> _received = [];
    private readonly Dictionary<int, (Vote Vote, ServerState State, long Round)> _outOfElection = [];
    private long _decideAt = -1;
    private long _nextResend;
    private int _timeout;

    /// <summary><c>logicalclock</c>: survives across elections of this peer's life.</summary>
    public long Round { get; private set; }

    public Vote Proposal { get; private set; }

    /// <summary>The vote this peer would start with: itself, by its logged zxid and currentEpoch.</summary>
    public Vote InitialVote => ctx.Config.IsObserver ? Vote.None : new Vote(ctx.Config.MyId, ctx.Log.Last, ctx.CurrentEpoch);

    public void Start()
    {
        Round++;
        _received.Clear();
        _outOfElection.Clear();
        _decideAt = -1;
        Proposal = InitialVote;
        _timeout = ctx.Config.ElectionTimeoutTicks;
        _nextResend = ctx.Now + _timeout;
        Broadcast();
    }

    /// <summary>A notification from a voter while LOOKING. Returns the decided vote, if any.</summary>
    public Vote? OnNotification(int from, Notification n)
    {
        if (n.State == ServerState.Looking)
            return OnLooking(from, n);
        return OnSettled(from, n);
    }

    public Vote? Tick()
    {
        // A lone voter hears no notifications; its own vote is already a quorum.
        if (_decideAt < 0 && IsValid(Proposal) && ctx.Config.IsQuorum(VotersFor(Proposal)))
            _decideAt = ctx.Now + ctx.Config.FinalizeWaitTicks;
        if (_decideAt >= 0 && ctx.Now >= _decideAt)
            return Proposal;
        if (ctx.Now >= _nextResend)
        {
            Broadcast();
            _timeout = Math.Min(_timeout * 2, ctx.Config.MaxElectionTimeoutTicks);
            // Jitter spreads resends of peers that started together; the only randomness in the core.
            _nextResend = ctx.Now + _timeout + ctx.Random.Next(_timeout);
        }
        return null;
    }

    private Vote? OnLooking(int from, Notification n)
    {
        if (n.Round < Round)
        {
            // WorkerReceiver answers a peer of an older round with our vote so it catches up.
            ctx.Send(from, new Notification(Round, Proposal, ServerState.Looking));
            return null;
        }
        if (n.Round > Round)
        {
            Round = n.Round;
            _received.Clear();
            _decideAt = -1;
            var initial = InitialVote;
            Proposal = IsValid(n.Vote) && n.Vote.Beats(initial, ctx.Config.Faults.VoteWithoutEpoch) ? n.Vote : initial;
            Broadcast();
        }
        else if (IsValid(n.Vote) && n.Vote.Beats(Proposal, ctx.Config.Faults.VoteWithoutEpoch))
        {
            Proposal = n.Vote;
            _decideAt = -1;   // a better vote during finalizeWait restarts the count
            Broadcast();
        }
        if (ctx.Config.IsVoter(from))
            _received[from] = (n.Vote, n.State);
        if (_decideAt < 0 && IsValid(Proposal) && ctx.Config.IsQuorum(VotersFor(Proposal)))
            _decideAt = ctx.Now + ctx.Config.FinalizeWaitTicks;
        return _decideAt >= 0 && ctx.Now >= _decideAt ? Proposal : null;
    }

    /// <summary>FOLLOWING or LEADING notifications: the ensemble may already have a leader (ZOOKEEPER-1805, 1732).</summary>
    private Vote? OnSettled(int from, Notification n)
    {
        if (!ctx.Config.IsVoter(from) || !IsValid(n.Vote))
            return null;
        if (n.Round == Round)
        {
            _received[from] = (n.Vote, n.State);
            if (ctx.Config.IsQuorum(CountSettled(_received, n.Vote)) && CheckLeader(_received, n.Vote.Leader, n.Round))
                return n.Vote;
        }
        _outOfElection[from] = (n.Vote, n.State, n.Round);
        var settled = new Dictionary<int, (Vote, ServerState)>(_outOfElection.Count);
        foreach (var (sid, entry) in _outOfElection)
            settled[sid] = (entry.Vote, entry.State);
        if (ctx.Config.IsQuorum(CountSettled(settled, n.Vote)) && CheckLeader(settled, n.Vote.Leader, n.Round))
        {
            Round = n.Round;
            return n.Vote;
        }
        return null;
    }

    private bool CheckLeader(Dictionary<int, (Vote Vote, ServerState State)> votes, int leader, long round)
    {
        if (leader == ctx.Config.MyId)
            return round == Round;
        return votes.TryGetValue(leader, out var entry) && entry.State == ServerState.Leading;
    }

    private int VotersFor(Vote vote)
    {
        var n = 0;
        foreach (var (sid, entry) in _received)
        {
            if (ctx.Config.IsVoter(sid) && entry.Vote == vote)
                n++;
        }
        return n;
    }

    /// <summary>Vote.equals for settled states compares only the leader and its epoch (ZOOKEEPER-1805).</summary>
    private int CountSettled(Dictionary<int, (Vote Vote, ServerState State)> votes, Vote vote)
    {
        var n = 0;
        foreach (var (sid, entry) in votes)
        {
            if (ctx.Config.IsVoter(sid) && entry.Vote.Leader == vote.Leader && entry.Vote.PeerEpoch == vote.PeerEpoch)
                n++;
        }
        return n;
    }

    /// <summary><c>validVoter</c>: votes for non-voters (observers, nobody) never win.</summary>
    private bool IsValid(Vote vote) => ctx.Config.IsVoter(vote.Leader);

    private void Broadcast()
    {
        var note = new Notification(Round, Proposal, ServerState.Looking);
        foreach (var sid in ctx.Config.Voters)
        {
            if (sid != ctx.Config.MyId)
                ctx.Send(sid, note);
        }
        if (ctx.Config.IsVoter(ctx.Config.MyId))
            _received[ctx.Config.MyId] = (Proposal, ServerState.Looking);
    }
}
