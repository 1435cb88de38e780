using LiteDB;

namespace Zk.Embedded.Storage;

/// <summary>
/// The segments of one <see cref="TxnLog"/> in order, which of them are open, and their background checkpoints.
/// A sealed segment is open while it is checkpointed or read, and closed once neither is going on, so a long log
/// costs no memory or handles for its old segments.
/// </summary>
internal sealed class SegmentTable(string directory, TxnLogOptions options)
{
    private readonly object _lock = new();
    private readonly List<Entry> _entries = [];
    /// <summary>Reading a sealed segment writes nothing into it (not even LiteDB's checkpoint pragma).</summary>
    private readonly TxnLogOptions _readerOptions = options with { CheckpointPages = null };
    private bool _closed;

    /// <summary>One segment: its zxid range (fixed once sealed) and, while open, its <see cref="LogSegment"/>.</summary>
    internal sealed class Entry(int index)
    {
        public int Index { get; } = index;
        public long First { get; set; }
        public long Last { get; set; }
        public LogSegment? Open { get; set; }
        public int Readers { get; set; }
        public bool Active { get; set; }
        public bool Deleted { get; set; }
        public bool CheckpointDone { get; set; } = true;
        public Task Checkpointed { get; set; } = Task.CompletedTask;

        /// <summary>The active segment's range changes with each write; a sealed one's is fixed.</summary>
        public long LastZxid => Active && Open is { } open ? open.LastZxid : Last;

        public long FirstZxid => Active && Open is { } open ? open.FirstZxid : First;

