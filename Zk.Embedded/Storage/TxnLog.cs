using System.Buffers.Binary;
using System.Buffers;
using System.Runtime.InteropServices;
using LiteDB;
using LiteDB.Engine;
using Zk.Embedded.Api;
using Zk.Embedded.Tree;
using Zk.Embedded.Txns;

namespace Zk.Embedded.Storage;

/// <summary>Options of a <see cref="TxnLog"/>; defaults as in zoo.cfg.</summary>
internal sealed record TxnLogOptions
{
    /// <summary>zoo.cfg <c>forceSync</c>: fsync each batch before it is acknowledged. Off only for tests and benchmarks.</summary>
    public bool ForceSync { get; init; } = true;

    /// <summary>Sees every sync and shrink of the log's files, in order (tests).</summary>
    public Action<FileEvent>? Observer { get; init; }

    /// <summary>
    /// WAL pages (8 KiB) that trigger LiteDB's checkpoint: 32 MB, four times LiteDB's default. A checkpoint holds up
    /// every write while it copies the WAL into the data file and syncs it, and part of its cost is per checkpoint
    /// (syncs; the header and index pages every commit rewrites reach the disk once per checkpoint). With 64 writers
    /// here: 1,000 pages gave ~106 k writes/s with p99 ~8 ms; 4,000 gave ~121–132 k/s with p99 ~2.6 ms, and a
    /// longest pause of ~35–45 ms instead of ~18 ms. Tests set it lower to reach a checkpoint sooner; null leaves
    /// what the file has (a reader such as the log dump writes nothing).
    /// </summary>
    public int? CheckpointPages { get; init; } = 4000;
}

/// <summary>
/// The txn log of one peer: every txn in zxid order, plus the consensus metadata ZooKeeper keeps beside it
/// (<c>currentEpoch</c>, <c>acceptedEpoch</c>), in one LiteDB database in the dataLogDir.
/// </summary>
/// <remarks>
/// <para><b>Layout.</b> <c>txnlog.db</c> is LiteDB's data file and <c>txnlog-wal.db</c> or <c>txnlog-wal-2.db</c>
/// its write-ahead log (<see cref="WalFile"/>, kept preallocated; the log moves to the other file at each checkpoint). Collection <c>txns</c> holds one document per pipeline batch,
/// <c>{ _id: last zxid, f: first zxid, r: entries }</c>, each entry the zxid, the length and <see cref="TxnCodec"/>'s
/// checksummed record; the primary index on <c>_id</c> keeps zxid order. Collection <c>meta</c> holds
/// <c>{ _id: "currentEpoch" | "acceptedEpoch", v: Int64 }</c>.</para>
/// <para><b>Durability.</b> LiteDB 5.0.x commits a transaction by writing its pages to the WAL, the last page marked
/// confirmed, and never fsyncs (issue #2818). The data file is written only by a checkpoint, which copies confirmed
/// WAL pages into it and then empties the WAL. So one WAL sync after a batch makes it survive a crash, because on
/// open LiteDB replays every confirmed transaction in the WAL. The data file is fsynced by <see cref="DurableFile"/>
/// whenever LiteDB flushes it (end of a checkpoint) and, regardless, just before the WAL is emptied, so WAL pages are
/// only dropped once their copies in the data file are durable. Both files are opened here, exclusively, and handed
/// to LiteDB as streams; that is what lets us sync them.</para>
/// <para><b>Threads.</b> Writes (<see cref="Write"/>, truncation, purge, epochs) are serialized by a lock; the
/// pipeline writes from one thread. <see cref="Sync"/> runs on another thread at the same time (a sync of the file
/// while pages are appended is safe: it covers at least what was written before it started). <see cref="ReadFrom"/>
/// reads a LiteDB snapshot.</para>
/// </remarks>
internal sealed class TxnLog : IDisposable
{
    public const string DataFileName = "txnlog.db";
    public const string WalFileName = "txnlog-wal.db";

    private const string MetaCollection = "meta";
    private const string ValueField = "v";

    private readonly object _writeLock = new();
    private readonly ArrayBufferWriter<byte> _record = new(64 * 1024);
    private readonly LogDocuments.DocumentBuilder _document = new();
    private readonly List<BsonDocument> _documents = [];
    private readonly List<BsonDocument> _parts = [];
    private readonly DurableFile _data;
    private readonly WalFile _wal;
    private readonly LiteEngine _engine;
    private readonly LiteDatabase _db;
    private readonly ILiteCollection<BsonDocument> _txns;
    private readonly ILiteCollection<BsonDocument> _partsCollection;
    private readonly ILiteCollection<BsonDocument> _meta;
    private readonly TxnLogOptions _options;
    private readonly object _syncLock = new();
    private long _lastZxid;
    private long _syncedZxid;
    private bool _disposed;

