using System.Runtime.InteropServices;

namespace Zk.Embedded.Storage;

/// <summary>Something that happened to a file storage owns; tests observe the order of syncs and shrinks.</summary>
internal readonly record struct FileEvent(string File, FileEventKind Kind);

internal enum FileEventKind
{
    /// <summary>The file's data and metadata were forced to stable storage (fsync).</summary>
    Sync,

    /// <summary>The file was cut shorter (LiteDB clearing its WAL after a checkpoint).</summary>
    Shrink,
}

/// <summary>
/// The txn log's LiteDB data file, so that durability is decided here rather than inside LiteDB 5.0.x (which never
/// fsyncs a commit, issue #2818). Three rules:
/// <list type="bullet">
/// <item><see cref="Sync"/> is <c>fsync(2)</c> on Unix (data and size) and <c>FlushFileBuffers</c> on Windows.</item>
/// <item><see cref="GatheredFile.Flush()"/> also syncs. LiteDB flushes a stream only where it means "on disk": after
/// writing a new file's header and after copying WAL pages into the data file in a checkpoint. Over a stream it did
/// not open itself LiteDB can only call <c>Flush()</c>, so without this its checkpoint would not reach the disk.</item>
/// <item>Before the file is cut shorter, <see cref="GatheredFile.BeforeShrink"/> runs.</item>
/// </list>
/// <para>Zeros ahead: a background task keeps the file extended with written, synced zeros past LiteDB's highest
/// page, so a checkpoint overwrites allocated blocks instead of growing the file: on ext4 a sync of 8 MB of new
/// pages costs ~5 ms growing and ~1.3 ms overwriting, and the checkpoint holds up every write meanwhile. LiteDB
/// reads trailing blank pages as unused (its own <c>InitialSize</c> option makes the same kind of file).</para>
/// </summary>
internal sealed class DurableFile : GatheredFile
{
    /// <summary>A checkpoint's contiguous pages up to this size reach the file in one write.</summary>
    private const int GatherBytes = 1 << 20;

    /// <summary>Zeros are kept ahead by about the file's size, within these bounds (small files stay small).</summary>
    private const long ZeroAheadMinBytes = 1 << 20;
    private const long ZeroAheadMaxBytes = 16 << 20;
    private const int ZeroChunkBytes = 1 << 20;

    /// <summary>A checkpoint's writes are synced every this many distinct pages, 512 KiB (see <see cref="Write"/>).</summary>
    private const int CheckpointSyncPages = 64;

    /// <summary>Zeros are synced every this many bytes: a checkpoint's own sync then never queues behind a long one.</summary>
    private const long ZeroSyncBytes = 4 << 20;

    private readonly Action<FileEvent>? _observer;
    private readonly bool _syncInPieces;
    private readonly PageWriteBack _pending = new(WalFile.PageSize, CheckpointSyncPages);
    private long _length;
    private long _writtenEnd;
    private long _zeroedTo;
    private readonly object _syncGate = new();
    private bool _closing;

    /// <summary>Written or resized since the last sync began (a new file counts: its directory entry is new).</summary>
    private bool _unsynced = true;
    private Task _zeroing = Task.CompletedTask;

    /// <param name="syncInPieces">
    /// sync a checkpoint's writes every <see cref="CheckpointSyncPages"/> distinct pages: only worth it when WAL syncs wait on the
    /// same disk (forceSync); without them the pieces only make the checkpoint slower.
    /// </param>
    public DurableFile(string path, string role, Action<FileEvent>? observer, bool syncInPieces = true)
        : base(path, GatherBytes)
    {
        Role = role;
        _observer = observer;
        _syncInPieces = syncInPieces;
        _length = RandomAccess.GetLength(Handle);
        _writtenEnd = _length;
        _zeroedTo = _length;
    }

    /// <summary>What the file is for ("data"), used in events and messages.</summary>
    public string Role { get; }

    /// <summary>The background extension with zeros, if one is running (tests).</summary>
    internal Task ZeroingAhead
    {
        get
        {
            lock (Gate)
            {
                return _zeroing;
            }
        }
    }

    public override long Length => _length;

    /// <summary>Forces the file's written bytes and its length to stable storage.</summary>
    /// <remarks>
    /// A sync with nothing written since the last one returns at once. A checkpoint asks twice in a row (LiteDB's
    /// own flush after copying the pages, then <see cref="GatheredFile.BeforeShrink"/> before the WAL is emptied),
    /// and the second fsync cost ~1.4 ms here: it waited on the zeros the background had written ahead meanwhile.
    /// </remarks>
    public override void Sync()
    {
        lock (_syncGate)
        {
            lock (Gate)
            {
                DrainLocked();
                if (!_unsynced)
                {
                    return;
                }

                _unsynced = false;
            }

            // A second caller waits on _syncGate for this fsync, then finds nothing left to sync.
            RandomAccess.FlushToDisk(Handle);
            CountSync();
            _observer?.Invoke(new FileEvent(Role, FileEventKind.Sync));
        }
    }

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        var pieceFull = false;
        lock (Gate)
        {
            _unsynced = true;
            var offset = Position;
            if (!_pending.IsPage(offset, buffer))
            {
                DrainLocked();
                WriteAtPosition(buffer);
            }
            else
            {
                if (!_pending.TryWrite(offset, buffer))
                {
                    GatherLocked(_pending);
                    pieceFull = _syncInPieces;
                    if (!_pending.TryWrite(offset, buffer))
                    {
                        WriteAt(offset, buffer); // closed: the handle reports it
                    }
                }

                Position = offset + buffer.Length;
            }

            _length = Math.Max(_length, Position);
            _writtenEnd = Math.Max(_writtenEnd, Position);
            var ahead = Math.Clamp(_writtenEnd, ZeroAheadMinBytes, ZeroAheadMaxBytes);
            if (_zeroedTo - _writtenEnd < ahead / 2 && _zeroing.IsCompleted && !_closing)
            {
                var target = _writtenEnd + ahead;
                _zeroing = DiskWork.Start(() => ZeroAhead(target));
            }
        }

