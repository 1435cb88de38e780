using System.Buffers;
using LiteDB;
using Zk.Embedded.Api;
using Zk.Embedded.Tree;
using Zk.Embedded.Txns;

namespace Zk.Embedded.Storage;

/// <summary>
/// The txn log of one peer: every txn in zxid order, plus the consensus metadata ZooKeeper keeps beside it
/// (<c>currentEpoch</c>, <c>acceptedEpoch</c>), in two LiteDB databases in the dataLogDir that it writes by turns.
/// </summary>
/// <remarks>
/// <para><b>Why two.</b> LiteDB copies its WAL into the data file (a checkpoint) under an exclusive lock: with one
/// database every write waited ~35–45 ms for each 32 MB checkpoint, the whole tail of durable latency. Here the log
/// appends to one store (<see cref="LogStore"/>) until its WAL holds <see cref="TxnLogOptions.CheckpointPages"/>, syncs
/// it, goes on in the other one, and checkpoints the one it left on a background thread; it moves back only once
/// that checkpoint is done (until then it keeps appending where it is). Both data files stay: each holds the batches
/// written while it was active, so the log is the two merged by zxid.</para>
/// <para><b>Files.</b> <c>txnlog.db</c> (its WAL <c>txnlog-wal.db</c>/<c>txnlog-wal-2.db</c>) and <c>txnlog-1.db</c>
/// (<c>txnlog-1-wal.db</c>/<c>txnlog-1-wal-2.db</c>). A log written before there were two is the first store, read
/// unchanged; the second is created beside it at the first open.</para>
/// <para><b>Order across the two.</b> Each batch is in exactly one store, in one LiteDB transaction. A move syncs the
/// store it leaves, so no batch becomes durable before an earlier one. Truncation removes the newest run of batches
/// first and purge the oldest run first, one store and one sync at a time, so a crash in between leaves the log a
/// contiguous run of zxids, never one with a hole. Epochs go to the active store; reading takes the larger of the
/// two (epochs only grow).</para>
/// <para><b>Threads.</b> Writes (<see cref="Write(IReadOnlyList{Txn})"/>, truncation, purge, epochs) are serialized by a lock; the
/// pipeline writes from one thread. <see cref="Sync"/> runs on another thread at the same time (a sync of the file
/// while pages are appended is safe: it covers at least what was written before it started). <see cref="ReadFrom"/>
/// reads LiteDB snapshots.</para>
/// </remarks>
internal sealed class TxnLog : IDisposable
{
    public const string DataFileName = "txnlog.db";
    public const string WalFileName = "txnlog-wal.db";
    public const string SecondDataFileName = "txnlog-1.db";
    public const string SecondWalFileName = "txnlog-1-wal.db";

    /// <summary>LiteDB's own checkpoint trigger, as a multiple of the move point: reached only if background checkpoints fall behind.</summary>
    private const int InlineCheckpointFactor = 4;

    /// <summary>Batches a purge deletes per hold of the write lock (~12 ms of LiteDB deletes).</summary>
    internal const int PurgeStepBatches = 1_000;

    private readonly object _writeLock = new();
    private readonly object _syncLock = new();
    private readonly ArrayBufferWriter<byte> _record = new(64 * 1024);
    private readonly LogDocuments.DocumentBuilder _document = new();
    private readonly List<BsonDocument> _documents = [];
    private readonly List<BsonDocument> _parts = [];
    private readonly LogStore[] _stores;
    private readonly TxnLogOptions _options;
    private int _active;
    private Task? _checkpoint;
    private bool _checkpointDue;
    private long _lastZxid;
    private long _syncedZxid;
    private bool _disposed;

    private TxnLog(string directory, TxnLogOptions options)
    {
        Directory = directory;
        _options = options;
        var pragma = options.CheckpointPages * InlineCheckpointFactor;
        var first = LogStore.Open(directory, DataFileName, WalFileName, options, pragma);
        try
        {
            // A reader (no CheckpointPages) of a log from before the second store creates nothing.
            _stores = options.CheckpointPages is null && !File.Exists(System.IO.Path.Combine(directory, SecondDataFileName))
                ? [first]
                : [first, LogStore.Open(directory, SecondDataFileName, SecondWalFileName, options, pragma)];
        }
        catch
        {
            first.CloseWithoutCheckpoint();
            throw;
        }

        _active = _stores.Length == 2 && _stores[1].LastId > _stores[0].LastId ? 1 : 0;
        _lastZxid = _stores[_active].LastId;
        _syncedZxid = _lastZxid;
        // The other store's WAL may hold pages (a crash before the last move's checkpoint finished, or a new store's
        // first pragma): checkpointed in the background at the first write, not now, where recovery reads that store.
        _checkpointDue = _stores.Length == 2 && options.CheckpointPages is not null && _stores[1 - _active].WalPages > 0;
    }