    private TxnLog(string directory, TxnLogOptions options)
    {
        Directory = directory;
        _options = options;
        System.IO.Directory.CreateDirectory(directory);
        _data = new DurableFile(System.IO.Path.Combine(directory, DataFileName), "data", options.Observer);
        try
        {
            _wal = new WalFile(System.IO.Path.Combine(directory, WalFileName), options.Observer);
        }
        catch
        {
            _data.Dispose();
            throw;
        }

        _wal.BeforeShrink = _data.Sync;
        try
        {
            _engine = new LiteEngine(new EngineSettings { DataStream = _data, LogStream = _wal });
            _db = new LiteDatabase(_engine, disposeOnClose: true);
            if (options.CheckpointPages is { } pages && _db.CheckpointSize != pages)
            {
                // A pragma: stored in the file's header, so set when it changes only.
                _db.CheckpointSize = pages;
            }
            _txns = _db.GetCollection(LogDocuments.TxnCollection, BsonAutoId.Int64);
            _partsCollection = _db.GetCollection(LogDocuments.PartCollection, BsonAutoId.Int64);
            _meta = _db.GetCollection(MetaCollection, BsonAutoId.Int64);
            if (_data.Created || _wal.Created)
            {
                // A new file's directory entry is the directory's metadata: without this a crash could lose the file.
                _data.Sync();
                _wal.Sync();
                DirectorySync.Sync(directory);
            }

            _lastZxid = _txns.FindOne(Query.All(Query.Descending))?["_id"].AsInt64 ?? 0;

            // What a killed process left may still be only in the page cache: make it durable before it counts as synced.
            _data.Sync();
            _wal.Sync();
            _syncedZxid = _lastZxid;
        }
        catch (Exception e)
        {
            // Not LiteDB's close: it would checkpoint, changing the files an operator needs to see as they were (and
            // on a damaged file it throws too, hiding this exception).
            if (_engine is not null)
            {
                LiteDbTransactions.SuppressFinalizers(_engine);
            }

            _wal.Dispose();
            _data.Dispose();
            if (e is IOException or UnauthorizedAccessException or InvalidDataException)
            {
                throw;
            }

            // LiteDB reading garbage fails in many ways (LiteException, DecoderFallbackException, InvalidCastException, ...).
            throw new StorageCorruptionException(
                CorruptionKind.Undecodable,
                Location,
                null,
                $"LiteDB cannot open it ({e.GetType().Name}: {e.Message}). Nothing was changed. {StorageCorruptionException.WhatToDo}",
                e);
        }
    }

    /// <summary>The dataLogDir this log lives in.</summary>
    public string Directory { get; }

    /// <summary>How corruption reports name this log ("txn log" and its data file).</summary>
    public string Location => $"txn log {System.IO.Path.Combine(Directory, DataFileName)}";

    /// <summary>The zxid of the newest logged txn, 0 when the log is empty.</summary>
    public Zxid LastZxid => new(Volatile.Read(ref _lastZxid));

    /// <summary>The zxid of the newest txn a sync has made durable (with forceSync off: one a sync would have).</summary>
    public Zxid SyncedZxid => new(Volatile.Read(ref _syncedZxid));

    /// <summary>The WAL file the log is in now (it moves between two at each checkpoint).</summary>
    internal string WalPath => _wal.LivePath;

    /// <summary>How many times the WAL file was fsynced (one per batch when <see cref="TxnLogOptions.ForceSync"/>).</summary>
    public long WalSyncCount => _wal.SyncCount;

    /// <summary>How many times the data file was fsynced (at creation and at each checkpoint).</summary>
    public long DataSyncCount => _data.SyncCount;

    /// <summary>ZooKeeper's <c>currentEpoch</c>: the epoch of the last NEWLEADER this peer acknowledged (0 when never set).</summary>
    public long CurrentEpoch => ReadMeta("currentEpoch");

