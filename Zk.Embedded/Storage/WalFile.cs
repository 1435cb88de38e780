using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Zk.Embedded.Storage;

/// <summary>
/// LiteDB's write-ahead log file, kept preallocated with written zeros so that a commit's sync is an
/// <c>fdatasync</c> of overwritten blocks, not an appending <c>fsync</c> (on ext4 about 90 µs against 160 µs, because
/// a file that grows makes every sync commit the journal). Apache ZooKeeper preallocates its log files for the same
/// reason.
/// </summary>
/// <remarks>
/// <para>LiteDB sees a file of <see cref="Length"/> = the bytes it wrote (its "logical" length); the file on disk is
/// longer, and every byte past the logical length is zero. That invariant is what lets an open find the end again:
/// LiteDB never writes an all-zero page (every log page has a page type or id and a transaction id), so the logical
/// length is the offset of the first blank page.</para>
/// <para>The invariant has to hold on disk whenever something synced could be read back, in three places:</para>
/// <list type="bullet">
/// <item><b>Growing</b>: the file is extended by writing zeros (never a sparse or fallocated range, which would make
/// later syncs slow again), in chunks that double up to 16 MiB, so a small log stays small.</item>
/// <item><b>Emptying</b> (LiteDB's <c>SetLength(0)</c> after a checkpoint): the first page is zeroed and synced
/// before anything else, so from then on the log reads as empty; then the rest is zeroed and synced, before LiteDB
/// writes a new page. Zeroing all at once would not do: writeback may persist the zeros of a later page before
/// those of an earlier one, and a crash then would replay a prefix of the old log over newer checkpointed pages.</item>
/// <item><b>Opening</b> after a crash: pages written but never synced may have reached the disk out of order, leaving
/// a non-blank page after a blank one. They belong to no acknowledged commit (a commit is acknowledged after its
/// sync, and a sync covers every page before it), so they are zeroed and synced before LiteDB reads the file.</item>
/// </list>
/// <para>A commit's pages are gathered into one write (<see cref="WriteGather"/>). <see cref="Sync"/> runs on the
/// pipeline's publishing thread while LiteDB writes the next batch on another: it drains what is gathered under the
/// lock and syncs outside it, so the sync covers every page written before it started and the writer never waits
/// for the disk.</para>
/// <para>Exclusive, like <see cref="DurableFile"/>: a second peer on the same directory fails at open.</para>
/// </remarks>
internal sealed class WalFile : Stream
{
    /// <summary>LiteDB's page size: the unit of the blank-page scan.</summary>
    internal const int PageSize = 8192;

    /// <summary>A commit's pages up to this size reach the file in one write.</summary>
    private const int GatherBytes = 256 * 1024;

    private const long FirstChunkBytes = 1 << 20;
    private const long MaxChunkBytes = 16 << 20;
    private static readonly byte[] Zeros = new byte[1 << 20];

    private readonly SafeFileHandle _file;
    private readonly Action<FileEvent>? _observer;
    private readonly Lock _gate = new();
    private readonly WriteGather _gather = new(GatherBytes);
    private long _length;
    private long _physical;
    private long _position;
    private long _syncCount;

