using Zk.Embedded.Tree;
using Zk.Embedded.Txns;

namespace Zk.Embedded.Storage;

/// <summary>
/// The txn log of one peer: every txn in zxid order, plus the consensus metadata ZooKeeper keeps beside it
/// (<c>currentEpoch</c>, <c>acceptedEpoch</c>), in a run of LiteDB databases (<see cref="LogSegment"/>s) in the
/// dataLogDir, as ZooKeeper keeps <c>log.N</c> files.
/// </summary>
/// <remarks>
/// <para><b>Segments.</b> Only the newest segment (the active one) is written. When its WAL passes
/// <see cref="TxnLogOptions.SegmentPages"/>, it is synced and sealed, the log moves to the next segment (created in
/// the background beforehand), and the sealed one is checkpointed (its WAL copied into its data file) by a background
/// task, then closed. So LiteDB's checkpoint, which holds up every write of its database, never runs on the active
/// segment's write path. Purge deletes whole sealed segments a snapshot covers; truncation (TRUNC) deletes whole
/// segments after the zxid, newest first, and cuts the one holding it, which becomes the active one again.</para>
/// <para><b>Epochs</b> are written to the active segment, and a new active segment gets them before the log moves
/// to it. Both only ever grow (ZAB), so an open takes the largest found in any segment: a crash between creating a
/// segment and writing them into it loses nothing.</para>
/// <para><b>Threads.</b> Writes (<see cref="Write"/>, truncation, purge, epochs) are serialized by a lock; the
/// pipeline writes from one thread. <see cref="Sync"/> runs on another thread at the same time: it syncs the active
/// segment, and every sealed segment was synced before the log left it. <see cref="ReadFrom"/> reads LiteDB
/// snapshots of each segment in turn.</para>
/// </remarks>
internal sealed class TxnLog : IDisposable
{
    /// <summary>The first segment's data file (also the whole log of a build before segments).</summary>
    public const string DataFileName = SegmentFiles.FirstDataFileName;

    /// <summary>The first segment's WAL.</summary>
    public const string WalFileName = SegmentFiles.FirstWalFileName;

    private readonly object _writeLock = new();
    private readonly object _syncLock = new();
    /// <summary>Serializes purge and truncation, which delete segments; purge does so without holding up writes.</summary>
    private readonly object _deleteLock = new();
    private readonly SegmentTable _segments;
    private readonly TxnLogOptions _options;
    private LogSegment _active;
    private Task<LogSegment>? _next;
    private long _lastZxid;
    private long _syncedZxid;
    private long _currentEpoch;
    private long _acceptedEpoch;
    private bool _disposed;

    private TxnLog(string directory, TxnLogOptions options)
    {
        Directory = directory;
        _options = options;
        System.IO.Directory.CreateDirectory(directory);
        _segments = new SegmentTable(directory, options);
        _active = _segments.Open(out var current, out var accepted);
        (_currentEpoch, _acceptedEpoch) = (current, accepted);
        try
        {
            if (options.BackgroundCheckpoints)
            {
                // A crash between creating the active segment and copying the epochs into it: copy them now.
                EnsureEpochs(_active);
            }
        }
        catch
        {
            _segments.CloseAll(checkpoint: false);
            throw;
        }

        _lastZxid = _segments.LastZxid;
        _syncedZxid = _lastZxid;
    }

    /// <summary>The dataLogDir this log lives in.</summary>
    public string Directory { get; }

    /// <summary>How corruption reports name this log ("txn log" and its first data file).</summary>
    public string Location => $"txn log {System.IO.Path.Combine(Directory, DataFileName)}";

    /// <summary>The zxid of the newest logged txn, 0 when the log is empty.</summary>
    public long LastZxid => Volatile.Read(ref _lastZxid);

    /// <summary>The zxid of the newest txn a sync has made durable (with forceSync off: one a sync would have).</summary>
    public long SyncedZxid => Volatile.Read(ref _syncedZxid);

    /// <summary>The WAL file the active segment is in now (it moves between two at each inline checkpoint).</summary>
    internal string WalPath => Volatile.Read(ref _active).WalPath;

    /// <summary>How many segments the log has now (tests).</summary>
    internal int SegmentCount => _segments.Count;

    /// <summary>Completes when no sealed segment is being checkpointed (tests).</summary>
    internal Task CheckpointsInFlight => _segments.CheckpointsInFlight;

    /// <summary>How many times the active segment's WAL was fsynced.</summary>
    public long WalSyncCount => Volatile.Read(ref _active).WalSyncCount;

    /// <summary>How many times the active segment's data file was fsynced.</summary>
    public long DataSyncCount => Volatile.Read(ref _active).DataSyncCount;