    /// <summary>The dataLogDir this log lives in.</summary>
    public string Directory { get; }

    /// <summary>How corruption reports name this log ("txn log" and its first data file).</summary>
    public string Location => $"txn log {System.IO.Path.Combine(Directory, DataFileName)}";

    /// <summary>The zxid of the newest logged txn, 0 when the log is empty.</summary>
    public Zxid LastZxid => new(Volatile.Read(ref _lastZxid));

    /// <summary>The zxid of the newest txn a sync has made durable (with forceSync off: one a sync would have).</summary>
    public Zxid SyncedZxid => new(Volatile.Read(ref _syncedZxid));

    /// <summary>The WAL file the log appends to now.</summary>
    internal string WalPath => _stores[Volatile.Read(ref _active)].WalPath;

    /// <summary>How many times a WAL file was fsynced (one per batch when <see cref="TxnLogOptions.ForceSync"/>, plus one per move).</summary>
    public long WalSyncCount => _stores.Sum(s => s.WalSyncCount);

    /// <summary>How many times a data file was fsynced (at creation and at each checkpoint).</summary>
    public long DataSyncCount => _stores.Sum(s => s.DataSyncCount);

    /// <summary>How many times the log moved to its other store (each move checkpoints the store it left in the background).</summary>
    public long Moves { get; private set; }

    /// <summary>ZooKeeper's <c>currentEpoch</c>: the epoch of the last NEWLEADER this peer acknowledged (0 when never set).</summary>
    public long CurrentEpoch => _stores.Max(s => s.ReadMeta("currentEpoch"));

    /// <summary>ZooKeeper's <c>acceptedEpoch</c>: the last epoch this peer accepted a proposal of (0 when never set).</summary>
    public long AcceptedEpoch => _stores.Max(s => s.ReadMeta("acceptedEpoch"));

    /// <summary>Opens (or creates) the log in <paramref name="dataLogDir"/>.</summary>
    /// <exception cref="IOException">The files are in use by another log (another peer on the same directory).</exception>
    public static TxnLog Open(string dataLogDir, TxnLogOptions? options = null) => new(dataLogDir, options ?? new TxnLogOptions());

    /// <summary>Appends the batch and, with forceSync, syncs it: when this returns the txns survive a crash.</summary>
    /// <exception cref="InvalidOperationException">Zxids are not strictly increasing past <see cref="LastZxid"/>; nothing is written.</exception>
    public void Append(IReadOnlyList<Txn> txns)
    {
        Write(txns);
        Sync(LastZxid);
    }

    /// <summary>
    /// Appends the batch in one LiteDB transaction, not yet synced: <see cref="Sync"/> makes it durable. One writer
    /// at a time (the pipeline's preparing loop); <see cref="Sync"/> may run meanwhile on another thread.
    /// </summary>
    /// <exception cref="InvalidOperationException">Zxids are not strictly increasing past <see cref="LastZxid"/>; nothing is written.</exception>
    public void Write(IReadOnlyList<Txn> txns)
    {
        if (txns.Count == 0)
        {
            return;
        }

        lock (_writeLock)
        {
            var last = BeginBatch(txns.Count, i => txns[i].Zxid);
            for (var i = 0; i < txns.Count; i++)
                LogDocuments.Add(txns[i], _record, _document, _documents, _parts);
            EndBatch(last);
        }
    }

