using Zk.Embedded.Api;
using Zk.Embedded.Consensus;
using Zk.Embedded.Ensemble;

namespace Zk.Testing.Simulation;

/// <summary>
/// A simulated peer's disk as a real member keeps it: <see cref="DurableConsensusStore"/> (epoch files, the LiteDB txn
/// log, snapshot files) in a directory of its own, written through the storage worker's own dispatch
/// (<see cref="StorageWorker.WriteTo"/>) and synced when the simulator completes the requests. A start opens the files
/// and recovers from them as a restarted process does; a crash closes them as a killed one (<see cref="DurableConsensusStore.CloseLikeACrash"/>:
/// buffered appends lost, nothing checkpointed). The files are written without fsync (<c>forceSync=false</c>): a
/// simulated crash is a process's, and the page cache keeps what a process wrote. Torn records are the model's
/// (<see cref="SimDisk"/>) and the WAL tests' business.
/// </summary>
internal sealed class StoreDisk(string directory) : IPeerDisk
{
    private DurableConsensusStore? _store;

    /// <summary>Where the store's files are.</summary>
    public string DataDir => directory;

    public Zxid LastZxid => Store.Shape.LastZxid;
    public uint AcceptedEpoch => Store.Shape.AcceptedEpoch;
    public uint CurrentEpoch => Store.Shape.CurrentEpoch;
    public int Compactions { get; private set; }
    public int TornDropped => 0;

    private DurableConsensusStore Store => _store ?? throw new InvalidOperationException($"the store in {directory} is closed (the peer is down)");

    public PersistedState Load()
    {
        _store?.CloseLikeACrash();
        _store = DurableConsensusStore.Open(directory, forceSync: false);
        return _store.Load();
    }

    public ReadOnlyMemory<byte> SnapshotData =>
        Store.Snapshot is { Body: SnapshotBody body } ? File.ReadAllBytes(body.Path) : SnapshotCodec.Encode([]);

    public void Write(PersistRequest request, int peer)
    {
        var snapshot = request is SaveSnapshot ? Store.Snapshot?.Zxid ?? default : default;
        try
        {
            StorageWorker.WriteTo(Store, request);
            if (request is PurgeLog)
                Store.PurgeInFlight.Wait(); // a member purges its log on a thread of its own; a simulated one at once
        }
        catch (PersistInvariantException e)
        {
            throw new ConsensusViolation($"peer {peer}: {e.Message}");
        }
        if (request is SaveSnapshot && (Store.Snapshot?.Zxid ?? default) != snapshot)
            Compactions++;
    }

    public void Sync() => Store.Sync();

    public void Crash(AppendTxn? torn, int tornBytes)
    {
        _store?.CloseLikeACrash();
        _store = null;
    }

    public void Dispose()
    {
        Crash(null, 0);
        if (Directory.Exists(directory))
            Directory.Delete(directory, recursive: true);
    }
}