    /// <summary>ZooKeeper's <c>currentEpoch</c>: the epoch of the last NEWLEADER this peer acknowledged (0 when never set).</summary>
    public long CurrentEpoch => Volatile.Read(ref _currentEpoch);

    /// <summary>ZooKeeper's <c>acceptedEpoch</c>: the last epoch this peer accepted a proposal of (0 when never set).</summary>
    public long AcceptedEpoch => Volatile.Read(ref _acceptedEpoch);

    /// <summary>Opens (or creates) the log in <paramref name="dataLogDir"/>.</summary>
    /// <exception cref="IOException">The files are in use by another log (another peer on the same directory).</exception>
    public static TxnLog Open(string dataLogDir, TxnLogOptions? options = null) => new(dataLogDir, options ?? new TxnLogOptions());

    /// <summary>Whether <paramref name="dataLogDir"/> holds a txn log (any segment).</summary>
    public static bool Exists(string dataLogDir) => SegmentFiles.List(dataLogDir).Count > 0;

    /// <summary>Appends the batch and, with forceSync, syncs it: when this returns the txns survive a crash.</summary>
    /// <exception cref="InvalidOperationException">Zxids are not strictly increasing past <see cref="LastZxid"/>; nothing is written.</exception>
    public void Append(IReadOnlyList<Txn> txns)
    {
        Write(txns);
        Sync(LastZxid);
    }

    /// <summary>
    /// Appends the batch to the active segment in one LiteDB transaction, not yet synced: <see cref="Sync"/> makes
    /// it durable. Seals the segment when it is full. One writer at a time (the pipeline's preparing loop).
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
            // The active segment checks order within itself; a new one is empty, so the log's last is checked here.
            if (txns[0].Zxid <= _lastZxid)
            {
                throw new InvalidOperationException($"Txn zxid 0x{txns[0].Zxid:x} does not follow 0x{_lastZxid:x}; the log only grows in zxid order.");
            }