    /// <summary>
    /// Appends records made already (a replicated txn arrives encoded: logging its bytes spares a decode and an
    /// encode per txn), as <see cref="Write(IReadOnlyList{Txn})"/> does. The caller has checked each record
    /// (<see cref="TxnCodec.Verify"/>).
    /// </summary>
    /// <exception cref="InvalidOperationException">Zxids are not strictly increasing past <see cref="LastZxid"/>; nothing is written.</exception>
    public void Write(IReadOnlyList<EncodedTxn> records)
    {
        if (records.Count == 0)
        {
            return;
        }

        lock (_writeLock)
        {
            var last = BeginBatch(records.Count, i => records[i].Zxid);
            for (var i = 0; i < records.Count; i++)
                LogDocuments.Add(records[i].Zxid, records[i].Record.Span, _document, _documents, _parts);
            EndBatch(last);
        }
    }

    /// <summary>Checks the whole batch's zxids before any entry is built (nothing is written when one is out of order); returns the last.</summary>
    private Zxid BeginBatch(int count, Func<int, Zxid> zxidAt)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ThrowIfCheckpointFailed();
        var previous = new Zxid(_lastZxid);
        for (var i = 0; i < count; i++)
        {
            var zxid = zxidAt(i);
            if (zxid <= previous)
            {
                throw new InvalidOperationException($"Txn zxid {zxid} does not follow {previous}; the log only grows in zxid order.");
            }

            previous = zxid;
        }

