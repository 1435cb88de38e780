using Zk.Embedded.Api;

namespace Zk.Embedded.Consensus;

/// <summary>A txn as consensus sees it: a zxid and opaque bytes (the pipeline's encoding).</summary>
internal sealed record ConsensusTxn(Zxid Zxid, ReadOnlyMemory<byte> Data);

/// <summary>
/// The applied state as of <paramref name="Zxid"/>, opaque to the core (the driver serialises its tree): its bytes in
/// <paramref name="Data"/>, or, for a driver that keeps large snapshots out of memory, a <see cref="Body"/> it streams.
/// </summary>
internal sealed record ConsensusSnapshot(Zxid Zxid, ReadOnlyMemory<byte> Data)
{
    /// <summary>The driver's out-of-memory body (a file), when <see cref="Data"/> is empty; the core only passes it on.</summary>
    public ISnapshotBody? Body { get; init; }
}

/// <summary>A snapshot's bytes kept outside memory by the driver; opaque to the core.</summary>
internal interface ISnapshotBody
{
    /// <summary>Its length in bytes.</summary>
    long Length { get; }
}

/// <summary>
/// What the driver persists, in <see cref="Seq"/> order; it reports completion with
/// <see cref="ZabPeer.StorageDone"/> (everything up to a seq is durable, as a group fsync makes it).
/// </summary>
internal abstract record PersistRequest(long Seq);

/// <summary>Append one txn to the log.</summary>
internal sealed record AppendTxn(long Seq, ConsensusTxn Txn) : PersistRequest(Seq);

/// <summary>
/// Drop every logged txn after <paramref name="Zxid"/> and every snapshot newer than it (unlike ZooKeeper's
/// <c>ZKDatabase.truncateLog</c>, which keeps newer snapshots: ZOOKEEPER-1549).
/// </summary>
internal sealed record TruncateAfter(long Seq, Zxid Zxid) : PersistRequest(Seq);

/// <summary>
/// Replace state and log with the snapshot (the log restarts after its zxid). When <paramref name="CurrentEpoch"/>
/// is above the currentEpoch file (a late joiner's snapshot already holds txns of the new epoch) it becomes durable
/// with the snapshot, never before it and never after it: ZooKeeper's <c>updatingEpoch</c> file plays this part.
/// </summary>
internal sealed record InstallSnapshot(long Seq, ConsensusSnapshot Snapshot, uint CurrentEpoch) : PersistRequest(Seq);

/// <summary>Write the acceptedEpoch file (tmp + fsync + rename in ZooKeeper's <c>QuorumPeer.writeLongToFile</c>).</summary>
internal sealed record WriteAcceptedEpoch(long Seq, uint Epoch) : PersistRequest(Seq);

/// <summary>Write the currentEpoch file.</summary>
internal sealed record WriteCurrentEpoch(long Seq, uint Epoch) : PersistRequest(Seq);

/// <summary>A message for a peer.</summary>
internal readonly record struct Outbound(int To, ZabMessage Message);

/// <summary>A role or phase change, with the reason for leaving the previous one.</summary>
internal readonly record struct RoleChange(ServerState State, ZabPhase Phase, uint Epoch, string Reason);

/// <summary>
/// One batch of output (etcd raft's <c>Ready</c>). The driver starts the persist requests in order, may send the
/// messages at once (every message that promises durability is only emitted after <see cref="ZabPeer.StorageDone"/>),
/// applies <see cref="Restore"/> and then <see cref="Committed"/> in order before stepping the core again.
/// </summary>
internal sealed class Ready
{
    public List<Outbound> Messages { get; } = [];
    public List<PersistRequest> Persist { get; } = [];
    public ConsensusSnapshot? Restore { get; set; }
    public List<ConsensusTxn> Committed { get; } = [];
    public List<RoleChange> RoleChanges { get; } = [];
    /// <summary>
    /// Answers to <see cref="ZabPeer.ReadIndex"/>, after <see cref="Committed"/>: once those txns are applied, a read
    /// on this peer is linearizable for each id answered with an index.
    /// </summary>
    public List<ReadIndexResult> Reads { get; } = [];
    /// <summary>Set when serving clients turns on or off.</summary>
    public bool? Serving { get; set; }

    public bool IsEmpty => Messages.Count == 0 && Persist.Count == 0 && Restore is null && Committed.Count == 0
        && RoleChanges.Count == 0 && Reads.Count == 0 && Serving is null;
}