        if (pieceFull)
        {
            // A checkpoint's writes reach the disk a piece at a time: a WAL sync then queues behind one piece at
            // most, not behind the whole checkpoint at its final sync (the 64-writer tail, docs/storage.md).
            SyncPiece();
        }
    }

    /// <summary>Under <see cref="GatheredFile.Gate"/>: writes the held pages, then what is gathered.</summary>
    protected override void DrainLocked()
    {
        GatherLocked(_pending);
        DrainGatheredLocked();
    }

    protected override void ReleaseBuffers() => _pending.Release();

    /// <summary>Syncs the piece just written; the page that did not fit it stays held for the next.</summary>
    private void SyncPiece()
    {
        lock (_syncGate)
        {
            lock (Gate)
            {
                DrainGatheredLocked();
            }

            RandomAccess.FlushToDisk(Handle);
            CountSync();
            _observer?.Invoke(new FileEvent(Role, FileEventKind.Sync));
        }
    }

    public override void SetLength(long value)
    {
        lock (Gate)
        {
            DrainLocked();
            if (value < _length)
            {
                BeforeShrink?.Invoke();
                _observer?.Invoke(new FileEvent(Role, FileEventKind.Shrink));
            }

            RandomAccess.SetLength(Handle, value);
            _unsynced = true;
            _length = value;
            _writtenEnd = Math.Min(_writtenEnd, value);
            _zeroedTo = Math.Min(_zeroedTo, value);
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            Task zeroing;
            lock (Gate)
            {
                _closing = true;
                zeroing = _zeroing;
            }

            try
            {
                // Waited for, not abandoned: it writes through the handle the base disposes.
                zeroing.GetAwaiter().GetResult();
            }
            catch (IOException)
            {
                // Zeros ahead that could not be written (a full disk): nothing of LiteDB's is in them.
            }
        }

        base.Dispose(disposing);
    }

    /// <summary>
    /// Extends the file with zeros up to <paramref name="target"/>, a chunk at a time under the lock and always past
    /// what LiteDB wrote (so zeros never land on a page, and a page written later lands on zeros), then syncs them.
    /// </summary>
    private void ZeroAhead(long target)
    {
        try
        {
            var unsynced = 0L;
            while (true)
            {
                lock (Gate)
                {
                    var from = Math.Max(_zeroedTo, _writtenEnd);
                    if (_closing || from >= target)
                    {
                        break;
                    }

                    var to = Math.Min(from + ZeroChunkBytes, target);
                    WriteZeros(from, to);
                    _length = Math.Max(_length, to);
                    _zeroedTo = to;
                    unsynced += to - from;
                }

                if (unsynced >= ZeroSyncBytes)
                {
                    // A sync of new blocks is the slow kind; paying it here, off the write path, is the point.
                    RandomAccess.FlushToDisk(Handle);
                    unsynced = 0;
                }
            }

            if (unsynced > 0)
            {
                RandomAccess.FlushToDisk(Handle);
            }
        }
        catch (IOException)
        {
            // Zeros ahead only make checkpoints cheaper; without them (a full disk, say) the file grows as LiteDB
            // writes, and LiteDB's own write reports the real error.
            lock (Gate)
            {
                _closing = true;
            }
        }
    }
}

/// <summary>
/// fsync of a directory, so that a file created or renamed in it survives a power loss (its directory entry is
/// metadata of the directory, not of the file). POSIX only: .NET cannot open a directory as a file, so this calls
/// libc. On Windows it does nothing: NTFS journals directory changes, and there is no portable equivalent.
/// </summary>
internal static class DirectorySync
{
    public static void Sync(string directory)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        // A null-terminated UTF-8 byte[] keeps this a blittable DllImport (no unsafe code, no string marshalling).
        var path = System.Text.Encoding.UTF8.GetBytes(System.IO.Path.GetFullPath(directory) + "\0");
        var fd = Open(path, 0 /* O_RDONLY */);
        if (fd < 0)
        {
            throw new IOException($"Cannot open directory {directory} to sync it (errno {Marshal.GetLastPInvokeError()}).");
        }

        try
        {
            if (FSync(fd) != 0)
            {
                throw new IOException($"fsync of directory {directory} failed (errno {Marshal.GetLastPInvokeError()}).");
            }
        }
        finally
        {
            _ = Close(fd);
        }
    }

    [DllImport("libc", EntryPoint = "open", SetLastError = true)]
    private static extern int Open(byte[] path, int flags);

    [DllImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static extern int FSync(int fd);

    [DllImport("libc", EntryPoint = "close", SetLastError = true)]
    private static extern int Close(int fd);
}
