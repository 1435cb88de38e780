using Zk.Embedded.Api;
using Zk.Embedded.Consensus;
using Zk.Embedded.Ensemble;

namespace Zk.Testing.Simulation;

/// <summary>
/// One simulated peer: the real <see cref="ZabPeer"/>, its disk, the persist requests not yet durable, and its applied
/// state (the committed txns in order, and the real member tree they make, <see cref="SimTree"/>). Crash drops the core
/// and everything not durable; restart builds a new core from the disk, as a process restart would. As the proposal
/// sink of its leader's pipeline it proposes the pipeline's txns as the consensus driver does (<see cref="ProposalIntake"/>).
/// </summary>
/// <param name="trees">false: the txns are opaque bytes (ZabOverTransportTests) and no tree is kept.</param>
/// <param name="keepsWatches">the tree keeps its watches across role changes and SNAPs (<see cref="SimTree.KeepsWatches"/>).</param>
/// <param name="disk">what it keeps across crashes (null: the model, <see cref="SimDisk"/>).</param>
internal sealed class SimPeer(ConsensusConfig config, IConsensusRandom random, bool trees = true, bool keepsWatches = false, IPeerDisk? disk = null) : ISnapshotSource, IProposalSink
{
    private readonly List<PersistRequest> _pending = [];

    public int Id => config.MyId;
    public ConsensusConfig Config => config;
    public IPeerDisk Disk { get; } = disk ?? new SimDisk();
    public ZabPeer? Core { get; private set; }
    public bool Up => Core is not null;
    public List<ConsensusTxn> Applied { get; private set; } = [];
    public int PendingCount => _pending.Count;
    public int Incarnation { get; private set; }
    /// <summary>Changes whenever this peer's client connections all end (restart, role change, resync): a client holding an older one is disconnected.</summary>
    public int Generation { get; private set; }
    public SimTree Tree { get; } = new(publishes: true) { KeepsWatches = keepsWatches };
    /// <summary>Called with each txn the leader's pipeline proposes, before the core takes it (the workload notes which request made it).</summary>
    public Action<SimPeer, ConsensusTxn>? Proposing { get; set; }
    /// <summary>Periodic snapshots every this many applied txns (0: none), queued with the storage requests as the driver's worker gets them.</summary>
    public int SnapCount { get; set; }
    /// <summary>True: each periodic snapshot is followed by a purge keeping <see cref="SnapRetainCount"/> snapshots (the real store's autopurge).</summary>
    public bool Purges { get; set; }
    public const int SnapRetainCount = 2;
    /// <summary>Periodic snapshots queued so far.</summary>
    public int SnapshotsTaken { get; private set; }
    private int _sinceSnapshot;

    public void Start()
    {
        var persisted = Disk.Load();
        Applied = SnapshotCodec.Decode(Disk.SnapshotData);
        if (trees)
            Tree.Restart(Applied);
        Reconnect();
        _pending.Clear();
        Incarnation++;
        Core = new ZabPeer(config, persisted, random, this);
    }

    /// <summary>A follower that leaves broadcast (or a deposed leader) closes every client connection, and so drops their watches.</summary>
    public void Reconnect()
    {
        Generation++;
        Tree.DropWatches();
    }

    /// <summary>
    /// The process dies. Writes reach the disk in the order made, so the first <paramref name="reachedDisk"/> unsynced
    /// requests may have got there without their fsync; with <paramref name="tornBytes"/> &gt; 0 the next one, if an
    /// append, was cut short after that many bytes. Nothing of this was acknowledged: the core never heard it was durable.
    /// </summary>
    public void Crash(int reachedDisk = 0, int tornBytes = 0)
    {
        Core = null;
        if (trees)
            Tree.Crash();
        Reconnect();
        reachedDisk = Math.Min(reachedDisk, _pending.Count);
        for (var i = 0; i < reachedDisk; i++)
            Disk.Write(_pending[i], Id);
        Disk.Crash(reachedDisk < _pending.Count ? _pending[reachedDisk] as AppendTxn : null, tornBytes);
        _pending.Clear();
    }