    /// <summary>ZooKeeper's <c>acceptedEpoch</c>: the last epoch this peer accepted a proposal of (0 when never set).</summary>
    public long AcceptedEpoch => ReadMeta("acceptedEpoch");

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
            ObjectDisposedException.ThrowIf(_disposed, this);
            var previous = new Zxid(_lastZxid);
            _documents.Clear();
            _parts.Clear();
            for (var i = 0; i < txns.Count; i++)
            {
                var txn = txns[i];
                if (txn.Zxid <= previous)
                {
                    throw new InvalidOperationException($"Txn zxid {txn.Zxid} does not follow {previous}; the log only grows in zxid order.");
                }

                previous = txn.Zxid;
                LogDocuments.Add(txn, _record, _document, _documents, _parts);
            }

            _documents.Add(_document.Take());
            Insert();
            Volatile.Write(ref _lastZxid, previous.Value);
        }
    }

    /// <summary>
    /// Inserts the batch's documents in one LiteDB transaction. Usually one document (LiteDB's cost is per document
    /// and per index entry, so a batch of txns costs one insert, not one each); more when the batch is larger than
    /// a document may be (<see cref="LogDocuments"/>).
    /// </summary>
    private void Insert()
    {
        if (_documents.Count == 1 && _parts.Count == 0)
        {
            _txns.Insert(_documents[0]);
            return;
        }

        // One transaction for all of them: a crash leaves the whole batch or none of it.
        _db.BeginTrans();
        try
        {
            if (_parts.Count > 0)
            {
                _partsCollection.EnsureIndex(LogDocuments.PartZxidField);
                _partsCollection.Insert(_parts);
            }

            _txns.Insert(_documents);
            _db.Commit();
        }
        catch
        {
            try
            {
                _db.Rollback();
            }
            catch (Exception rollback) when (rollback is LiteException or IOException or ObjectDisposedException)
            {
                // The insert's failure is the one to report; the log is unusable either way.
            }

            throw;
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

            // Read before syncing: whatever is written by now is in the file, so this sync covers it.
            var written = Volatile.Read(ref _lastZxid);
            ObjectDisposedException.ThrowIf(_disposed, this);
            SyncWal();
            Volatile.Write(ref _syncedZxid, written);
        }
    }

    /// <summary>
    /// The logged txns with zxid greater than <paramref name="zxidExclusive"/>, in zxid order, each verified.
    /// </summary>
    /// <exception cref="StorageCorruptionException">Thrown when the enumeration reaches a bad record; every txn
    /// yielded before it is good, and the exception names the bad record's zxid and what is wrong.</exception>
    public IEnumerable<Txn> ReadFrom(Zxid zxidExclusive, AclCache? acls = null)
    {
        var location = Location;
        // A batch keyed by its last zxid holds a txn after zxidExclusive exactly when its key is greater.
        using var documents = _txns.Find(Query.GT("_id", zxidExclusive.Value)).GetEnumerator();
        var previous = zxidExclusive;
        while (true)
        {
            BsonDocument document;
            try
            {
                if (!documents.MoveNext())
                {
                    yield break;
                }

                document = documents.Current;
            }
            catch (Exception e) when (e is not (StorageCorruptionException or IOException or OutOfMemoryException))
            {
                // LiteDB reading a damaged page fails in many ways, not only with LiteException (a DecoderFallbackException for a bad string).
                throw new StorageCorruptionException(CorruptionKind.Undecodable, location, null, $"LiteDB failed reading after zxid {previous} ({e.GetType().Name}): {e.Message}", e);
            }

            var first = document[LogDocuments.FirstField];
            if (!first.IsInt64 || (previous > zxidExclusive && first.AsInt64 <= previous.Value))
            {
                throw new StorageCorruptionException(CorruptionKind.Undecodable, location, new Zxid(document["_id"].AsInt64), $"batch out of order: follows {previous}");
            }

            foreach (var txn in LogDocuments.Decode(document, new Zxid(first.AsInt64 - 1), location, acls, ReadParts))
            {
                if (txn.Zxid > zxidExclusive)
                {
                    yield return txn;
                }

                previous = txn.Zxid;
            }
        }
    }

    /// <summary>
    /// Removes every txn after <paramref name="zxid"/> (ZooKeeper's TRUNC, or cutting a corrupt tail) and makes the
    /// removal durable. Only the caller knows whether those txns may have been acknowledged.
    /// </summary>
    public int TruncateAfter(Zxid zxid)
    {
        lock (_writeLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var removed = 0;
                // The batch that straddles zxid keeps its entries up to zxid, under a new key; later batches go whole. The
            // entries after zxid are not decoded: they are what is being cut, possibly because they are corrupt.
            foreach (var document in _txns.Find(Query.GT("_id", zxid.Value)).ToList())
            {
                var batch = document[LogDocuments.RecordField].AsBinary;
                var keep = 0;
                Zxid keptLast = default;
                while (LogDocuments.EntrySize(batch, keep, out var key) is var size and > 0 && key <= zxid)
                {
                    keep += size;
                    keptLast = key;
                }

                removed += LogDocuments.CountEntries(batch, keep);
                _txns.Delete(document["_id"]);
                if (keep > 0)
                {
                    _txns.Insert(new BsonDocument { ["_id"] = keptLast.Value, [LogDocuments.FirstField] = document[LogDocuments.FirstField], [LogDocuments.RecordField] = batch[..keep] });
                }
            }

            _partsCollection.DeleteMany(Query.GT(LogDocuments.PartZxidField, zxid.Value));
            SyncWal();
            Volatile.Write(ref _lastZxid, _txns.FindOne(Query.All(Query.Descending))?["_id"].AsInt64 ?? 0);
            Volatile.Write(ref _syncedZxid, _lastZxid);
            return removed;
        }
    }

    /// <summary>
    /// Removes every txn at or before <paramref name="zxid"/>: the ones a retained snapshot already holds (autopurge).
    /// The last txn is kept whatever the zxid, so <see cref="LastZxid"/> survives a reopen.
    /// </summary>
    public int PurgeThrough(Zxid zxid)
    {
        lock (_writeLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            // Whole batches only: a batch whose last txn is covered goes; the newest batch always stays.
            var removed = _txns.DeleteMany(Query.And(Query.LTE("_id", zxid.Value), Query.LT("_id", _lastZxid)));
            if (_txns.FindOne(Query.All()) is { } oldest)
            {
                // Parts belong to the txn of their zxid: those before the oldest kept batch went with their batches.
                _partsCollection.DeleteMany(Query.LT(LogDocuments.PartZxidField, oldest[LogDocuments.FirstField]));
            }

            SyncWal();
            return removed;
        }
    }

    public void SetCurrentEpoch(long epoch) => WriteMeta("currentEpoch", epoch);

    public void SetAcceptedEpoch(long epoch) => WriteMeta("acceptedEpoch", epoch);

    /// <summary>Copies the WAL into the data file now (LiteDB does it by itself every 1000 pages, ~8 MB).</summary>
    public void Checkpoint()
    {
        lock (_writeLock)
        {
            _db.Checkpoint();
            SyncWal();
        }
    }

    public void Dispose()
    {
        lock (_writeLock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            try
            {
                _db.Dispose(); // LiteDB checkpoints on close; the shrink rule keeps that safe.
                _data.Sync();
                _wal.Sync();
            }
            catch (Exception e) when (e is IOException or LiteException or ObjectDisposedException)
            {
                // A log that could not be written (a full disk) cannot checkpoint either, and LiteDB may have closed
                // itself after the failed write. What was synced is on disk and the next open replays it; what was
                // not was never acknowledged. Stopping must not throw on top of the fault that stopped the peer.
            }
            finally
            {
                LiteDbTransactions.SuppressFinalizers(_engine);
                _wal.Dispose();
                _data.Dispose();
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
        {
            _disposed = true;
            LiteDbTransactions.SuppressFinalizers(_engine);
            _wal.Dispose();
            _data.Dispose();
        }
    }

    /// <summary>The parts of the external record of <paramref name="zxid"/>, in index order.</summary>
    private List<BsonDocument> ReadParts(Zxid zxid)
    {
        var parts = _partsCollection.Find(Query.EQ(LogDocuments.PartZxidField, zxid.Value)).ToList();
        parts.Sort(static (x, y) => x[LogDocuments.PartIndexField].CompareTo(y[LogDocuments.PartIndexField]));
        return parts;
    }

    private void SyncWal()
    {
        if (_options.ForceSync)
        {
            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            _wal.Sync();
            Telemetry.LogSyncs.Add(1);
            Telemetry.LogSyncDuration.Record(System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds);
        }
    }

    private long ReadMeta(string key) => _meta.FindById(key)?[ValueField].AsInt64 ?? 0;

    private void WriteMeta(string key, long value)
    {
        lock (_writeLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _meta.Upsert(new BsonDocument { ["_id"] = key, [ValueField] = value });

            // Epochs are promises to other peers (ZooKeeper writes them with an fsync'd atomic rename): always synced.
            _wal.Sync();
        }
    }
}
