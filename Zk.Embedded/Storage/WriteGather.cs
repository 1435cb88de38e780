using Microsoft.Win32.SafeHandles;

namespace Zk.Embedded.Storage;

/// <summary>
/// Gathers contiguous writes to a file into one <c>pwrite</c>. LiteDB writes its 8 KiB pages one call each: a commit's
/// pages to the WAL, a checkpoint's ~1000 pages to the data file, mostly one after another. One system call each
/// was a fifth of a durable write's CPU; gathered, a commit is one call and a checkpoint a few.
/// </summary>
/// <remarks>Not thread-safe: the file that owns it serializes every use under its own lock.</remarks>
internal sealed class WriteGather
{
    private byte[] _buffer;
    private long _start;
    private int _count;

    public WriteGather(int capacity) => _buffer = new byte[capacity];

    /// <summary>The file offset just past the waiting bytes.</summary>
    private long End => _start + _count;

    /// <summary>
    /// Takes <paramref name="data"/> for <paramref name="offset"/> when it continues the waiting bytes and fits.
    /// </summary>
    private bool TryAdd(long offset, ReadOnlySpan<byte> data)
    {
        if (_count == 0)
        {
            _start = offset;
        }
        else if (offset != End)
        {
            return false;
        }

        if (data.Length > _buffer.Length - _count)
        {
            return false;
        }

        data.CopyTo(_buffer.AsSpan(_count));
        _count += data.Length;
        return true;
    }

    /// <summary>
    /// Gathers <paramref name="data"/> for <paramref name="offset"/>; when it neither continues the waiting bytes nor
    /// fits, drains them first, and writes it straight through when it is bigger than the buffer.
    /// </summary>
    public void Write(SafeFileHandle file, long offset, ReadOnlySpan<byte> data)
    {
        if (!TryAdd(offset, data))
        {
            Drain(file);
            if (!TryAdd(offset, data))
            {
                RandomAccess.Write(file, data, offset);
            }
        }
    }

    /// <summary>
    /// Lets the buffer go (the file is closed; a later write goes straight through). LiteDB keeps a closed engine's
    /// streams in its reader pool, a <c>ConcurrentBag</c> whose per-thread slots outlive the engine until a full GC
    /// finalizes them: a process that opened and closed many logs (the simulator, an application's tests) held every
    /// closed log's buffers meanwhile, gigabytes of them.
    /// </summary>
    public void Release()
    {
        _count = 0;
        _buffer = [];
    }

    /// <summary>Writes the waiting bytes to <paramref name="file"/> (not synced) and empties the buffer.</summary>
    public void Drain(SafeFileHandle file)
    {
        if (_count > 0)
        {
            RandomAccess.Write(file, _buffer.AsSpan(0, _count), _start);
            _count = 0;
        }
    }
}
