using Zk.Embedded.Consensus;

namespace Zk.Embedded.Ensemble;

/// <summary>
/// A peer's consensus state held in memory: both epoch files, the newest snapshot and the log after it. It outlives
/// the driver, so a peer restarted in the same process finds it as a restarted process finds its disk. Not durable:
/// every request is "durable" once applied here, so it stands for a disk whose fsync never loses anything
/// (<see cref="DurableConsensusStore"/> is the durable one). For non-durable ensembles and tests.
/// </summary>
internal sealed class ConsensusLog : IConsensusStore
{
    private readonly object _gate = new();
    private readonly ConsensusState _state = new();
    private readonly TxnArena _arena = new();

    /// <summary>The newest snapshot, or null when the history starts from the empty state.</summary>
    public ConsensusSnapshot? Snapshot
    {
        get { lock (_gate) { return _state.Snapshot; } }
    }

    /// <summary>What the core reads at start.</summary>
    public PersistedState Load()
    {
        lock (_gate)
        {
            return _state.Load();
        }
    }

    /// <summary>Checks and applies one persist request (<see cref="PersistChecks"/>); a broken rule changes nothing.</summary>
    public void Write(PersistRequest request)
    {
        // A SNAP assembled in a spool file is read in: this store keeps everything in memory (the driver deletes the file).
        if (request is InstallSnapshot { Snapshot.Body: not null } install)
            request = install with { Snapshot = new ConsensusSnapshot(install.Snapshot.Zxid, SnapshotBody.BytesOf(install.Snapshot)) };
        lock (_gate)
        {
            if (request is AppendTxn append)
                request = append with { Txn = append.Txn with { Data = _arena.Keep(append.Txn.Data) } };
            _state.Write(request, "the in-memory consensus log");
        }
    }

    /// <summary>Keeps a newer snapshot of committed state in memory and drops the log it covers (memory stays bounded).</summary>
    public void SaveSnapshot(ConsensusSnapshot snapshot)
    {
        var inMemory = new ConsensusSnapshot(snapshot.Zxid, SnapshotBody.BytesOf(snapshot));
        lock (_gate)
        {
            _state.Compact(inMemory);
        }
    }

    /// <summary>Nothing to do: every write is as durable as this log gets.</summary>
    public void Sync()
    {
    }

    /// <summary>True: memory is written at once, so the driver writes on its loop (<see cref="StorageWorker"/>).</summary>
    public bool DurableAtOnce => true;

    /// <summary>Nothing to release: the log lives on for a restart in the same process.</summary>
    public void Dispose()
    {
    }
}
