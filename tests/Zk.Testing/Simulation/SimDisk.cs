using Zk.Embedded.Txns;
using Zk.Embedded.Api;
using Zk.Embedded.Consensus;
using Zk.Embedded.Ensemble;

namespace Zk.Testing.Simulation;

/// <summary>
/// A peer's disk as of its last fsync: both epoch files, one snapshot and the log after it. Persist requests reach
/// it only when the simulator completes them, so a crash loses exactly what was not yet durable. Every write passes
/// <see cref="PersistChecks"/> first, the rules every consensus store holds (CONSENSUS-NOTES §10 invariant 8, appends
/// in order, no TRUNC below the snapshot: ZOOKEEPER-1549).
/// </summary>
internal sealed class SimDisk : IPeerDisk
{
    private readonly ConsensusState _state = new(new ConsensusSnapshot(default, SnapshotCodec.Encode([])));
    private TornRecord? _torn;

    public uint AcceptedEpoch => _state.AcceptedEpoch;
    public uint CurrentEpoch => _state.CurrentEpoch;
    public ConsensusSnapshot Snapshot => _state.Snapshot!;   // starts as the empty state's and is only ever replaced
    public ReadOnlyMemory<byte> SnapshotData => Snapshot.Data;
    public List<ConsensusTxn> Log => _state.Log;

    public Zxid LastZxid => _state.LastZxid;

    /// <summary>Planted (ZooKeeper's truncateLog, ZOOKEEPER-1549): TRUNC leaves a newer snapshot in place.</summary>
    public bool KeepsNewerSnapshotOnTrunc { get; set; }

    /// <summary>Planted with the above: snapshot the whole durable log, uncommitted tail included (Leader.lead's loadData).</summary>
    public void SnapshotWholeLog()
    {
        var txns = SnapshotCodec.Decode(Snapshot.Data);
        txns.AddRange(Log);
        _state.Snapshot = new ConsensusSnapshot(LastZxid, SnapshotCodec.Encode(txns));
        Log.Clear();
    }

    /// <summary>Planted: the store has no record checksum and reads a torn last record back as a txn.</summary>
    public bool KeepsTornRecord { get; set; }

    /// <summary>Torn last records the store found and cut at start.</summary>
    public int TornDropped { get; private set; }

    /// <summary>
    /// What a start reads. A torn last record fails its checksum and is cut, as the real store cuts a torn WAL tail
    /// (docs/storage.md): it can only be an append whose fsync never finished, so nobody acknowledged it.
    /// </summary>
    public PersistedState Load()
    {
        if (_torn is { } torn)
        {
            _torn = null;
            if (KeepsTornRecord)
                _state.ApplyUnchecked(new AppendTxn(0, new ConsensusTxn(torn.Zxid, torn.Written)));
            else if (torn.Written.Length == torn.Length && Crc32C.Compute(torn.Written) == torn.Crc)
                throw new ConsensusViolation($"a torn record at {torn.Zxid} passed its checksum");
            else
                TornDropped++;
        }
        return _state.Load();
    }

    /// <summary>A crash in the middle of writing <paramref name="append"/>: only its first <paramref name="bytes"/> bytes reached the disk.</summary>
    public void WriteTorn(AppendTxn append, int bytes)
    {
        var data = append.Txn.Data.Span;
        _torn = new TornRecord(append.Txn.Zxid, data[..Math.Min(bytes, data.Length - 1)].ToArray(), data.Length, Crc32C.Compute(data));
    }

    /// <summary>Periodic snapshots that replaced the snapshot and the log they cover (the in-memory store's compaction).</summary>
    public int Compactions { get; private set; }

    /// <summary>The model has no write cache: what is written reached the disk (a crash keeps it; <see cref="SimPeer.Crash"/> decides what was written).</summary>
    public void Write(PersistRequest request, int peer) => Apply(request, peer);

    public void Sync()
    {
    }

    public void Crash(AppendTxn? torn, int tornBytes)
    {
        if (torn is not null && tornBytes > 0)
            WriteTorn(torn, tornBytes);
    }

    public void Dispose()
    {
    }

    public void Apply(PersistRequest request, int peer)
    {
        if (request is SaveSnapshot save)
        {
            // Newer and in the log, or stale and ignored; a later TRUNC below it breaks PersistChecks' rule, which is
            // how a snapshot holding an uncommitted txn would show here.
            if (_state.Compact(save.Snapshot))
                Compactions++;
            return;
        }

        // The planted bug must reach the history checker, so its TRUNC skips the rule that would refuse it here.
        if (request is TruncateAfter && KeepsNewerSnapshotOnTrunc)
        {
            _state.ApplyUnchecked(request);
            return;
        }

        try
        {
            _state.Write(request, $"peer {peer}");
        }
        catch (PersistInvariantException e)
        {
            throw new ConsensusViolation(e.Message);
        }
    }
}

/// <summary>The last record as a crash left it: its header (zxid, length, checksum of the whole) and the bytes written.</summary>
internal sealed record TornRecord(Zxid Zxid, byte[] Written, int Length, uint Crc);

/// <summary>A broken safety property, with what was expected.</summary>
internal sealed class ConsensusViolation(string message) : Exception(message);

/// <summary>The simulated state machine's snapshot: the applied txns themselves (the state is their sequence).</summary>
internal static class SnapshotCodec
{
    public static ReadOnlyMemory<byte> Encode(IReadOnlyList<ConsensusTxn> txns)
    {
        var stream = new MemoryStream();
        using var writer = new BinaryWriter(stream);
        writer.Write(txns.Count);
        foreach (var txn in txns)
        {
            writer.Write(txn.Zxid.Value);
            writer.Write(txn.Data.Length);
            writer.Write(txn.Data.Span);
        }
        writer.Flush();
        return stream.ToArray();
    }

    public static List<ConsensusTxn> Decode(ReadOnlyMemory<byte> data)
    {
        using var reader = new BinaryReader(new MemoryStream(data.ToArray()));
        var count = reader.ReadInt32();
        var txns = new List<ConsensusTxn>(count);
        for (var i = 0; i < count; i++)
        {
            var zxid = new Zxid(reader.ReadInt64());
            txns.Add(new ConsensusTxn(zxid, reader.ReadBytes(reader.ReadInt32())));
        }
        return txns;
    }
}
