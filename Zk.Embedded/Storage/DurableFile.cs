using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

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
/// A file that storage owns and hands to LiteDB as its data file, so that durability is decided here rather than
/// inside LiteDB 5.0.x (which never fsyncs a commit, issue #2818). Three rules:
/// <list type="bullet">
/// <item><see cref="Sync"/> is <c>fsync(2)</c> on Unix (data and size) and <c>FlushFileBuffers</c> on Windows.</item>
/// <item><see cref="Flush()"/> also syncs. LiteDB flushes a stream only where it means "on disk": after writing a
/// new file's header and after copying WAL pages into the data file in a checkpoint. Over a stream it did not open
/// itself LiteDB can only call <c>Flush()</c>, so without this its checkpoint would not reach the disk.</item>
/// <item>Before the file is cut shorter, <see cref="BeforeShrink"/> runs.</item>
/// </list>
/// Contiguous page writes (a checkpoint's) are gathered into one write each (<see cref="WriteGather"/>); anything
/// that reads, syncs or resizes drains them first.
/// <para>Zeros ahead: a background task keeps the file extended with written, synced zeros past LiteDB's highest
/// page, so a checkpoint overwrites allocated blocks instead of growing the file: on ext4 a sync of 8 MB of new
/// pages costs ~5 ms growing and ~1.3 ms overwriting, and the checkpoint holds up every write meanwhile. LiteDB
/// reads trailing blank pages as unused (its own <c>InitialSize</c> option makes the same kind of file).</para>
/// Exclusive (<see cref="FileShare.None"/>): a second peer on the same directory fails at open.
/// </summary>
internal sealed class DurableFile : Stream
{
    private const int GatherBytes = 1 << 20;

    /// <summary>Zeros are kept ahead by about the file's size, within these bounds (small files stay small).</summary>
    private const long ZeroAheadMinBytes = 1 << 20;
    private const long ZeroAheadMaxBytes = 16 << 20;
    private const int ZeroChunkBytes = 1 << 20;

    /// <summary>Zeros are synced every this many bytes: a checkpoint's own sync then never queues behind a long one.</summary>
    private const long ZeroSyncBytes = 4 << 20;
    private static readonly byte[] Zeros = new byte[ZeroChunkBytes];

    private readonly SafeFileHandle _file;
    private readonly Action<FileEvent>? _observer;
    private readonly Lock _gate = new();
    private readonly WriteGather _gather = new(GatherBytes);
    private long _length;
    private long _position;
    private long _syncCount;
    private long _writtenEnd;
    private long _zeroedTo;
    private bool _closing;
    private Task _zeroing = Task.CompletedTask;

    public DurableFile(string path, string role, Action<FileEvent>? observer)
    {
        Path = path;
        Role = role;
        _observer = observer;
        Created = !File.Exists(path);
        _file = File.OpenHandle(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        _length = RandomAccess.GetLength(_file);
        _writtenEnd = _length;
        _zeroedTo = _length;
    }

    public string Path { get; }

    /// <summary>What the file is for ("data", "wal"), used in events and messages.</summary>
    public string Role { get; }

    /// <summary>True when this open created the file (its directory entry then needs a directory sync).</summary>
    public bool Created { get; }

    /// <summary>How many times the file was forced to disk.</summary>
    public long SyncCount => Interlocked.Read(ref _syncCount);

    /// <summary>Runs before the file is cut shorter.</summary>
    public Action? BeforeShrink { get; set; }

    /// <summary>The background extension with zeros, if one is running (tests).</summary>
    internal Task ZeroingAhead
    {
        get
        {
            lock (_gate)
            {
                return _zeroing;
            }
        }
    }

    public override bool CanRead => true;

    public override bool CanSeek => true;

    public override bool CanWrite => true;

    public override long Length => _length;

    public override long Position
    {
        get => _position;
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            _position = value;
        }
    }

    /// <summary>Forces the file's written bytes and its length to stable storage.</summary>
    public void Sync()
    {
        lock (_gate)
        {
            _gather.Drain(_file);
        }

        RandomAccess.FlushToDisk(_file);
        Interlocked.Increment(ref _syncCount);
        _observer?.Invoke(new FileEvent(Role, FileEventKind.Sync));
    }

    public override void Flush() => Sync();

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        lock (_gate)
        {
            _gather.Drain(_file);
            var available = (int)Math.Clamp(_length - _position, 0, buffer.Length);
            var read = available == 0 ? 0 : RandomAccess.Read(_file, buffer[..available], _position);
            _position += read;
            return read;
        }
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        lock (_gate)
        {
            if (!_gather.TryAdd(_position, buffer))
            {
                _gather.Drain(_file);
                if (!_gather.TryAdd(_position, buffer))
                {
                    RandomAccess.Write(_file, buffer, _position);
                }
            }

            _position += buffer.Length;
            _length = Math.Max(_length, _position);
            _writtenEnd = Math.Max(_writtenEnd, _position);
            var ahead = Math.Clamp(_writtenEnd, ZeroAheadMinBytes, ZeroAheadMaxBytes);
            if (_zeroedTo - _writtenEnd < ahead / 2 && _zeroing.IsCompleted && !_closing)
            {
                var target = _writtenEnd + ahead;
                _zeroing = Task.Run(() => ZeroAhead(target));
            }
        }
    }

    public override long Seek(long offset, SeekOrigin origin)
    {
        Position = origin switch
        {
            SeekOrigin.Begin => offset,
            SeekOrigin.Current => _position + offset,
            SeekOrigin.End => _length + offset,
            _ => throw new ArgumentOutOfRangeException(nameof(origin)),
        };
        return _position;
    }

    public override void SetLength(long value)
    {
        lock (_gate)
        {
            _gather.Drain(_file);
            if (value < _length)
            {
                BeforeShrink?.Invoke();
                _observer?.Invoke(new FileEvent(Role, FileEventKind.Shrink));
            }

            RandomAccess.SetLength(_file, value);
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
            lock (_gate)
            {
                _closing = true;
                zeroing = _zeroing;
                _gather.Drain(_file);
            }

            // Waited for, not abandoned: it writes through the handle disposed next.
            zeroing.GetAwaiter().GetResult();
            _file.Dispose();
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
                lock (_gate)
                {
                    var from = Math.Max(_zeroedTo, _writtenEnd);
                    if (_closing || from >= target)
                    {
                        break;
                    }

                    var to = Math.Min(from + ZeroChunkBytes, target);
                    RandomAccess.Write(_file, Zeros.AsSpan(0, (int)(to - from)), from);
                    _length = Math.Max(_length, to);
                    _zeroedTo = to;
                    unsynced += to - from;
                }

                if (unsynced >= ZeroSyncBytes)
                {
                    // A sync of new blocks is the slow kind; paying it here, off the write path, is the point.
                    RandomAccess.FlushToDisk(_file);
                    unsynced = 0;
                }
            }

            if (unsynced > 0)
            {
                RandomAccess.FlushToDisk(_file);
            }
        }
        catch (IOException)
        {
            // Zeros ahead only make checkpoints cheaper; without them (a full disk, say) the file grows as LiteDB
            // writes, and LiteDB's own write reports the real error.
            lock (_gate)
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
