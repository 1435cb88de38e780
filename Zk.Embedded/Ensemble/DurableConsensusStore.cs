using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Zk.Embedded.Api;
using Zk.Embedded.Consensus;
using Zk.Embedded.Storage;
using Zk.Embedded.Txns;

namespace Zk.Embedded.Ensemble;

/// <summary>
/// A member's consensus state on disk, in its dataDir: ZooKeeper's <c>acceptedEpoch</c> and <c>currentEpoch</c>
/// files (<see cref="EpochFile"/>), the LiteDB txn log (<see cref="TxnLog"/>) and snapshot files in the snapshot
/// format (<c>snapshot.&lt;zxid&gt;</c>, the bytes a SNAP carries). Every request passes <see cref="PersistChecks"/>
/// before anything is written. Appends are buffered and written as one batch with one fsync at <see cref="Sync"/>
/// (group commit); every other request first makes the buffered appends durable, so an epoch file never gets ahead of
/// the history it vouches for (ZOOKEEPER-4643). The order of each multi-file change leaves a crash at any point with
/// the state before the request or after it (see the methods). One writer (the driver's storage worker), beside which
/// an autopurge deletes the log's oldest batches on a thread of its own (<see cref="Purge"/>).
/// </summary>
internal sealed class DurableConsensusStore : IConsensusStore
{
    /// <summary>Txns before the newest snapshot a restarted member loads for DIFF: the core's default window.</summary>
    public const int HistoryTxns = 500;

    private readonly object _gate = new();
    private readonly List<EncodedTxn> _pending = [];
    private readonly TxnLog _log;
    private readonly BackgroundPurge _purge;
    private readonly ILogger _logger;
    private DiskShape _shape;
    private Zxid _newestSnapshot;
    private bool _closed;

    private DurableConsensusStore(string dataDir, TxnLog log, DiskShape shape, Zxid newestSnapshot, ILogger logger)
    {
        (DataDir, _log, _shape, _newestSnapshot, _logger) = (dataDir, log, shape, newestSnapshot, logger);
        _purge = new BackgroundPurge(logger);
    }

    /// <summary>The directory holding the files.</summary>
    public string DataDir { get; }

    /// <summary>Names the files, for every fault this store reports.</summary>
    public string Where => field ??= $"consensus state in {DataDir} ({EpochFile.Accepted}, {EpochFile.Current}, {TxnLog.DataFileName}, {SnapshotFile.Prefix}*)"; // once: every Write passes it

    /// <summary>The disk as the checks see it (tests).</summary>
    internal DiskShape Shape
    {
        get { lock (_gate) { return _shape; } }
    }

    /// <summary>
    /// Opens the state in <paramref name="dataDir"/>, creating it when the directory holds none, and checks it as
    /// <c>QuorumPeer.loadDataBase</c> does (docs/storage.md, "epoch files").
    /// </summary>
    /// <exception cref="InvalidDataException">An epoch file is garbled or missing beside existing history, or the log does not continue the snapshot.</exception>
    /// <exception cref="PersistInvariantException">The epochs break the start rules (currentEpoch older than the last zxid, or after acceptedEpoch).</exception>
    /// <param name="dataLogDir">zoo.cfg dataLogDir: the txn log's directory (null: <paramref name="dataDir"/>).</param>
    /// <param name="logger">Where a background purge reports (null: nowhere).</param>
    /// <param name="hook">The txn log's test hook (<see cref="TxnLogOptions.Hook"/>), besides the environment's (<see cref="StorageTestHooks"/>).</param>
    public static DurableConsensusStore Open(string dataDir, bool forceSync = true, string? dataLogDir = null, ILogger? logger = null, Action<string>? hook = null)
    {
        Directory.CreateDirectory(dataDir);
        SnapshotSpool.RemoveLeftovers(dataDir); // a SNAP cut off by a crash mid-transfer
        var options = StorageTestHooks.Apply(new TxnLogOptions { ForceSync = forceSync });
        if (hook is not null)
            options = options with { Hook = options.Hook is { } environment ? point => { environment(point); hook(point); } : hook };
        var log = TxnLog.Open(dataLogDir ?? dataDir, options);
        try
        {
            var (shape, newest) = DurableConsensusRecovery.Recover(dataDir, log);
            return new DurableConsensusStore(dataDir, log, shape, newest, logger ?? NullLogger.Instance);
        }
        catch
        {
            log.Dispose();
            throw;
        }
    }

