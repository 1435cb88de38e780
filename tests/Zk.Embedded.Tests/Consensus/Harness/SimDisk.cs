using Zk.Embedded.Txns;
using Zk.Embedded.Api;
using Zk.Embedded.Consensus;

namespace Zk.Embedded.Tests.Consensus.Harness;

/// <summary>
/// A peer's disk as of its last fsync: both epoch files, one snapshot and the log after it. Persist requests reach
/// it only when the simulator completes them, so a crash loses exactly what was not yet durable. Every write passes
/// <see cref="PersistChecks"/> first, the rules every consensus store holds (CONSENSUS-NOTES §10 invariant 8, appends
/// in order, no TRUNC below the snapshot: ZOOKEEPER-1549).
/// </summary>
internal sealed class SimDisk
{
    private readonly ConsensusState _state = new(new ConsensusSnapshot(default, SnapshotCodec.Encode([])));

    public uint AcceptedEpoch => _state.AcceptedEpoch;
    public uint CurrentEpoch => _state.CurrentEpoch;
    public ConsensusSnapshot Snapshot => _state.Snapshot!;   // starts as the empty state's and is only ever replaced
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

    public PersistedState Load() => _state.Load();

    public void Apply(PersistRequest request, int peer)
    {
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
