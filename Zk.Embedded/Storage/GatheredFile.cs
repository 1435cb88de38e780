using Microsoft.Win32.SafeHandles;

namespace Zk.Embedded.Storage;

/// <summary>
/// What the txn log's two files have in common as the streams LiteDB gets: positioned reads and writes on one
/// exclusive handle (a second peer on the same directory fails at open), contiguous writes gathered into one
/// (<see cref="WriteGather"/>) and drained before anything reads, syncs or resizes, and <see cref="Flush()"/> as a
/// sync. How each grows, shrinks and syncs is its own: <see cref="DurableFile"/> (the data file) and
/// <see cref="WalFile"/> (the WAL).
/// </summary>
/// <remarks>Every member that touches the handle or the position runs under <see cref="Gate"/>, except the sync
/// itself, so a sync on one thread never holds up writes on another.</remarks>
internal abstract class GatheredFile : Stream
{
    private static readonly byte[] Zeros = new byte[1 << 20];

    private readonly WriteGather _gather;
    private long _position;
    private long _syncCount;

    protected GatheredFile(string path, int gatherBytes)
    {
        Path = path;
        Created = !File.Exists(path);
        Handle = File.OpenHandle(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        _gather = new WriteGather(gatherBytes);
    }

    public string Path { get; }

    /// <summary>True when this open created a file (its directory entry then needs a directory sync).</summary>
    public bool Created { get; protected set; }

    /// <summary>How many times the file was forced to disk.</summary>
    public long SyncCount => Interlocked.Read(ref _syncCount);

    /// <summary>Runs before the file is cut shorter (see <see cref="TxnLog"/>: the WAL's runs the data file's sync).</summary>
    public Action? BeforeShrink { get; set; }

    public override bool CanRead => true;

    public override bool CanSeek => true;

    public override bool CanWrite => true;

    public override long Position
    {
        get => _position;
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            _position = value;
        }
    }

    /// <summary>The file reads and writes go to (<see cref="WalFile"/> moves it between its two files).</summary>
    protected SafeFileHandle Handle { get; private set; }

    protected Lock Gate { get; } = new();

    /// <summary>Forces what was written to stable storage.</summary>
    public abstract void Sync();

    public override void Flush() => Sync();

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        lock (Gate)
        {
            DrainLocked();
            var available = (int)Math.Clamp(Length - _position, 0, buffer.Length);
            var read = available == 0 ? 0 : RandomAccess.Read(Handle, buffer[..available], _position);
            _position += read;
            return read;
        }
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override long Seek(long offset, SeekOrigin origin)
    {
        Position = origin switch
        {
            SeekOrigin.Begin => offset,
            SeekOrigin.Current => _position + offset,
            SeekOrigin.End => Length + offset,
            _ => throw new ArgumentOutOfRangeException(nameof(origin)),
        };
        return _position;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            try
            {
                lock (Gate)
                {
                    DrainLocked();
                }
            }
            catch (IOException)
            {
                // A full disk or a failed device: these bytes were never synced, so no acknowledged write is in them
                // (the log syncs before it closes), and closing must not throw on top of the fault.
            }
            finally
            {
                Handle.Dispose();
                _gather.Release();
                ReleaseBuffers();
                BeforeShrink = null; // it reaches the log store, and with it the closed LiteDB engine and its caches
            }
        }

        base.Dispose(disposing);
    }

    /// <summary>Under <see cref="Gate"/>: gathers <paramref name="data"/> at the position and moves past it.</summary>
    protected void WriteAtPosition(ReadOnlySpan<byte> data)
    {
        _gather.Write(Handle, _position, data);
        _position += data.Length;
    }

    /// <summary>Under <see cref="Gate"/>: gathers <paramref name="data"/> at <paramref name="offset"/> in the file (the position is not moved).</summary>
    protected void WriteAt(long offset, ReadOnlySpan<byte> data) => _gather.Write(Handle, offset, data);

    /// <summary>Lets go of buffers a closed file no longer needs (see <see cref="WriteGather.Release"/>).</summary>
    protected virtual void ReleaseBuffers()
    {
    }

    /// <summary>Under <see cref="Gate"/>: writes out everything written so far (not synced).</summary>
    protected virtual void DrainLocked() => DrainGatheredLocked();

    /// <summary>Under <see cref="Gate"/>: writes out what is gathered (not synced).</summary>
    protected void DrainGatheredLocked() => _gather.Drain(Handle);

    /// <summary>Under <see cref="Gate"/>: hands <paramref name="pages"/> to the gather in file order.</summary>
    protected void GatherLocked(PageWriteBack pages) => pages.Drain(_gather, Handle);

    /// <summary>Writes out what is gathered; for a sync, which then runs outside the lock on the handle returned.</summary>
    protected SafeFileHandle Drain()
    {
        lock (Gate)
        {
            DrainLocked();
            return Handle;
        }
    }

    /// <summary>Under <see cref="Gate"/>, drained: reads and writes go to <paramref name="handle"/> from now on.</summary>
    protected void SwitchTo(SafeFileHandle handle) => Handle = handle;

    protected void CountSync() => Interlocked.Increment(ref _syncCount);

    /// <summary>Writes zeros over [<paramref name="from"/>, <paramref name="to"/>) straight to the file (not synced).</summary>
    protected void WriteZeros(long from, long to) => WriteZeros(Handle, from, to);

    /// <summary>Writes zeros over [<paramref name="from"/>, <paramref name="to"/>) of <paramref name="handle"/> (not synced).</summary>
    protected static void WriteZeros(SafeFileHandle handle, long from, long to)
    {
        for (var offset = from; offset < to; offset += Zeros.Length)
        {
            RandomAccess.Write(handle, Zeros.AsSpan(0, (int)Math.Min(Zeros.Length, to - offset)), offset);
        }
    }
}
