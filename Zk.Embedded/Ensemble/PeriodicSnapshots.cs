using Microsoft.Extensions.Logging;
using Zk.Embedded.Api;
using Zk.Embedded.Consensus;
using Zk.Embedded.Storage;

namespace Zk.Embedded.Ensemble;

/// <summary>
/// zoo.cfg's <c>snapCount</c>, <c>autopurge.snapRetainCount</c> and <c>autopurge.purgeInterval</c> for a member.
/// </summary>
/// <param name="SnapCount">a snapshot after snapCount/2 + random(snapCount/2) applied txns (SyncRequestProcessor).</param>
/// <param name="SnapRetainCount">snapshots kept by a purge, with the log from the oldest of them (PurgeTxnLog).</param>
/// <param name="PurgeInterval">how often to purge; zero never (ZooKeeper's default: storage then grows).</param>
internal sealed record SnapshotPolicy(int SnapCount = 100_000, int SnapRetainCount = 3, TimeSpan PurgeInterval = default)
{
    public static SnapshotPolicy Default { get; } = new();
}

/// <summary>A snapshot of applied state for the store to keep (not a SNAP): the worker's, never the core's.</summary>
internal sealed record SaveSnapshot(ConsensusSnapshot Snapshot) : PersistRequest(-1);

/// <summary>Keep <paramref name="Retain"/> snapshots and the log from the oldest of them; delete the rest (autopurge).</summary>
internal sealed record PurgeLog(int Retain) : PersistRequest(-1);

/// <summary>
/// A member's periodic snapshots, as ZooKeeper's <c>SyncRequestProcessor</c> takes them: after a randomised number of
/// applied txns (so members do not all snapshot at once) the applied tree is captured on the driver's loop (an
/// immutable tree: no copy) and written to a file on a thread-pool thread, off the loop; the store then keeps it
/// through the storage worker, in order with the core's requests. Only committed txns are ever applied, so a snapshot
/// never holds an uncommitted txn (ZOOKEEPER-3911/4643). A TRUNC or SNAP requested while one is being written makes it
/// stale: it is dropped, never installed over the rewritten history. A purge timer asks the worker to purge.
/// </summary>
internal sealed class PeriodicSnapshots : IAsyncDisposable
{
    private readonly SnapshotPolicy _policy;
    private readonly IReplicatedState _state;
    private readonly SnapshotSpool _spool;
    private readonly ConsensusDriver _driver;
    private readonly Action<PersistRequest> _enqueue;
    private readonly IConsensusRandom _random;
    private readonly ILogger _logger;
    private readonly ITimer? _purge;
    private readonly bool _inMemory;
    private long _sinceLast;
    private long _next;
    private long _generation;
    private Task? _writing;

    /// <param name="inMemory">
    /// the store keeps snapshots in memory and is written on the driver's loop (<see cref="IConsensusStore.DurableAtOnce"/>):
    /// the file is read back here, off the loop, so the store's save is no file read on it.
    /// </param>
    public PeriodicSnapshots(SnapshotPolicy policy, IReplicatedState state, SnapshotSpool spool, ConsensusDriver driver,
        Action<PersistRequest> enqueue, IConsensusRandom random, TimeProvider time, ILogger logger, bool inMemory = false)
    {
        (_policy, _state, _spool, _driver, _enqueue, _random, _logger, _inMemory) = (policy, state, spool, driver, enqueue, random, logger, inMemory);
        _next = NextPoint();
        if (policy.PurgeInterval > TimeSpan.Zero)
            _purge = time.CreateTimer(static p => ((PeriodicSnapshots)p!).RequestPurge(), this, policy.PurgeInterval, policy.PurgeInterval);
    }

    /// <summary>Snapshots kept by the store (tests).</summary>
    public long Taken { get; private set; }

    /// <summary><paramref name="count"/> committed txns were applied on the loop.</summary>
    public void Applied(int count)
    {
        _sinceLast += count;
        if (_sinceLast < _next || _writing is not null || _state.CaptureApplied() is not { } capture)
            return;
        (_sinceLast, _next) = (0, NextPoint());
        var generation = _generation;
        _writing = DiskWork.Start(() =>
        {
            ConsensusSnapshot? snapshot = null;
            try
            {
                snapshot = capture(_spool);
                if (_inMemory && snapshot.Body is SnapshotBody body)
                {
                    snapshot = new ConsensusSnapshot(snapshot.Zxid, SnapshotBody.BytesOf(snapshot));
                    body.Delete();
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Log.PeriodicSnapshotFailed(_logger, e, _driver.Id);
            }

            if (!_driver.Run(() => Written(snapshot, generation)))
                Delete(snapshot);
        });
    }

    /// <summary>The log was rewritten (TRUNC, SNAP): a snapshot being written now describes another history.</summary>
    public void HistoryRewritten()
    {
        _generation++;
        _sinceLast = 0;
    }

    public async ValueTask DisposeAsync()
    {
        if (_purge is not null)
            await _purge.DisposeAsync().ConfigureAwait(false);
        if (_writing is { } writing)
            await writing.ConfigureAwait(false);
    }

    private void Written(ConsensusSnapshot? snapshot, long generation)
    {
        _writing = null;
        if (snapshot is null)
            return;
        if (generation != _generation)
        {
            Delete(snapshot);
            return;
        }

        Taken++;
        Log.PeriodicSnapshot(_logger, _driver.Id, snapshot.Zxid);
        _enqueue(new SaveSnapshot(snapshot));
    }

    private void RequestPurge() => _driver.Run(() => _enqueue(new PurgeLog(_policy.SnapRetainCount)));

    private long NextPoint() => _policy.SnapCount / 2 + _random.Next(Math.Max(1, _policy.SnapCount / 2));

    private static void Delete(ConsensusSnapshot? snapshot) => (snapshot?.Body as SnapshotBody)?.Delete();
}
