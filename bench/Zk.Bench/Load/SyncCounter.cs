using System.Reflection;
using Zk.Embedded;

namespace Zk.Bench.Load;

/// <summary>
/// The fsyncs a durable peer's txn log has done (WAL syncs, one per batch with forceSync, plus data-file syncs at
/// LiteDB checkpoints). The peer does not publish these as metrics yet, so they are read from its private fields
/// (<c>ZkPeer._storage._log</c>); if those are renamed this says "n/a" rather than guess.
/// </summary>
internal sealed class SyncCounter
{
    private readonly object? _log;
    private readonly PropertyInfo? _walSyncs;
    private readonly PropertyInfo? _dataSyncs;

    public SyncCounter(ZkPeer peer)
    {
        var storage = typeof(ZkPeer).GetField("_storage", BindingFlags.Instance | BindingFlags.NonPublic)?.GetValue(peer);
        _log = storage?.GetType().GetField("_log", BindingFlags.Instance | BindingFlags.NonPublic)?.GetValue(storage);
        _walSyncs = _log?.GetType().GetProperty("WalSyncCount");
        _dataSyncs = _log?.GetType().GetProperty("DataSyncCount");
    }

    /// <summary>WAL and data-file fsyncs so far, or null when the peer is in memory or the fields are not found.</summary>
    public (long Wal, long Data)? Totals =>
        _walSyncs is null || _dataSyncs is null ? null : ((long)_walSyncs.GetValue(_log)!, (long)_dataSyncs.GetValue(_log)!);
}
