using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Zk.Embedded.Api;
using Zk.Embedded.Tree;
using Zk.Embedded.Txns;

namespace Zk.Embedded.Storage;

/// <summary>
/// A peer's durable state: the txn log (the pipeline's sink: a batch is fsynced before it applies or replies) and
/// snapshots taken every snapCount txns from the immutable state, while writes go on. Recovery at open.
/// </summary>
internal sealed class PeerStorage : ICommitStage, IDisposable
{
    private readonly TxnLog _log;
    private readonly string _snapDir;
    private readonly int _snapCount;
    private readonly int _snapRetainCount;
    private readonly ILogger _logger;
    private readonly Random _random;
    private Zxid _lastProposed;
    private int _sinceSnapshot;
    private int _snapshotAt;
    private Task _snapshotting = Task.CompletedTask;
    private readonly BackgroundPurge _purge;
    private Func<TreeState>? _currentState;

    private PeerStorage(TxnLog log, Zxid recoveredZxid, string snapDir, int snapCount, int snapRetainCount, ILogger logger)
    {
        _log = log;
        // The recovered state's zxid, not the log's last: a purged log may end below the newest snapshot.
        _lastProposed = recoveredZxid;
        _snapDir = snapDir;
        _snapCount = snapCount;
        _snapRetainCount = snapRetainCount;
        _logger = logger;
        _purge = new BackgroundPurge(logger);
        // ZooKeeper's SyncRequestProcessor randomises the first roll so peers of an ensemble do not snapshot together.
        _random = new Random();
        _snapshotAt = NextSnapshotPoint();
    }