        public bool MayHoldAfter(long zxid) => Active || Last > zxid;
    }

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _entries.Count;
            }
        }
    }

    /// <summary>The newest zxid in any segment, 0 when the log is empty.</summary>
    public long LastZxid
    {
        get
        {
            lock (_lock)
            {
                var last = 0L;
                foreach (var entry in _entries)
                {
                    last = Math.Max(last, entry.LastZxid);
                }

                return last;
            }
        }
    }

    public Task CheckpointsInFlight
    {
        get
        {
            lock (_lock)
            {
                return Task.WhenAll(_entries.Select(e => e.Checkpointed));
            }
        }
    }

    /// <summary>
    /// Opens every segment once to learn its range and epochs (sealed ones are closed again, or checkpointed first
    /// when a crash left their WAL full) and returns the newest, the active one. The epochs are the largest found.
    /// </summary>
    public LogSegment Open(out long currentEpoch, out long acceptedEpoch)
    {
        var indexes = SegmentFiles.List(directory);
        SegmentFiles.CleanUp(directory, indexes);
        if (indexes.Count == 0)
        {
            indexes.Add(0);
        }

        (currentEpoch, acceptedEpoch) = (0, 0);
        try
        {
            for (var i = 0; i < indexes.Count; i++)
            {
                var active = i == indexes.Count - 1;
                var segment = LogSegment.Open(directory, indexes[i], active ? options : _readerOptions);
                var entry = new Entry(indexes[i]) { First = segment.FirstZxid, Last = segment.LastZxid, Open = segment, Active = active };
                currentEpoch = Math.Max(currentEpoch, segment.CurrentEpoch);
                acceptedEpoch = Math.Max(acceptedEpoch, segment.AcceptedEpoch);
                lock (_lock)
                {
                    _entries.Add(entry);
                    if (!active && segment.WalBytes > 0 && options.BackgroundCheckpoints)
                    {
                        // A crash came before its checkpoint finished: do it now, as after a rotation.
                        StartCheckpoint(entry);
                    }
                    else
                    {
                        if (!active && options.BackgroundCheckpoints)
                        {
                            segment.TrimEmptyWal();
                        }

                        CloseIfIdle(entry);
                    }
                }
            }

            return _entries[^1].Open!;
        }
        catch
        {
            CloseAll(checkpoint: false);
            throw;
        }
    }

    public Entry[] Snapshot()
    {
        lock (_lock)
        {
            return [.. _entries];
        }
    }

    /// <summary>The entry's segment, opened if closed; stays open until <see cref="Release"/>.</summary>
    public LogSegment Acquire(Entry entry)
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_closed, this);
            entry.Open ??= LogSegment.Open(directory, entry.Index, _readerOptions);
            entry.Readers++;
            return entry.Open;
        }
    }

    public void Release(Entry entry)
    {
        lock (_lock)
        {
            entry.Readers--;
            CloseIfIdle(entry);
        }
    }

    /// <summary>The full active segment becomes sealed (its checkpoint starts in the background); <paramref name="next"/> becomes active.</summary>
    public void Seal(LogSegment full, LogSegment next)
    {
        lock (_lock)
        {
            var entry = _entries[^1];
            (entry.First, entry.Last, entry.Active) = (full.FirstZxid, full.LastZxid, false);
            _entries.Add(new Entry(next.Index) { Open = next, Active = true });
            StartCheckpoint(entry);
        }
    }

    /// <summary>
    /// Deletes every segment wholly after <paramref name="zxid"/>, newest first, and returns the one that holds it
    /// (or the oldest), now the active one, with the count of txns deleted. <paramref name="prepare"/> runs on that
    /// segment before anything is deleted.
    /// </summary>
    public (LogSegment Target, int Removed) DeleteAfter(long zxid, Action<LogSegment> prepare)
    {
        Entry target;
        Entry[] later;
        lock (_lock)
        {
            var at = 0;
            for (var i = _entries.Count - 1; i > 0; i--)
            {
                if (_entries[i].FirstZxid is var first and > 0 && first <= zxid)
                {
                    at = i;
                    break;
                }

                if (_entries[i].FirstZxid == 0 && _entries[i - 1].LastZxid is var before and > 0 && before <= zxid)
                {
                    at = i; // an empty segment (just rotated to) right after the zxid: keep writing there
                    break;
                }
            }

            target = _entries[at];
            later = [.. _entries.Skip(at + 1)];
        }

        var segment = Acquire(target);
        try
        {
            prepare(segment);
            var removed = 0;
            for (var i = later.Length - 1; i >= 0; i--)
            {
                removed += Delete(later[i]);
            }

            lock (_lock)
            {
                target.Active = true;
            }

            return (segment, removed);
        }
        finally
        {
            Release(target);
        }
    }

    /// <summary>
    /// Deletes sealed segments, oldest first, while every txn in them is at or before <paramref name="zxid"/>; never
    /// the active one, nor the one holding the log's last txn. Returns how many txns went.
    /// </summary>
    public int DeleteThrough(long zxid)
    {
        var removed = 0;
        while (true)
        {
            Entry oldest;
            lock (_lock)
            {
                oldest = _entries[0];
                if (oldest.Active || oldest.Last > zxid || _entries.Count < 2 || oldest.Last >= _entries.Max(e => e.LastZxid))
                {
                    return removed;
                }
            }

            removed += Delete(oldest);
        }
    }

    /// <summary>Closes every segment: the active one with LiteDB's close (a checkpoint) when asked, the rest without.</summary>
    public void CloseAll(bool checkpoint)
    {
        Task.WhenAll(Snapshot().Select(e => e.Checkpointed)).GetAwaiter().GetResult();
        lock (_lock)
        {
            _closed = true;
            foreach (var entry in _entries)
            {
                if (entry.Open is not { } segment)
                {
                    continue;
                }

                entry.Open = null;
                if (checkpoint && entry.Active)
                {
                    segment.Dispose();
                }
                else
                {
                    segment.CloseWithoutCheckpoint();
                }
            }
        }
    }

    /// <summary>Counts and deletes one segment's files; a reader still in it keeps its handles until it is done.</summary>
    private int Delete(Entry entry)
    {
        entry.Checkpointed.GetAwaiter().GetResult();
        var count = Acquire(entry).CountTxns();
        lock (_lock)
        {
            _entries.Remove(entry);
            (entry.Deleted, entry.Active) = (true, false);
            entry.Readers--;
            CloseIfIdle(entry);
        }

        SegmentFiles.Delete(directory, entry.Index);
        return count;
    }

    private void StartCheckpoint(Entry entry)
    {
        entry.CheckpointDone = false;
        entry.Checkpointed = Task.Run(() => Checkpoint(entry));
    }

    private void Checkpoint(Entry entry)
    {
        try
        {
            options.Hook?.Invoke(TxnLogOptions.HookCheckpointStart);
            entry.Open!.CheckpointSealed();
        }
        catch (Exception e) when (e is IOException or LiteException or ObjectDisposedException)
        {
            // The segment stays as it is: its WAL still holds everything and the next open checkpoints it again.
            return;
        }

        lock (_lock)
        {
            entry.CheckpointDone = true;
            CloseIfIdle(entry);
        }
    }

    private static void CloseIfIdle(Entry entry)
    {
        if (entry.Readers == 0 && !entry.Active && entry.CheckpointDone && entry.Open is { } segment)
        {
            // Checkpointed (or only read): nothing in its WAL needs LiteDB's close.
            entry.Open = null;
            segment.CloseWithoutCheckpoint();
        }
    }
}
