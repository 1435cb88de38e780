using System.Buffers;
using LiteDB;
using LiteDB.Engine;
using Zk.Embedded.Processing;
using Zk.Embedded.Tree;

namespace Zk.Embedded.Storage;

/// <summary>Options of a <see cref="TxnLog"/>; defaults as in zoo.cfg.</summary>
internal sealed record TxnLogOptions
{
    /// <summary>zoo.cfg <c>forceSync</c>: fsync each batch before it is acknowledged. Off only for tests and benchmarks.</summary>
    public bool ForceSync { get; init; } = true;

    /// <summary>Sees every sync and shrink of the log's files, in order (tests).</summary>
    public Action<FileEvent>? Observer { get; init; }
}

/// <summary>
/// The txn log of one peer: every txn in zxid order, plus the consensus metadata ZooKeeper keeps beside it
/// (<c>currentEpoch</c>, <c>acceptedEpoch</c>), in one LiteDB database in the dataLogDir.
/// </summary>
/// <remarks>
/// <para><b>Layout.</b> <c>txnlog.db</c> is LiteDB's data file and <c>txnlog-wal.db</c> its write-ahead log.
/// Collection <c>txns</c> holds one document per txn, <c>{ _id: zxid (Int64), r: record }</c>, the record being
/// <see cref="TxnCodec"/>'s checksummed bytes; the primary index on <c>_id</c> keeps zxid order. Collection
/// <c>meta</c> holds <c>{ _id: "currentEpoch" | "acceptedEpoch", v: Int64 }</c>.</para>
/// <para><b>Durability.</b> LiteDB 5.0.x commits a transaction by writing its pages to the end of the WAL file,
/// the last page marked confirmed, and never fsyncs (issue #2818). The data file is written only by a checkpoint,
/// which copies confirmed WAL pages into it and then empties the WAL. So after each batch (one LiteDB
/// transaction) this class fsyncs the WAL file once: from then on the batch survives a crash, because on open
/// LiteDB replays every confirmed transaction in the WAL. The data file needs no fsync per batch; it is fsynced
/// by <see cref="DurableFile"/> whenever LiteDB flushes it (end of a checkpoint) and, regardless, just before the
/// WAL is cut shorter, so WAL pages are only dropped once their copies in the data file are durable.
/// Both files are opened here, exclusively, and handed to LiteDB as streams; that is what lets us fsync them.</para>
/// <para><b>Threads.</b> Writes (<see cref="Append"/>, truncation, epochs) are serialized by a lock; the pipeline
/// calls <see cref="CommitAsync"/> from one thread anyway. <see cref="ReadFrom"/> reads a LiteDB snapshot.</para>
/// </remarks>
internal sealed class TxnLog : ITxnSink, IDisposable
{
    public const string DataFileName = "txnlog.db";
    public const string WalFileName = "txnlog-wal.db";

    private const string TxnCollection = "txns";
    private const string MetaCollection = "meta";
    private const string RecordField = "r";
    private const string ValueField = "v";

    private readonly object _writeLock = new();
    private readonly ArrayBufferWriter<byte> _scratch = new(1024);
    private readonly DurableFile _data;
    private readonly DurableFile _wal;
    private readonly LiteDatabase _db;
    private readonly ILiteCollection<BsonDocument> _txns;
    private readonly ILiteCollection<BsonDocument> _meta;
    private readonly TxnLogOptions _options;
    private long _lastZxid;
    private bool _disposed;

    private TxnLog(string directory, TxnLogOptions options)
    {
        Directory = directory;
        _options = options;
        System.IO.Directory.CreateDirectory(directory);
        _data = new DurableFile(System.IO.Path.Combine(directory, DataFileName), "data", options.Observer);
        try
        {
            _wal = new DurableFile(System.IO.Path.Combine(directory, WalFileName), "wal", options.Observer);
        }
        catch
        {
            _data.Dispose();
            throw;
        }

        _wal.BeforeShrink = _data.Sync;
        try
        {
            var engine = new LiteEngine(new EngineSettings { DataStream = _data, LogStream = _wal });
            _db = new LiteDatabase(engine, disposeOnClose: true);
            _txns = _db.GetCollection(TxnCollection, BsonAutoId.Int64);
            _meta = _db.GetCollection(MetaCollection, BsonAutoId.Int64);
            if (_data.Created || _wal.Created)
            {
                // A new file's directory entry is the directory's metadata: without this a crash could lose the file.
                _data.Sync();
                _wal.Sync();
                DirectorySync.Sync(directory);
            }

            _lastZxid = _txns.FindOne(Query.All(Query.Descending))?["_id"].AsInt64 ?? 0;
        }
        catch
        {
            _db?.Dispose();
            _wal.Dispose();
            _data.Dispose();
            throw;
        }
    }

    /// <summary>The dataLogDir this log lives in.</summary>
    public string Directory { get; }

    /// <summary>The zxid of the newest logged txn, 0 when the log is empty.</summary>
    public long LastZxid => Volatile.Read(ref _lastZxid);

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