    /// <summary>The newest snapshot as its file (<see cref="SnapshotBody"/>), never read into memory here.</summary>
    public ConsensusSnapshot? Snapshot
    {
        get
        {
            lock (_gate)
            {
                if (_newestSnapshot == default)
                    return null;
                var path = SnapshotPath(_newestSnapshot);
                return new ConsensusSnapshot(_newestSnapshot, ReadOnlyMemory<byte>.Empty) { Body = new SnapshotBody(path, new FileInfo(path).Length) };
            }
        }
    }

    /// <summary>The data directory: an assembled SNAP is installed by a rename within it.</summary>
    public string? SpoolDirectory => DataDir;

    public PersistedState Load()
    {
        lock (_gate)
        {
            Flush();
            var txns = new List<ConsensusTxn>();
            foreach (var txn in _log.ReadFrom(_newestSnapshot))
                txns.Add(new ConsensusTxn(txn.Zxid, TxnCodec.Encode(txn)));
            var (historyBase, history) = History();
            return new PersistedState(_shape.AcceptedEpoch, _shape.CurrentEpoch, _newestSnapshot, txns) { HistoryBase = historyBase, History = history };
        }
    }

    /// <summary>
    /// Up to <see cref="HistoryTxns"/> logged txns of the snapshot's epoch up to the snapshot, for DIFF to a learner
    /// behind it (<see cref="PersistedState.History"/>); none when the log does not reach the snapshot's zxid (a SNAP
    /// installed it) or holds none before it.
    /// </summary>
    private (Zxid Base, IReadOnlyList<ConsensusTxn> Txns) History()
    {
        var snapshot = _newestSnapshot;
        if (snapshot.Counter == 0)
            return (default, []);
        var txns = new List<ConsensusTxn>();
        // Counters within an epoch are contiguous, so this is HistoryTxns + 1 txns back (or the epoch's first).
        var from = new Zxid(snapshot.Epoch, (uint)Math.Max(0, (long)snapshot.Counter - HistoryTxns - 1));
        Zxid? historyBase = null;
        foreach (var txn in _log.ReadFrom(from))
        {
            if (txn.Zxid > snapshot)
                break;
            if (historyBase is null)
                historyBase = txn.Zxid; // the oldest one read is the base: the window holds what follows it
            else
                txns.Add(new ConsensusTxn(txn.Zxid, TxnCodec.Encode(txn)));
        }

        return txns.Count > 0 && txns[^1].Zxid == snapshot ? (historyBase!.Value, txns) : (default, []);
    }

