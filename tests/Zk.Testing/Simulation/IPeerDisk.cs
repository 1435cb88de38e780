using Zk.Embedded.Api;
using Zk.Embedded.Consensus;

namespace Zk.Testing.Simulation;

/// <summary>
/// What a simulated peer keeps across a crash, written only when the simulator completes its persist requests (the
/// fsync boundary it controls): <see cref="SimDisk"/>, a model of the disk as of its last fsync, or
/// <see cref="StoreDisk"/>, the real member's LiteDB-backed store in a directory.
/// </summary>
internal interface IPeerDisk : IDisposable
{
    Zxid LastZxid { get; }
    uint AcceptedEpoch { get; }
    uint CurrentEpoch { get; }

    /// <summary>Periodic snapshots that the disk kept (each replaces the older history a restart replays).</summary>
    int Compactions { get; }

    /// <summary>Torn last records found and cut at a start.</summary>
    int TornDropped { get; }

    /// <summary>What a start reads (the disk as the crash, or the first start, left it).</summary>
    PersistedState Load();

    /// <summary>The newest snapshot's bytes (the simulated state machine's, <see cref="SnapshotCodec"/>), once loaded.</summary>
    ReadOnlyMemory<byte> SnapshotData { get; }

    /// <summary>Writes one request; durable at the next <see cref="Sync"/> at the latest.</summary>
    void Write(PersistRequest request, int peer);

    /// <summary>Makes everything written durable (one group fsync).</summary>
    void Sync();

    /// <summary>
    /// The process dies: what was written but not synced is kept or lost as the disk does it; with
    /// <paramref name="tornBytes"/> &gt; 0 the append being written when it died reached the disk only that far.
    /// </summary>
    void Crash(AppendTxn? torn, int tornBytes);
}