    /// <summary>
    /// Appends the batch in one LiteDB transaction and, with forceSync, fsyncs it before returning: when this
    /// completes the txns survive a crash. Runs synchronously on the caller's thread (the pipeline's own).
    /// </summary>
    public ValueTask CommitAsync(IReadOnlyList<Txn> txns, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        Append(txns);
        return ValueTask.CompletedTask;
    }

    /// <summary>The synchronous form of <see cref="CommitAsync"/>.</summary>
    /// <exception cref="InvalidOperationException">Zxids are not strictly increasing past <see cref="LastZxid"/>; nothing is written.</exception>
    public void Append(IReadOnlyList<Txn> txns)
    {
        if (txns.Count == 0)
        {
            return;
        }

        lock (_writeLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var docs = new BsonDocument[txns.Count];
            var previous = _lastZxid;
            for (var i = 0; i < txns.Count; i++)
            {
                var txn = txns[i];
                if (txn.Zxid <= previous)
                {
                    throw new InvalidOperationException($"Txn zxid 0x{txn.Zxid:x} does not follow 0x{previous:x}; the log only grows in zxid order.");
                }

                previous = txn.Zxid;
                docs[i] = new BsonDocument { ["_id"] = txn.Zxid, [RecordField] = TxnCodec.Encode(txn, _scratch) };
            }

            // Insert(IEnumerable) is one LiteDB transaction: the whole batch commits (or not) together.
            _txns.Insert(docs);
            SyncWal();
            Volatile.Write(ref _lastZxid, previous);
        }
    }

    /// <summary>
    /// The logged txns with zxid greater than <paramref name="zxidExclusive"/>, in zxid order, each verified.
    /// </summary>
    /// <exception cref="StorageCorruptionException">Thrown when the enumeration reaches a bad record; every txn
    /// yielded before it is good, and the exception names the bad record's zxid and what is wrong.</exception>
    public IEnumerable<Txn> ReadFrom(long zxidExclusive, AclCache? acls = null)
    {
        var location = $"txn log {System.IO.Path.Combine(Directory, DataFileName)}";
        using var documents = _txns.Find(Query.GT("_id", zxidExclusive)).GetEnumerator();
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
            catch (LiteException e)
            {
                throw new StorageCorruptionException(CorruptionKind.Undecodable, location, null, $"LiteDB failed reading after zxid 0x{previous:x}: {e.Message}", e);
            }

            yield return DecodeDocument(document, previous, location, acls);
            previous = document["_id"].AsInt64;
        }
    }

    /// <summary>
    /// Removes every txn after <paramref name="zxid"/> (ZooKeeper's TRUNC, or cutting a corrupt tail) and makes the
    /// removal durable. Only the caller knows whether those txns may have been acknowledged.
    /// </summary>
    public int TruncateAfter(long zxid)
    {
        lock (_writeLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var removed = _txns.DeleteMany(Query.GT("_id", zxid));
            SyncWal();
            Volatile.Write(ref _lastZxid, _txns.FindOne(Query.All(Query.Descending))?["_id"].AsInt64 ?? 0);
            return removed;
        }
    }

    /// <summary>
    /// Removes every txn at or before <paramref name="zxid"/>: the ones a retained snapshot already holds (autopurge).
    /// The last txn is kept whatever the zxid, so <see cref="LastZxid"/> survives a reopen.
    /// </summary>
    public int PurgeThrough(long zxid)
    {
        lock (_writeLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var removed = _txns.DeleteMany(Query.And(Query.LTE("_id", zxid), Query.LT("_id", _lastZxid)));
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
            _db.Dispose(); // LiteDB checkpoints on close; the shrink rule keeps that safe.
            _data.Sync();
            _wal.Sync();
            _wal.Dispose();
            _data.Dispose();
        }
    }

    /// <summary>
    /// Closes the files as a killed process would: no LiteDB close, no checkpoint, nothing flushed beyond what
    /// commits already synced. For tests of recovery from the WAL; the instance is unusable afterwards.
    /// </summary>
    internal void CloseLikeACrash()
    {
        lock (_writeLock)
        {
            _disposed = true;
            _wal.Dispose();
            _data.Dispose();
        }
    }

    private Txn DecodeDocument(BsonDocument document, long previous, string location, AclCache? acls)
    {
        var id = document["_id"];
        if (!id.IsInt64)
        {
            throw new StorageCorruptionException(CorruptionKind.Undecodable, location, null, $"document after zxid 0x{previous:x} has key {id} ({id.Type}), not an Int64 zxid");
        }

        var zxid = id.AsInt64;
        if (zxid <= previous)
        {
            throw new StorageCorruptionException(CorruptionKind.Undecodable, location, zxid, $"out of order: follows 0x{previous:x}");
        }

        var record = document[RecordField];
        if (!record.IsBinary)
        {
            throw new StorageCorruptionException(CorruptionKind.Undecodable, location, zxid, $"field '{RecordField}' is {record.Type}, not Binary");
        }

        return TxnCodec.Decode(record.AsBinary, zxid, location, acls);
    }

    private void SyncWal()
    {
        if (_options.ForceSync)
        {
            _wal.Sync();
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