    /// <summary>Opens the log, recovers the newest state, and reports what it did. Throws on corruption that could lose acknowledged txns.</summary>
    public static (PeerStorage Storage, TreeState State) Open(string dataDir, string dataLogDir, bool forceSync, int snapCount, int snapRetainCount, AclCache acls, ILogger logger)
    {
        Directory.CreateDirectory(dataDir);
        Directory.CreateDirectory(dataLogDir);
        var (fullDataDir, fullLogDir) = (Path.GetFullPath(dataDir), Path.GetFullPath(dataLogDir));
        Log.RecoveryStarted(logger, fullDataDir, fullLogDir);
        var started = Stopwatch.GetTimestamp();
        var (gcsBefore, gcPauseBefore) = (GC.CollectionCount(0), GC.GetTotalPauseDuration());
        var options = StorageTestHooks.Apply(new TxnLogOptions { ForceSync = forceSync });
        var result = Recovery.Recover(dataDir, () => TxnLog.Open(dataLogDir, options), acls, (replayed, total, zxid, last) =>
        {
            if (total is { } all)
            {
                Log.RecoveryProgressOf(logger, replayed, all, zxid, last);
            }
            else
            {
                Log.RecoveryProgress(logger, replayed, zxid, last);
            }
        });
        try
        {
            foreach (var skipped in result.SkippedSnapshots)
            {
                Log.SnapshotSkipped(logger, skipped.Message);
            }

            if (result.LogCorruption is { } corruption)
            {
                // A committed LiteDB transaction whose record fails its checksum is damage, not a torn write (LiteDB
                // already drops unconfirmed transactions): txns in it may have been acknowledged, so do not start.
                throw new StorageCorruptionException(corruption.Kind, corruption.Location, corruption.Zxid, $"{corruption.Detail} Nothing was cut. {StorageCorruptionException.WhatToDo}", corruption);
            }

            var state = result.State;
            var millis = (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            // Where a slow restart went: the snapshot, the replay, or the GC (counts are the whole process's).
            var snapshotMillis = (long)result.SnapshotLoadTime.TotalMilliseconds;
            var gcs = GC.CollectionCount(0) - gcsBefore;
            var gcPauseMillis = (long)(GC.GetTotalPauseDuration() - gcPauseBefore).TotalMilliseconds;
            Log.RecoveryPhases(logger, (long)result.LogOpenTime.TotalMilliseconds, snapshotMillis, millis - snapshotMillis, gcs, gcPauseMillis);
            Log.RecoveryFinished(logger, state.Zxid, state.NodeCount, state.Sessions.Count, result.SnapshotPath ?? "none", result.Replayed, millis);
            return (new PeerStorage(result.Log, state.Zxid, dataDir, snapCount, snapRetainCount, logger), state);
        }
        catch
        {
            // Without LiteDB's close, which would checkpoint: the files stay as the operator needs to see them.
            result.Log.CloseWithoutCheckpoint();
            throw;
        }
    }

    /// <summary>Completes when no snapshot is being written (tests, shutdown).</summary>
    public Task SnapshotInFlight => _snapshotting;

    /// <summary>Where snapshots read the state from: the newest published state.</summary>
    public void SnapshotFrom(Func<TreeState> currentState) => _currentState = currentState;

    /// <summary>The log commits a batch once it is fsynced, not when it is written: proposing and syncing overlap.</summary>
    public bool CommitsAtOnce => false;

    /// <summary>The newest zxid made durable (fsynced; with forceSync off, written).</summary>
    public Zxid CommittedZxid => _log.SyncedZxid;

    /// <summary>Writes the batch to the log (one LiteDB transaction), not yet synced, and starts a snapshot when one is due.</summary>
    public void Propose(IReadOnlyList<Txn> txns)
    {
        if (txns.Count == 0)
        {
            return;
        }

        var last = TxnSequence.CheckContiguous(txns, _lastProposed);
        _log.Write(txns);
        _lastProposed = last;
        _sinceSnapshot += txns.Count;
        if (_sinceSnapshot >= _snapshotAt && _snapshotting.IsCompleted && _currentState is not null)
        {
            _sinceSnapshot = 0;
            _snapshotAt = NextSnapshotPoint();
            // The state is immutable: a snapshot of it is consistent however long writing takes. It is the published
            // state, older than this batch, so the log always covers what follows the snapshot.
            _snapshotting = DiskWork.Start(() => TakeSnapshot(_currentState()));
        }
    }

    /// <summary>
    /// Syncs the log on the caller's thread unless a sync already covers <paramref name="zxid"/> (group commit: one
    /// fsync takes every batch written before it started); completes synchronously, throws when the log failed.
    /// </summary>
    public ValueTask WaitCommittedAsync(Zxid zxid)
    {
        _log.Sync(zxid);
        return ValueTask.CompletedTask;
    }

    /// <summary>Writes a snapshot of <paramref name="state"/> now (the periodic snapshots and tests).</summary>
    public void TakeSnapshot(TreeState state)
    {
        try
        {
            var started = Stopwatch.GetTimestamp();
            var path = SnapshotFile.Write(_snapDir, state);
            var millis = (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            Log.SnapshotTaken(_logger, state.Zxid, path, millis);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Log.SnapshotFailed(_logger, e, state.Zxid);
        }
    }

    public void Dispose()
    {
        var purging = _purge.Close();
        _snapshotting.Wait();
        _log.Dispose();   // a purge still running stops at its next step
        purging.Wait();
    }

    /// <summary>
    /// The autopurge timer's callback: starts <see cref="Purge"/> on a thread of its own unless one is still running
    /// (<see cref="BackgroundPurge"/>): on the timer's pool thread a purge of a long log would hold one of the pool's
    /// few workers for seconds, and an exception there would end the process.
    /// </summary>
    public void PurgeInBackground() => _purge.TryStart(Purge);

    /// <summary>The purge started by <see cref="PurgeInBackground"/>, or a completed task (tests).</summary>
    internal Task PurgeInFlight => _purge.Running;

    private int NextSnapshotPoint() => _snapCount / 2 + _random.Next(Math.Max(1, _snapCount / 2));

    /// <summary>
    /// autopurge (ZooKeeper's PurgeTxnLog): keeps the newest snapRetainCount snapshots and the log from the oldest of
    /// them on; deletes older snapshots and the txns they cover. Called every autopurge.purgeInterval.
    /// </summary>
    public void Purge()
    {
        if (SnapshotFile.DeleteAllButNewest(_snapDir, _snapRetainCount) is not var (oldestKept, kept, purged))
        {
            return;
        }

        var txns = _log.PurgeThrough(oldestKept);
        Log.Purged(_logger, purged, txns, kept, oldestKept);
    }
}