            _active.Write(txns);
            Volatile.Write(ref _lastZxid, _active.LastZxid);
            var full = (long)_options.SegmentPages * WalFile.PageSize;
            if (_active.WalBytes >= full && _options.BackgroundCheckpoints)
            {
                Rotate();
            }
            else if (_active.WalBytes >= full / 2 && _next is null && _options.BackgroundCheckpoints)
            {
                // Created off the write path (files, preallocation, syncs of the files and the directory).
                var index = _active.Index + 1;
                _next = Task.Run(() => CreateSegment(index));
            }
        }
    }

    /// <summary>
    /// Returns once every txn written up to <paramref name="zxid"/> is durable: one WAL sync of the active segment,
    /// unless a sync that started after that txn was written has finished already (group commit).
    /// </summary>
    public void Sync(long zxid)
    {
        if (Volatile.Read(ref _syncedZxid) >= zxid)
        {
            return;
        }

        lock (_syncLock)
        {
            if (_syncedZxid >= zxid)
            {
                return;
            }

            // Read before choosing the segment: a txn written by now is in the active segment read below, or in one
            // sealed since, which was synced before the log moved on.
            var written = Volatile.Read(ref _lastZxid);
            ObjectDisposedException.ThrowIf(_disposed, this);
            Volatile.Read(ref _active).SyncWritten();
            Volatile.Write(ref _syncedZxid, written);
        }
    }

    /// <summary>
    /// The logged txns with zxid greater than <paramref name="zxidExclusive"/>, in zxid order across segments, each
    /// verified.
    /// </summary>
    /// <exception cref="StorageCorruptionException">Thrown when the enumeration reaches a bad record; every txn
    /// yielded before it is good, and the exception names the bad record's zxid and what is wrong.</exception>
    public IEnumerable<Txn> ReadFrom(long zxidExclusive, AclCache? acls = null)
    {
        var previous = zxidExclusive;
        foreach (var entry in _segments.Snapshot())
        {
            if (!entry.MayHoldAfter(zxidExclusive))
            {
                continue;
            }

            var segment = _segments.Acquire(entry);
            try
            {
                foreach (var txn in segment.ReadFrom(zxidExclusive, acls))
                {
                    if (txn.Zxid <= previous)
                    {
                        throw new StorageCorruptionException(CorruptionKind.Undecodable, segment.Location, txn.Zxid, $"segment out of order: its txn 0x{txn.Zxid:x} follows 0x{previous:x} of an earlier segment");
                    }

                    previous = txn.Zxid;
                    yield return txn;
                }
            }
            finally
            {
                _segments.Release(entry);
            }
        }
    }

    /// <summary>
    /// Removes every txn after <paramref name="zxid"/> (ZooKeeper's TRUNC, or cutting a corrupt tail) and makes the
    /// removal durable: segments wholly after it are deleted, newest first, and the one holding it is cut and becomes
    /// the active segment. Only the caller knows whether those txns may have been acknowledged.
    /// </summary>
    public int TruncateAfter(long zxid)
    {
        lock (_deleteLock)
        lock (_writeLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            // Epochs go into the segment that stays before the newer ones (which may hold them) are deleted.
            var (target, removed) = _segments.DeleteAfter(zxid, EnsureEpochs);
            removed += target.TruncateAfter(zxid);
            Volatile.Write(ref _active, target);
            Volatile.Write(ref _lastZxid, _segments.LastZxid);
            Volatile.Write(ref _syncedZxid, _lastZxid);
            return removed;
        }
    }

    /// <summary>
    /// Removes txns at or before <paramref name="zxid"/>: the ones a retained snapshot already holds (autopurge).
    /// Whole sealed segments go, as ZooKeeper's PurgeTxnLog deletes whole log files; a log of one segment drops
    /// whole batches of it instead. The last txn is kept whatever the zxid, so <see cref="LastZxid"/> survives a reopen.
    /// </summary>
    /// <returns>How many txns were removed.</returns>
    public int PurgeThrough(long zxid)
    {
        lock (_deleteLock)
        {
            // Sealed segments only, so the writer goes on meanwhile (opening old segments to count them, deleting files).
            ObjectDisposedException.ThrowIf(_disposed, this);
            var removed = _segments.DeleteThrough(zxid);
            lock (_writeLock)
            {
                if (_segments.Count == 1)
                {
                    removed += _active.PurgeThrough(zxid);
                }
            }

            return removed;
        }
    }

    public void SetCurrentEpoch(long epoch)
    {
        lock (_writeLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _active.SetCurrentEpoch(epoch);
            Volatile.Write(ref _currentEpoch, epoch);
        }
    }

    public void SetAcceptedEpoch(long epoch)
    {
        lock (_writeLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _active.SetAcceptedEpoch(epoch);
            Volatile.Write(ref _acceptedEpoch, epoch);
        }
    }

    /// <summary>Copies the active segment's WAL into its data file now (tests of LiteDB's own checkpoint).</summary>
    public void Checkpoint()
    {
        lock (_writeLock)
        {
            _active.Checkpoint();
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
            DisposeNext(crash: false);
            _segments.CloseAll(checkpoint: true);
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
            DisposeNext(crash: true);
            _segments.CloseAll(checkpoint: false);
        }
    }

    /// <summary>
    /// Seals the full active segment and moves the log to the next one. On the write path, so it does little: one
    /// WAL sync of the full segment (so <see cref="Sync"/> need only ever sync the active one), epochs into the next
    /// segment when they changed since it was made, and the swap. The checkpoint runs in the background.
    /// </summary>
    private void Rotate()
    {
        var full = _active;
        full.SyncWritten();
        var next = _next is { } pending ? pending.GetAwaiter().GetResult() : CreateSegment(full.Index + 1);
        _next = null;
        EnsureEpochs(next);
        _options.Hook?.Invoke(TxnLogOptions.HookRotation);
        _segments.Seal(full, next);
        Volatile.Write(ref _active, next);
    }

    private LogSegment CreateSegment(int index)
    {
        var segment = LogSegment.Open(Directory, index, _options);
        try
        {
            EnsureEpochs(segment);
            // Room for the whole segment and a batch past it: the writer never grows the file.
            segment.PreallocateWal(_options.SegmentPages + 256);
            return segment;
        }
        catch
        {
            segment.CloseWithoutCheckpoint();
            throw;
        }
    }

    /// <summary>Writes the log's epochs into <paramref name="segment"/> where it holds smaller ones (synced).</summary>
    private void EnsureEpochs(LogSegment segment)
    {
        var (current, accepted) = (Volatile.Read(ref _currentEpoch), Volatile.Read(ref _acceptedEpoch));
        if (segment.CurrentEpoch < current)
        {
            segment.SetCurrentEpoch(current);
        }

        if (segment.AcceptedEpoch < accepted)
        {
            segment.SetAcceptedEpoch(accepted);
        }
    }

    /// <summary>Closes a segment made ahead of need: it stays on disk, empty, and the next open uses it as the active one.</summary>
    private void DisposeNext(bool crash)
    {
        if (_next is not { } pending)
        {
            return;
        }

        _next = null;
        try
        {
            var next = pending.GetAwaiter().GetResult();
            if (crash)
            {
                next.CloseWithoutCheckpoint();
            }
            else
            {
                next.Dispose();
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
        {
            // Making it failed: nothing of it is in use, and the next rotation makes it again.
        }
    }
}
