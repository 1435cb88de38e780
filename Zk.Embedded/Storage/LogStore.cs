using LiteDB;
using LiteDB.Engine;
using Zk.Embedded.Txns;

namespace Zk.Embedded.Storage;

/// <summary>
/// One of the two LiteDB databases a <see cref="TxnLog"/> writes by turns: a data file, its write-ahead log, the
/// batches of txns the log put here, and the epochs written while it was the active one.
/// </summary>
/// <remarks>
/// <para><b>Layout.</b> LiteDB's data file and its write-ahead log (<see cref="WalFile"/>, kept preallocated; the log
/// moves between its two files at each checkpoint). Collection <c>txns</c> holds one document per pipeline batch,
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
/// <para><b>Threads.</b> The owning <see cref="TxnLog"/> serializes writes; a checkpoint may run on another thread
/// (LiteDB holds its exclusive lock meanwhile, so a write or read of this store waits for it), and a WAL sync may run
/// while pages are appended (it covers at least what was written before it started).</para>
/// </remarks>
internal sealed class LogStore : IDisposable
{
    private const string MetaCollection = "meta";
    private const string ValueField = "v";

    /// <summary>Record bytes after which <see cref="BatchesAfter"/> ends its LiteDB query and starts the next.</summary>
    private const int BytesPerQuery = 1 << 20;

    private readonly DurableFile _data;
    private readonly WalFile _wal;
    private readonly LiteEngine _engine;
    private readonly LiteDatabase _db;
    private readonly ILiteCollection<BsonDocument> _txns;
    private readonly ILiteCollection<BsonDocument> _partsCollection;
    private readonly ILiteCollection<BsonDocument> _meta;
    private readonly bool _forceSync;
    private long _lastId;
    private long _firstId;
    private volatile bool _inBackgroundCheckpoint;