        _documents.Clear();
        _parts.Clear();
        return previous;
    }

    private void EndBatch(Zxid last)
    {
        _documents.Add(_document.Take());
        if (_checkpointDue)
        {
            _checkpointDue = false;
            StartCheckpoint(_stores[_active ^ 1]);
        }

        var store = _stores[_active];
        store.Insert(_documents, _parts);
        Volatile.Write(ref _lastZxid, last.Value);
        if (_stores.Length == 2 && store.WalPages >= _options.CheckpointPages && (_checkpoint is null || _checkpoint.IsCompleted))
        {
            MoveToOtherStore();
        }
    }

    /// <summary>
    /// Returns once every txn written up to <paramref name="zxid"/> is durable: one WAL sync, unless a sync that
    /// started after that txn was written has finished already. A sync covers every batch written before it
    /// starts, so while it runs the writer goes on and the next sync takes all of that at once (group commit).
    /// </summary>
    public void Sync(Zxid zxid)
    {
        if (Volatile.Read(ref _syncedZxid) >= zxid.Value)
        {
            return;
        }

        lock (_syncLock)
        {
            if (_syncedZxid >= zxid.Value)
            {
                return;
            }

            // Read before syncing: whatever is written by now is in the active store (a move syncs the store it
            // leaves, under this lock), so this sync covers it.
            var written = Volatile.Read(ref _lastZxid);
            ObjectDisposedException.ThrowIf(_disposed, this);
            _options.Hook?.Invoke(TxnLogOptions.HookSyncStart);
            _stores[_active].SyncWal();
            Volatile.Write(ref _syncedZxid, written);
        }
    }

    /// <summary>
    /// The logged txns with zxid greater than <paramref name="zxidExclusive"/>, in zxid order, each verified.
    /// </summary>
    /// <exception cref="StorageCorruptionException">Thrown when the enumeration reaches a bad record; every txn
    /// yielded before it is good, and the exception names the bad record's zxid and what is wrong.</exception>
    /// <param name="longLivedData">the txns' znode data is for a tree being recovered (<see cref="TxnCodec.ReadData"/>).</param>
    public IEnumerable<Txn> ReadFrom(Zxid zxidExclusive, AclCache? acls = null, bool longLivedData = false)
    {
        foreach (var logged in ReadLoggedFrom(zxidExclusive, acls, longLivedData))
        {
            yield return logged.Txn;
        }
    }

    /// <summary><see cref="ReadFrom"/> with each txn's record size.</summary>
    internal IEnumerable<LoggedTxn> ReadLoggedFrom(Zxid zxidExclusive, AclCache? acls = null, bool longLivedData = false)
    {
        // Each store's batches are in key order; the log is the two merged (a batch lives in one store only).
        var cursors = _stores.Select(s => (Store: s, Batches: s.BatchesAfter(zxidExclusive.Value).GetEnumerator())).ToArray();
        try
        {
            var more = cursors.Select(c => c.Batches.MoveNext()).ToArray();
            var previous = zxidExclusive;
            while (true)
            {
                var next = -1;
                for (var i = 0; i < cursors.Length; i++)
                {
                    if (more[i] && (next < 0 || cursors[i].Batches.Current["_id"].AsInt64 < cursors[next].Batches.Current["_id"].AsInt64))
                    {
                        next = i;
                    }
                }

                if (next < 0)
                {
                    yield break;
                }

                var (store, batches) = cursors[next];
                var document = batches.Current;
                var first = document[LogDocuments.FirstField];
                if (!first.IsInt64 || (previous > zxidExclusive && first.AsInt64 <= previous.Value))
                {
                    throw new StorageCorruptionException(CorruptionKind.Undecodable, store.Location, new Zxid(document["_id"].AsInt64), $"batch out of order: follows {previous}");
                }

                foreach (var logged in LogDocuments.Decode(document, new Zxid(first.AsInt64 - 1), store.Location, acls, zxid => store.ReadParts(zxid.Value), longLivedData))
                {
                    if (logged.Txn.Zxid > zxidExclusive)
                    {
                        yield return logged;
                    }

                    previous = logged.Txn.Zxid;
                }

                more[next] = batches.MoveNext();
            }
        }
        finally
        {
            foreach (var cursor in cursors)
            {
                cursor.Batches.Dispose();
            }
        }
    }

    /// <summary>
    /// Removes every txn after <paramref name="zxid"/> (ZooKeeper's TRUNC, or cutting a corrupt tail) and makes the
    /// removal durable. Only the caller knows whether those txns may have been acknowledged.
    /// </summary>
    public int TruncateAfter(Zxid zxid)
    {
        // The sync lock too: a sync running on another thread read the log's end before the truncation and would mark
        // the removed zxids synced after it, so that txns written again under those zxids would count as synced before
        // any sync covered them.
        lock (_writeLock)
        lock (_syncLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var removed = 0;
            // Newest run first: the store holding the newest batch loses what lies above the other store's newest
            // (and above zxid), synced, then again; a crash between two steps leaves a shorter log, never a hole.
            while (Newest() is var store && store.LastId != 0 && store.LastId > zxid.Value)
            {
                removed += store.TruncateAfter(Math.Max(zxid.Value, Other(store)?.LastId ?? 0));
                _options.Hook?.Invoke(TxnLogOptions.HookTruncateStep);
            }

            Volatile.Write(ref _lastZxid, _stores.Max(s => s.LastId));
            Volatile.Write(ref _syncedZxid, _lastZxid);
            return removed;
        }
    }

    /// <summary>
    /// Removes every txn at or before <paramref name="zxid"/>: the ones a retained snapshot already holds (autopurge).
    /// Whole batches only; the newest batch is kept whatever the zxid, so <see cref="LastZxid"/> survives a reopen.
    /// Returns how many batches went. Writes go on meanwhile: the purge takes the write lock for
    /// <see cref="PurgeStepBatches"/> batches at a time (LiteDB deletes ~12 µs a batch, so an hour of one-txn batches
    /// at 1,000 a second held every write for ~40 s when one step took them all).
    /// </summary>
    public int PurgeThrough(Zxid zxid)
    {
        var removed = 0;
        while (true)
        {
            // A step waits for LiteDB's lock, which a background checkpoint holds for up to ~0.2 s: waiting for that
            // inside the write lock would stop every write meanwhile. Moves (which start checkpoints) happen under
            // the write lock, so none starts while a step runs.
            WaitForCheckpoint();
            lock (_writeLock)
            {
                ObjectDisposedException.ThrowIf(_disposed, this);
                if (_checkpoint is { IsCompleted: false })
                    continue;   // a move started another one meanwhile
                var limit = Math.Min(zxid.Value, _lastZxid - 1);
                // Oldest batches first (the mirror of truncation): the store holding the oldest batch loses at most a
                // step's worth of what lies below the other store's oldest, synced, then again, so a crash in
                // between leaves a contiguous log.
                if (Oldest() is not { } store || store.FirstId > limit)
                    break;
                var otherFirst = Other(store)?.FirstId ?? 0;
                removed += store.DeleteThrough(otherFirst == 0 ? limit : Math.Min(limit, otherFirst - 1), PurgeStepBatches);
            }

            _options.Hook?.Invoke(TxnLogOptions.HookPurgeStep);
        }

        lock (_writeLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            // Parts belong to the txn of their zxid: those before the oldest kept batch went with their batches.
            var oldestKept = _stores.Select(s => s.OldestTxn()).Where(z => z != 0).DefaultIfEmpty(0).Min();
            if (oldestKept != 0)
            {
                foreach (var store in _stores)
                {
                    store.DeletePartsBefore(oldestKept);
                }
            }

            return removed;
        }
    }

    public void SetCurrentEpoch(long epoch) => WriteMeta("currentEpoch", epoch);

    public void SetAcceptedEpoch(long epoch) => WriteMeta("acceptedEpoch", epoch);

    /// <summary>Copies both stores' WALs into their data files now, after any background checkpoint (tests).</summary>
    public void Checkpoint()
    {
        lock (_writeLock)
        {
            WaitForCheckpoint();
            foreach (var store in _stores)
            {
                store.Checkpoint();
                store.SyncWal();
            }
        }
    }

    public void Dispose()
    {
        lock (_writeLock)
        lock (_syncLock)   // a sync on another thread finishes first, or finds the log closed
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            WaitForCheckpoint();
            foreach (var store in _stores)
            {
                store.Dispose();
            }
        }
    }

    /// <summary>
    /// Closes the files as a killed process would: no LiteDB close, so no checkpoint, and nothing synced beyond what
    /// commits already synced. For tests of recovery from the WAL; the instance is unusable afterwards.
    /// </summary>
    internal void CloseLikeACrash() => CloseWithoutCheckpoint();

    /// <summary>
    /// Closes the files without closing LiteDB, whose close would checkpoint the WAL into the data file: a reader
    /// (<see cref="StorageDump"/>) leaves the files as it found them. The instance is unusable afterwards.
    /// </summary>
    internal void CloseWithoutCheckpoint()
    {
        lock (_writeLock)
        lock (_syncLock)   // a sync on another thread finishes first, or finds the log closed
        {
            _disposed = true;
            WaitForCheckpoint();
            foreach (var store in _stores)
            {
                store.CloseWithoutCheckpoint();
            }
        }
    }

    /// <summary>
    /// Syncs the active store (every batch in it durable before any reaches the other), appends to the other from
    /// now on, and checkpoints the one it left on a background thread.
    /// </summary>
    private void MoveToOtherStore()
    {
        var left = _stores[_active];
        lock (_syncLock)
        {
            left.SyncWal();
            Volatile.Write(ref _syncedZxid, _lastZxid);
            _options.Hook?.Invoke(TxnLogOptions.HookRotation);
            Volatile.Write(ref _active, _active ^ 1);
        }

        Moves++;
        StartCheckpoint(left);
    }

    private void StartCheckpoint(LogStore store)
    {
        var hook = _options.Hook;
        _checkpoint = DiskWork.Start(() =>
        {
            hook?.Invoke(TxnLogOptions.HookCheckpointStart);
            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            store.CheckpointInBackground();
            Telemetry.LogCheckpointDuration.Record(System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds);
        });
    }

    /// <summary>A background checkpoint that failed (a full or failing disk) fails the next write: the log cannot go on safely.</summary>
    private void ThrowIfCheckpointFailed()
    {
        if (_checkpoint is { IsFaulted: true } failed)
        {
            failed.GetAwaiter().GetResult();
        }
    }

    private void WaitForCheckpoint()
    {
        try
        {
            _checkpoint?.GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is IOException or LiteException or ObjectDisposedException)
        {
            // Reported by the write that met it; closing must not throw on top of the fault.
        }
    }

    /// <summary>Where the log stands, for a test's or an operator's message: the active store and each store's WAL.</summary>
    internal string Describe() =>
        $"active store {_active}, moves {Moves}, checkpoint {(_checkpoint is null ? "none" : _checkpoint.Status.ToString())}, " +
        string.Join(", ", _stores.Select((s, i) => $"store {i}: WAL {s.WalPages} pages ({s.WalPath}), batches {s.FirstId}..{s.LastId}"));

    private LogStore Newest() => _stores.MaxBy(s => s.LastId)!;

    private LogStore? Other(LogStore store) => _stores.Length == 2 ? _stores[Array.IndexOf(_stores, store) ^ 1] : null;

    private LogStore? Oldest() => _stores.Where(s => s.FirstId != 0).MinBy(s => s.FirstId);

    private void WriteMeta(string key, long value)
    {
        lock (_writeLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _stores[_active].WriteMeta(key, value);
        }
    }
}