    public WalFile(string path, Action<FileEvent>? observer)
    {
        Path = path;
        _observer = observer;
        Created = !File.Exists(path);
        _file = File.OpenHandle(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        try
        {
            _physical = RandomAccess.GetLength(_file);
            _length = FindEnd(out var dirtyTail);
            if (dirtyTail)
            {
                ZeroRange(_length, _physical);
                DataSync();
            }
        }
        catch
        {
            _file.Dispose();
            throw;
        }
    }

    public string Path { get; }

    /// <summary>True when this open created the file (its directory entry then needs a directory sync).</summary>
    public bool Created { get; }

    /// <summary>How many times the file was forced to disk.</summary>
    public long SyncCount => Interlocked.Read(ref _syncCount);

    /// <summary>Runs before the log is emptied or cut shorter (the data file's sync, see <see cref="TxnLog"/>).</summary>
    public Action? BeforeShrink { get; set; }

    /// <summary>Bytes on disk, preallocation included (tests).</summary>
    internal long PhysicalLength => _physical;

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

    /// <summary>Forces the written bytes to stable storage, and the file's size when it grew.</summary>
    public void Sync()
    {
        lock (_gate)
        {
            _gather.Drain(_file);
        }

        // Outside the lock: the writer goes on appending while the disk syncs (that overlap is the group commit).
        DataSync();
        _observer?.Invoke(new FileEvent("wal", FileEventKind.Sync));
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
            var end = _position + buffer.Length;
            if (end > _physical)
            {
                // Zeros first, straight to the file: gathered bytes all lie below the old physical end, so the two
                // never overlap, and the gathered bytes land over the zeros when drained.
                Grow(end);
            }

            if (!_gather.TryAdd(_position, buffer))
            {
                _gather.Drain(_file);
                if (!_gather.TryAdd(_position, buffer))
                {
                    RandomAccess.Write(_file, buffer, _position);
                }
            }

            _position = end;
            _length = Math.Max(_length, end);
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
        ArgumentOutOfRangeException.ThrowIfNegative(value);
        lock (_gate)
        {
            _gather.Drain(_file);
            SetLengthDrained(value);
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            lock (_gate)
            {
                _gather.Drain(_file);
            }

            _file.Dispose();
        }

        base.Dispose(disposing);
    }

    private void SetLengthDrained(long value)
    {
        if (value >= _length)
        {
            // Past the logical end everything is zero already: growing is only a matter of room.
            if (value > _physical)
            {
                Grow(value);
            }

            _length = value;
            return;
        }

        BeforeShrink?.Invoke();
        _observer?.Invoke(new FileEvent("wal", FileEventKind.Shrink));
        var firstCut = value / PageSize * PageSize;
        if (firstCut < value)
        {
            // A cut inside a page keeps that page's head; zero its tail together with the rest.
            ZeroRange(value, Math.Min(firstCut + PageSize, _length));
            firstCut += PageSize;
        }

        if (firstCut < _length)
        {
            ZeroRange(firstCut, Math.Min(firstCut + PageSize, _length));
            DataSync();
            ZeroRange(firstCut + PageSize, _length);
            DataSync();
        }

        _length = value;
        _position = Math.Min(_position, value);
    }

    /// <summary>The offset of the first blank page; <paramref name="dirtyTail"/> when a non-blank page follows it.</summary>
    private long FindEnd(out bool dirtyTail)
    {
        var page = new byte[PageSize];
        long end = -1;
        dirtyTail = false;
        for (long offset = 0; offset < _physical; offset += PageSize)
        {
            var read = RandomAccess.Read(_file, page, offset);
            var blank = !page.AsSpan(0, read).ContainsAnyExcept((byte)0);
            if (blank && end < 0)
            {
                end = offset;
            }
            else if (!blank && end >= 0)
            {
                dirtyTail = true;
                break;
            }
        }

        return end < 0 ? _physical : end;
    }

    private void Grow(long atLeast)
    {
        var chunk = Math.Clamp(_physical, FirstChunkBytes, MaxChunkBytes);
        var target = Math.Max(atLeast, _physical + chunk);
        target = (target + PageSize - 1) / PageSize * PageSize;
        ZeroRange(_physical, target);
        _physical = target;
    }

    private void ZeroRange(long from, long to)
    {
        for (var offset = from; offset < to; offset += Zeros.Length)
        {
            RandomAccess.Write(_file, Zeros.AsSpan(0, (int)Math.Min(Zeros.Length, to - offset)), offset);
        }
    }

    private void DataSync()
    {
        if (OperatingSystem.IsLinux())
        {
            // fdatasync skips the inode's timestamps, which an overwrite changes and a reader does not need; the size
            // is still synced when the file grew. That difference is most of the cost of a sync here.
            if (FDataSync((int)_file.DangerousGetHandle()) != 0)
            {
                throw new IOException($"fdatasync of {Path} failed (errno {Marshal.GetLastPInvokeError()}).");
            }
        }
        else
        {
            RandomAccess.FlushToDisk(_file);
        }

        Interlocked.Increment(ref _syncCount);
    }

    [DllImport("libc", EntryPoint = "fdatasync", SetLastError = true)]
    private static extern int FDataSync(int fd);
}