    /// <summary>The next pending request, if any (to decide whether a crash can tear it).</summary>
    public PersistRequest? PendingAt(int index) => index < _pending.Count ? _pending[index] : null;

    /// <summary>The leader's pipeline proposes (from <see cref="SimTree.RunPipeline"/>): at once, as the driver's loop would.</summary>
    public void Propose(IReadOnlyList<ConsensusTxn> txns)
    {
        foreach (var txn in txns)
            Proposing?.Invoke(this, txn);
        if (Core is not { } core || ProposalIntake.ProposeAll(core, txns) is not { } refused)
            return;
        Tree.Replica.OnProposalRefused(refused.Zxid, refused.Reason);
    }

    /// <summary>A role or phase change of the core, as the driver raises it: the member tree starts or stops its leader's pipeline.</summary>
    public void OnRoleChanged(RoleChange change)
    {
        if (trees)
            Tree.Replica.OnRoleChanged(this, change);
    }

    public ConsensusSnapshot Take() =>
        new(Applied.Count > 0 ? Applied[^1].Zxid : default, SnapshotCodec.Encode(Applied));

    public void Enqueue(List<PersistRequest> requests) => _pending.AddRange(requests);

    /// <summary>Makes the oldest <paramref name="count"/> pending requests durable (one group fsync) and tells the core.</summary>
    public void CompleteStorage(int count)
    {
        if (Core is null || count <= 0 || _pending.Count == 0)
            return;
        count = Math.Min(count, _pending.Count);
        var seq = -1L;
        for (var i = 0; i < count; i++)
        {
            Disk.Write(_pending[i], Id);
            seq = Math.Max(seq, _pending[i].Seq); // a periodic snapshot has no seq: the core never waits for it
        }
        Disk.Sync();
        _pending.RemoveRange(0, count);
        if (seq >= 0)
            Core.StorageDone(seq);
    }

    /// <summary>A SNAP's state replaces the applied history.</summary>
    public void Restore(ConsensusSnapshot snapshot)
    {
        Applied = SnapshotCodec.Decode(snapshot.Data);
        Generation++;
        if (trees)
            Tree.Restore(Applied);
        _sinceSnapshot = 0;
        var last = Applied.Count > 0 ? Applied[^1].Zxid : default;
        if (last != snapshot.Zxid)
            throw new ConsensusViolation($"peer {Id}: snapshot says {snapshot.Zxid} but holds txns up to {last}");
    }

    /// <summary>Applies committed txns in order; then, every <see cref="SnapCount"/> of them, queues a periodic snapshot.</summary>
    public void Apply(List<ConsensusTxn> committed)
    {
        foreach (var txn in committed)
        {
            var last = Applied.Count > 0 ? Applied[^1].Zxid : default;
            if (!LogWindow.IsNext(last, txn.Zxid))
                throw new ConsensusViolation($"peer {Id}: applied {txn.Zxid} after {last}, out of order");
            Applied.Add(txn);
            if (trees)
                Tree.Apply(txn);
        }
        _sinceSnapshot += committed.Count;
        if (SnapCount > 0 && _sinceSnapshot >= SnapCount)
        {
            // The applied (committed) state only, behind the persist requests handed on before, as PeriodicSnapshots does it.
            _pending.Add(new SaveSnapshot(Take()));
            if (Purges)
                _pending.Add(new PurgeLog(SnapRetainCount));
            _sinceSnapshot = 0;
            SnapshotsTaken++;
        }
    }
}

/// <summary><see cref="IConsensusRandom"/> over a seeded <see cref="Random"/>.</summary>
internal sealed class SeededRandom(Random random) : IConsensusRandom
{
    public int Next(int maxExclusive) => maxExclusive <= 0 ? 0 : random.Next(maxExclusive);
}