/// <summary>What a peer finds on its disk at start: both epoch files, its newest snapshot and the log after it.</summary>
internal sealed record PersistedState(uint AcceptedEpoch, uint CurrentEpoch, Zxid SnapshotZxid, IReadOnlyList<ConsensusTxn> Log)
{
    public static PersistedState Empty { get; } = new(0, 0, default, []);

    /// <summary>
    /// Committed txns the log still holds up to <see cref="SnapshotZxid"/> (their effect is in the snapshot), after
    /// <see cref="HistoryBase"/>, ending exactly at the snapshot's zxid; empty when the store kept none. The core holds
    /// them in its window only to sync a learner behind the snapshot by DIFF (ZooKeeper reads its on-disk log for
    /// that); they are never applied again.
    /// </summary>
    public IReadOnlyList<ConsensusTxn> History { get; init; } = [];

    /// <summary>The zxid just before the first <see cref="History"/> txn.</summary>
    public Zxid HistoryBase { get; init; }
}

/// <summary>The only randomness the core uses (election resend jitter); seeded by the driver or simulator.</summary>
internal interface IConsensusRandom
{
    int Next(int maxExclusive);
}

/// <summary>
/// The driver's applied state, for SNAP. Called inside a step; returns the state as of the last txn the driver
/// has applied from a <see cref="Ready"/> (the core streams whatever follows from its log window).
/// </summary>
internal interface ISnapshotSource
{
    ConsensusSnapshot Take();
}

/// <summary>The peer's place in the ensemble and its limits, in ticks (zoo.cfg's initLimit and syncLimit).</summary>
internal sealed record ConsensusConfig
{
    public required int MyId { get; init; }
    public required int[] Voters { get; init; }
    public int[] Observers { get; init; } = [];
    /// <summary>Ticks for discovery and sync (zoo.cfg initLimit).</summary>
    public int InitLimit { get; init; } = 10;
    /// <summary>Ticks a learner may stay silent or behind in broadcast (zoo.cfg syncLimit).</summary>
    public int SyncLimit { get; init; } = 5;
    /// <summary>First notification resend timeout; doubles up to <see cref="MaxElectionTimeoutTicks"/> (FLE's 200 ms → 60 s).</summary>
    public int ElectionTimeoutTicks { get; init; } = 2;
    public int MaxElectionTimeoutTicks { get; init; } = 64;
    /// <summary>Ticks to wait for a better vote once a quorum agrees (FLE finalizeWait).</summary>
    public int FinalizeWaitTicks { get; init; } = 1;
    /// <summary>
    /// Ticks between the leader's PINGs to its learners (each answers with one). ZooKeeper pings every tickTime / 2; a
    /// real peer's core tick is shorter than its tickTime, so it pings every few ticks, and the simulator every tick.
    /// </summary>
    public int PingEveryTicks { get; init; } = 1;
    /// <summary>Committed txns kept in memory to answer DIFF (zookeeper.commitLogCount, default 500).</summary>
    public int CommittedLogWindow { get; init; } = 500;
    /// <summary>Bugs to commit on purpose; only the simulator's tests set any (docs/consensus.md).</summary>
    public PlantedFaults Faults { get; init; } = PlantedFaults.None;

    public bool IsObserver => Array.IndexOf(Observers, MyId) >= 0;
    public bool IsVoter(int sid) => Array.IndexOf(Voters, sid) >= 0;
    public bool IsQuorum(int voters) => voters > Voters.Length / 2;

    public void Validate()
    {
        if (Voters.Length == 0)
            throw new ArgumentException("Voters: an ensemble needs at least one voter");
        if (!IsVoter(MyId) && !IsObserver)
            throw new ArgumentException($"MyId: server {MyId} is neither a voter nor an observer");
        foreach (var o in Observers)
        {
            if (IsVoter(o))
                throw new ArgumentException($"Observers: server {o} is also a voter");
        }
        if (InitLimit < 1 || SyncLimit < 1)
            throw new ArgumentException("InitLimit and SyncLimit must be at least one tick");
        if (PingEveryTicks < 1 || (PingEveryTicks > 1 && PingEveryTicks >= SyncLimit))
            throw new ArgumentException("PingEveryTicks must be at least one tick and below SyncLimit, so that a learner's silence means it is gone");
        if (ElectionTimeoutTicks < 1 || MaxElectionTimeoutTicks < ElectionTimeoutTicks || FinalizeWaitTicks < 0 || CommittedLogWindow < 1)
            throw new ArgumentException("election ticks and CommittedLogWindow must be positive");
    }
}