    public void Write(PersistRequest request)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_closed, this); // a closed (or crashed) store writes nothing more, not even an epoch file
            var next = PersistChecks.Next(_shape, request, Where);
            switch (request)
            {
                case AppendTxn a:
                    // Logged as it came (the leader's encoder made it, the log stores the same record); checked first,
                    // so a record garbled on the way stops this member before anything acknowledges it.
                    TxnCodec.Verify(a.Txn.Data, a.Txn.Zxid);
                    _pending.Add(new EncodedTxn(a.Txn.Zxid, a.Txn.Data));
                    break;
                case TruncateAfter t:
                    Truncate(t.Zxid);
                    next = next with { LastZxid = _log.LastZxid > _newestSnapshot ? _log.LastZxid : _newestSnapshot };
                    break;
                case InstallSnapshot s:
                    Install(s);
                    break;
                case WriteAcceptedEpoch e:
                    SyncPending();
                    EpochFile.Write(DataDir, EpochFile.Accepted, e.Epoch);
                    break;
                case WriteCurrentEpoch c:
                    SyncPending(); // the history first, then the epoch that vouches for it (ZOOKEEPER-4643)
                    EpochFile.Write(DataDir, EpochFile.Current, c.Epoch);
                    break;
            }

            _shape = next;
        }
    }

    public void Sync()
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_closed, this);
            SyncPending();
        }
    }

    /// <summary>
    /// Keeps a snapshot of applied (committed) state newer than the newest one, so a later start replays less: its
    /// file is renamed into place (or its bytes written atomically). A stale one (not newer, or not a zxid of the log:
    /// taken before a TRUNC or SNAP rewrote the history) is ignored. A TRUNC below it deletes it again (ZOOKEEPER-1549).
    /// </summary>
    /// <returns>True when kept.</returns>
    public bool SaveSnapshot(ConsensusSnapshot snapshot)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_closed, this);
            SyncPending();
            if (snapshot.Zxid <= _newestSnapshot || snapshot.Zxid > _shape.LastZxid || !Logged(snapshot.Zxid))
                return false;
            if (snapshot.Body is SnapshotBody body)
                PlaceFile(body.Path, SnapshotPath(snapshot.Zxid));
            else
                EpochFile.WriteAtomically(DataDir, SnapshotFile.NameFor(snapshot.Zxid), snapshot.Data.Span);
            DirectorySync.Sync(DataDir);
            _newestSnapshot = snapshot.Zxid;
            return true;
        }
    }

    void IConsensusStore.SaveSnapshot(ConsensusSnapshot snapshot) => SaveSnapshot(snapshot);

    /// <summary>
    /// ZooKeeper's autopurge (<c>PurgeTxnLog</c>): keeps the newest <paramref name="retain"/> snapshots and the log from
    /// the oldest of them, which recovery (the newest snapshot and the log after it) and any TRUNC (never below a
    /// committed txn, which every kept snapshot holds) need; deletes older snapshots now, then the log they cover on a
    /// thread of its own (<see cref="BackgroundPurge"/>, <see cref="PurgeInFlight"/>), so the storage worker goes on
    /// writing meanwhile (the log takes writes between the purge's steps). A TRUNC or SNAP during it is safe: both cut
    /// the log from its newest end and never below the oldest kept snapshot, and each purge step re-reads the log.
    /// When the previous purge's log part still runs, this one's is left to the next.
    /// </summary>
    /// <returns>The snapshots removed.</returns>
    public int Purge(int retain)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_closed, this);
            SyncPending();
            if (SnapshotFile.DeleteAllButNewest(DataDir, retain) is not var (oldestKept, kept, removed))
                return 0;
            DirectorySync.Sync(DataDir);
            if (oldestKept > _shape.BaseSnapshotZxid)
                _shape = _shape with { BaseSnapshotZxid = oldestKept };
            _purge.TryStart(() =>
            {
                var txns = _log.PurgeThrough(oldestKept);
                Storage.Log.Purged(_logger, removed, txns, kept, oldestKept);
            });
            return removed;
        }
    }

    void IConsensusStore.Purge(int retain) => Purge(retain);

    /// <summary>The log part of the last <see cref="Purge"/>, or a completed task (tests, and the simulator, which waits for it).</summary>
    internal Task PurgeInFlight => _purge.Running;

    /// <summary>True when the log holds <paramref name="zxid"/> (the first txn after the one before it).</summary>
    private bool Logged(Zxid zxid) => _log.ReadFrom(new Zxid(zxid.Value - 1)).FirstOrDefault() is { } txn && txn.Zxid == zxid;

    public void Dispose()
    {
        var purging = _purge.Close();
        lock (_gate)
        {
            _closed = true;
            _log.Dispose(); // buffered appends were never reported durable: dropping them is what a crash does too
        }

        purging.Wait(); // it stops at its next step
    }

    /// <summary>Closes the files as a killed process would (tests): buffered appends are lost, nothing is checkpointed.</summary>
    internal void CloseLikeACrash()
    {
        var purging = _purge.Close();
        lock (_gate)
        {
            _closed = true;
            _pending.Clear();
            _log.CloseLikeACrash();
        }

        purging.Wait();
    }

    /// <summary>
    /// Newer snapshots go first, then the log's tail: a crash between leaves the tail with no snapshot that holds it,
    /// never a snapshot holding a removed tail (ZOOKEEPER-1549, whose dirty snapshot survived its TRUNC).
    /// </summary>
    private void Truncate(Zxid zxid)
    {
        Flush();
        var deleted = false;
        foreach (var (snapshotZxid, path) in SnapshotFile.List(DataDir))
        {
            if (snapshotZxid > zxid)
            {
                File.Delete(path);
                deleted = true;
            }
        }

        if (deleted)
            DirectorySync.Sync(DataDir);
        _log.TruncateAfter(zxid);
        _newestSnapshot = SnapshotFile.List(DataDir) is [var newest, ..] ? newest.Zxid : default;
    }

    /// <summary>
    /// The snapshot first, then the log and the other snapshots go, then currentEpoch: a crash before the snapshot
    /// is durable leaves the old state, after it the new one (the log after it is its continuation or a tail the next
    /// sync truncates). A raised currentEpoch is marked in <c>updatingEpoch</c> first, as <c>Learner.syncWithLeader</c>
    /// does, so a crash between the snapshot and the epoch file is repaired at start.
    /// </summary>
    private void Install(InstallSnapshot request)
    {
        _pending.Clear(); // superseded by the snapshot, never reported durable
        var raise = request.CurrentEpoch > _shape.CurrentEpoch;
        if (raise)
            EpochFile.Mark(DataDir, EpochFile.Updating);
        var zxid = request.Snapshot.Zxid;
        if (request.Snapshot.Body is SnapshotBody body)
            PlaceFile(body.Path, SnapshotPath(zxid));
        else
            EpochFile.WriteAtomically(DataDir, SnapshotFile.NameFor(zxid), request.Snapshot.Data.Span);
        _log.TruncateAfter(new Zxid(-1));
        foreach (var (other, path) in SnapshotFile.List(DataDir))
        {
            if (other != zxid)
                File.Delete(path);
        }

        DirectorySync.Sync(DataDir);
        _newestSnapshot = zxid;
        if (raise)
        {
            EpochFile.Write(DataDir, EpochFile.Current, request.CurrentEpoch);
            EpochFile.Delete(DataDir, EpochFile.Updating);
        }
    }

    /// <summary>
    /// Puts an assembled snapshot file (fsynced by its assembler) in place: a rename when it is spooled in this
    /// directory, else a copy to a temporary name, fsynced, then renamed; the directory is synced by the caller.
    /// </summary>
    private void PlaceFile(string source, string target)
    {
        if (string.Equals(Path.GetDirectoryName(Path.GetFullPath(source)), Path.GetFullPath(DataDir).TrimEnd(Path.DirectorySeparatorChar), StringComparison.Ordinal))
        {
            File.Move(source, target, overwrite: true);
            return;
        }

        var temp = target + ".tmp";
        using (var input = new FileStream(source, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete))
        using (var output = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            input.CopyTo(output);
            output.Flush(flushToDisk: true);
        }

        File.Move(temp, target, overwrite: true);
    }

    private void SyncPending()
    {
        Flush();
        _log.Sync(_log.LastZxid);
    }

    private void Flush()
    {
        if (_pending.Count == 0)
            return;
        _log.Write(_pending);
        _pending.Clear();
    }

    private string SnapshotPath(Zxid zxid) => Path.Combine(DataDir, SnapshotFile.NameFor(zxid));
}
