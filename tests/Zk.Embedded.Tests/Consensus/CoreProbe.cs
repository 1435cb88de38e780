using Zk.Embedded.Api;
using Zk.Embedded.Consensus;
using Zk.Testing.Simulation;

namespace Zk.Embedded.Tests.Consensus;

/// <summary>
/// Drives one <see cref="ZabPeer"/> by hand: every output is collected, storage completes only when a test says so,
/// and the other peers are the test itself. For rules that one peer enforces alone.
/// </summary>
internal sealed class CoreProbe
{
    private readonly List<PersistRequest> _pending = [];
    private readonly int[] _observers;

    public CoreProbe(int id, int[] voters, int[]? observers = null, PersistedState? disk = null, Func<ConsensusConfig, ConsensusConfig>? configure = null)
    {
        _observers = observers ?? [];
        var config = new ConsensusConfig { MyId = id, Voters = voters, Observers = observers ?? [], FinalizeWaitTicks = 0 };
        config = configure?.Invoke(config) ?? config;
        config.Validate();
        Core = new ZabPeer(config, disk ?? PersistedState.Empty, new SeededRandom(new Random(1)), new EmptySnapshots());
        Collect();
    }

    public ZabPeer Core { get; }
    public List<Outbound> Sent { get; } = [];
    public List<PersistRequest> Persisted { get; } = [];
    public List<ConsensusTxn> Committed { get; } = [];
    public List<ReadIndexResult> Reads { get; } = [];
    public int PendingWrites => _pending.Count;

    public void Tick()
    {
        Core.Tick();
        Collect();
    }

    public void Step(int from, ZabMessage message)
    {
        Core.Step(from, message);
        Collect();
    }

    public Zxid Propose(string data)
    {
        var zxid = Core.Propose(System.Text.Encoding.UTF8.GetBytes(data)) ?? throw new InvalidOperationException("not an established leader");
        Collect();
        return zxid;
    }

    public void ReadIndex(long id)
    {
        Core.ReadIndex(id);
        Collect();
    }

    /// <summary>Makes every pending write durable (one group fsync).</summary>
    public void Fsync()
    {
        if (_pending.Count == 0)
            return;
        var seq = _pending[^1].Seq;
        _pending.Clear();
        Core.StorageDone(seq);
        Collect();
    }

    public List<T> SentTo<T>(int to) where T : ZabMessage
    {
        var found = new List<T>();
        foreach (var (dest, message) in Sent)
        {
            if (dest == to && message is T typed)
                found.Add(typed);
        }
        return found;
    }

    /// <summary>Makes this peer LOOKING→decided by the votes of <paramref name="supporters"/> for <paramref name="leader"/>.</summary>
    /// <remarks>The supporters' vote claims a far later epoch, so it beats whatever this peer would vote for.</remarks>
    public void ElectedBy(int leader, params int[] supporters) => ElectedBy(new Vote(leader, default, 1000), supporters);

    public void ElectedBy(Vote vote, params int[] supporters)
    {
        foreach (var sid in supporters)
            Step(sid, new Notification(1, vote, ServerState.Looking));
        if (Core.State == ServerState.Looking)
            throw new InvalidOperationException($"peer {Core.Id} is still LOOKING after the votes for {vote.Leader}");
    }

    /// <summary>Runs discovery and sync as leader with the given learners (all empty logs) up to establishment.</summary>
    public void EstablishLeader(params int[] learners)
    {
        ElectedBy(Core.Id, learners);
        foreach (var sid in learners)
            Step(sid, new LearnerInfo(0, Array.IndexOf(_observers, sid) >= 0));
        Fsync();
        foreach (var sid in learners)
            Step(sid, new AckEpoch(1, 0, default));
        Fsync();
        foreach (var sid in learners)
            Step(sid, new AckNewLeader(1));
        if (Core.EstablishedEpoch != 1)
            throw new InvalidOperationException($"expected an established leader of epoch 1, got {Core.State}/{Core.Phase}");
        Sent.Clear();
    }

    /// <summary>Runs this learner through discovery and an empty DIFF with leader 1 of epoch 1, to broadcast.</summary>
    public void FollowLeaderOne(params int[] supporters)
    {
        ElectedBy(1, supporters);
        Step(1, new LeaderInfo(1));
        Fsync();
        Step(1, new Diff(default));
        Step(1, new NewLeader(1, default, default));
        Fsync();
        Step(1, new UpToDate(1));
        Sent.Clear();
    }

    private void Collect()
    {
        while (Core.HasReady)
        {
            var ready = Core.TakeReady();
            Sent.AddRange(ready.Messages);
            Persisted.AddRange(ready.Persist);
            _pending.AddRange(ready.Persist);
            Committed.AddRange(ready.Committed);
            Reads.AddRange(ready.Reads);
        }
    }

    private sealed class EmptySnapshots : ISnapshotSource
    {
        public ConsensusSnapshot Take() => new(default, SnapshotCodec.Encode([]));
    }
}