    private LogStore(string directory, string dataFileName, string walFileName, TxnLogOptions options, int? checkpointPragma)
    {
        System.IO.Directory.CreateDirectory(directory);
        DataPath = System.IO.Path.Combine(directory, dataFileName);
        _forceSync = options.ForceSync;
        _data = new DurableFile(DataPath, "data", options.Observer, syncInPieces: options.ForceSync);
        try
        {
            _wal = new WalFile(System.IO.Path.Combine(directory, walFileName), options.Observer);
        }
        catch
        {
            _data.Dispose();
            throw;
        }

        _wal.BeforeShrink = () =>
        {
            _data.Sync();
            // Test hook: a background checkpoint's data file is synced, the WAL still holds the log (a crash here replays it).
            if (_inBackgroundCheckpoint)
            {
                options.Hook?.Invoke(TxnLogOptions.HookCheckpointBeforeShrink);
            }
        };
        try
        {
            _engine = new LiteEngine(new EngineSettings { DataStream = _data, LogStream = _wal });
            _db = new LiteDatabase(_engine, disposeOnClose: true);
            if (checkpointPragma is { } pages && _db.CheckpointSize != pages)
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

            ReadBounds();

            // What a killed process left may still be only in the page cache: make it durable before it counts as synced.
            _data.Sync();
            _wal.Sync();
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

    /// <summary>The data file's path.</summary>
    public string DataPath { get; }

    /// <summary>How corruption reports name this store ("txn log" and its data file).</summary>
    public string Location => $"txn log {DataPath}";

    /// <summary>The key (last zxid) of the newest batch here, 0 when empty.</summary>
    public long LastId => Volatile.Read(ref _lastId);

    /// <summary>The key (last zxid) of the oldest batch here, 0 when empty.</summary>
    public long FirstId => Volatile.Read(ref _firstId);

    /// <summary>LiteDB pages in the WAL: what a checkpoint would copy into the data file.</summary>
    public long WalPages => _wal.Length / WalFile.PageSize;

    /// <summary>The WAL file the store's log is in now (it moves between two at each checkpoint).</summary>
    public string WalPath => _wal.LivePath;

    public long WalSyncCount => _wal.SyncCount;

    public long DataSyncCount => _data.SyncCount;

    /// <summary>Opens (or creates) the store whose files are named <paramref name="dataFileName"/> and <paramref name="walFileName"/>.</summary>
    /// <param name="checkpointPragma">LiteDB's own checkpoint trigger in WAL pages, written into the file when it differs; null leaves the file's.</param>
    /// <exception cref="IOException">The files are in use (another peer on the same directory).</exception>
    public static LogStore Open(string directory, string dataFileName, string walFileName, TxnLogOptions options, int? checkpointPragma) =>
        new(directory, dataFileName, walFileName, options, checkpointPragma);

    /// <summary>Inserts a batch's documents (and the parts of records too large for one) in one LiteDB transaction, not synced.</summary>
    public void Insert(List<BsonDocument> documents, List<BsonDocument> parts)
    {
        if (documents.Count == 1 && parts.Count == 0)
        {
            // Usually one document: LiteDB's cost is per document and index entry, so a batch costs one insert.
            _txns.Insert(documents[0]);
        }
        else
        {
            InTransaction(() =>
            {
                if (parts.Count > 0)
                {
                    _partsCollection.EnsureIndex(LogDocuments.PartZxidField);
                    _partsCollection.Insert(parts);
                }

                _txns.Insert(documents);
            });
        }

        // The log appends in zxid order: only an empty store's oldest batch changes.
        if (_firstId == 0)
        {
            Volatile.Write(ref _firstId, documents[0]["_id"].AsInt64);
        }

        Volatile.Write(ref _lastId, documents[^1]["_id"].AsInt64);
    }

    /// <summary>Forces the WAL to disk (with forceSync; without it, nothing).</summary>
    public void SyncWal()
    {
        if (_forceSync)
        {
            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            _wal.Sync();
            Telemetry.LogSyncs.Add(1);
            Telemetry.LogSyncDuration.Record(System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds);
        }
    }

    /// <summary>
    /// The batches with a key (last zxid) greater than <paramref name="zxidExclusive"/>, in key order. LiteDB failing
    /// to read one is a <see cref="StorageCorruptionException"/> naming this store.
    /// </summary>
    public IEnumerable<BsonDocument> BatchesAfter(long zxidExclusive)
    {
        // A query per ~BytesPerQuery of records: a LiteDB read transaction holds every page it has read until it
        // ends, and LiteDB's page cache grows to hold them and never shrinks, so one query over a long log tail
        // left ~30 MB of cache behind a 100,000-znode recovery (and cost its page faults).
        var previous = zxidExclusive;
        while (true)
        {
            var read = 0;
            using (var documents = _txns.Find(Query.GT("_id", previous)).GetEnumerator())
            {
                while (read < BytesPerQuery)
                {
                    try
                    {
                        if (!documents.MoveNext())
                        {
                            break;
                        }
                    }
                    catch (Exception e) when (e is not (StorageCorruptionException or IOException or OutOfMemoryException))
                    {
                        // LiteDB reading a damaged page fails in many ways, not only with LiteException (a DecoderFallbackException for a bad string).
                        throw new StorageCorruptionException(CorruptionKind.Undecodable, Location, null, $"LiteDB failed reading after zxid 0x{previous:x} ({e.GetType().Name}): {e.Message}", e);
                    }

                    previous = documents.Current["_id"].AsInt64;
                    read += documents.Current[LogDocuments.RecordField] is { IsBinary: true } records ? records.AsBinary.Length : 1;
                    yield return documents.Current;
                }
            }

            if (read < BytesPerQuery)
            {
                yield break;
            }
        }
    }

    /// <summary>The parts of the external record of <paramref name="zxid"/>, in index order.</summary>
    public List<BsonDocument> ReadParts(long zxid)
    {
        var parts = _partsCollection.Find(Query.EQ(LogDocuments.PartZxidField, zxid)).ToList();
        parts.Sort(static (x, y) => x[LogDocuments.PartIndexField].CompareTo(y[LogDocuments.PartIndexField]));
        return parts;
    }

    /// <summary>
    /// Removes every txn here after <paramref name="zxid"/> in one LiteDB transaction (a crash leaves all of them or
    /// none) and syncs. Returns how many txns went.
    /// </summary>
    public int TruncateAfter(long zxid)
    {
        var removed = 0;
        InTransaction(() =>
        {
            // The batch that straddles zxid keeps its entries up to zxid, under a new key; later batches go whole. The
            // entries after zxid are not decoded: they are what is being cut, possibly because they are corrupt.
            foreach (var document in _txns.Find(Query.GT("_id", zxid)).ToList())
            {
                var batch = document[LogDocuments.RecordField].AsBinary;
                var keep = 0;
                Zk.Embedded.Api.Zxid keptLast = default;
                while (LogDocuments.EntrySize(batch, keep, out var key) is var size and > 0 && key.Value <= zxid)
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

            _partsCollection.DeleteMany(Query.GT(LogDocuments.PartZxidField, zxid));
        });
        SyncWal();
        ReadBounds();
        return removed;
    }

    /// <summary>
    /// Removes every batch whose key (last zxid) is at or before <paramref name="zxid"/>, the oldest
    /// <paramref name="maxBatches"/> of them at most, in one transaction, and syncs. Returns how many batches went.
    /// </summary>
    public int DeleteThrough(long zxid, int maxBatches = int.MaxValue)
    {
        if (maxBatches != int.MaxValue && _txns.Find(Query.LTE("_id", zxid), skip: maxBatches - 1, limit: 1).FirstOrDefault() is { } last)
            zxid = last["_id"].AsInt64;
        var removed = _txns.DeleteMany(Query.LTE("_id", zxid));
        SyncWal();
        ReadBounds();
        return removed;
    }

    /// <summary>Removes the parts of records before <paramref name="zxid"/> (their batches are gone) and syncs when there were any.</summary>
    public void DeletePartsBefore(long zxid)
    {
        if (_partsCollection.DeleteMany(Query.LT(LogDocuments.PartZxidField, zxid)) > 0)
        {
            SyncWal();
        }
    }

    /// <summary>The first zxid of the oldest batch here, 0 when empty.</summary>
    public long OldestTxn() => _txns.FindOne(Query.All())?[LogDocuments.FirstField].AsInt64 ?? 0;

    public long ReadMeta(string key) => _meta.FindById(key)?[ValueField].AsInt64 ?? 0;

    /// <summary>Writes an epoch, always synced: epochs are promises to other peers (ZooKeeper fsyncs its epoch files).</summary>
    public void WriteMeta(string key, long value)
    {
        _meta.Upsert(new BsonDocument { ["_id"] = key, [ValueField] = value });
        _wal.Sync();
    }

    /// <summary>Copies the WAL into the data file, syncs it, and empties the WAL (LiteDB's checkpoint).</summary>
    public void Checkpoint() => _db.Checkpoint();

    /// <summary><see cref="Checkpoint"/> on the log's background thread (test hooks tell the two apart).</summary>
    public void CheckpointInBackground()
    {
        _inBackgroundCheckpoint = true;
        try
        {
            _db.Checkpoint();
        }
        finally
        {
            _inBackgroundCheckpoint = false;
        }
    }

    /// <summary>Closes LiteDB, which checkpoints, then syncs and closes the files; never throws for a store that failed already.</summary>
    public void Dispose()
    {
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

    /// <summary>
    /// Closes the files without closing LiteDB, whose close would checkpoint the WAL into the data file: a reader
    /// leaves the files as it found them, and a test closes them as a killed process would.
    /// </summary>
    public void CloseWithoutCheckpoint()
    {
        LiteDbTransactions.SuppressFinalizers(_engine);
        _wal.Dispose();
        _data.Dispose();
    }

    private void ReadBounds()
    {
        Volatile.Write(ref _lastId, _txns.FindOne(Query.All(Query.Descending))?["_id"].AsInt64 ?? 0);
        Volatile.Write(ref _firstId, _txns.FindOne(Query.All())?["_id"].AsInt64 ?? 0);
    }

    /// <summary>Runs <paramref name="work"/> in one LiteDB transaction: a crash leaves all of it or none.</summary>
    private void InTransaction(Action work)
    {
        _db.BeginTrans();
        try
        {
            work();
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
                // The first failure is the one to report; the log is unusable either way.
            }

            throw;
        }
    }
}
