using System.Buffers;
using System.Buffers.Binary;

namespace Zk.Embedded.Wire.Jute;

/// <summary>
/// A growable buffer from <see cref="ArrayPool{T}.Shared"/> that holds one or more length-prefixed frames: call
/// <see cref="BeginFrame"/>, write a header and record through a <see cref="JuteWriter"/> over this buffer, then
/// <see cref="EndFrame"/> patches the length in. A frame's length is known only after it is written, which an
/// <see cref="IBufferWriter{T}"/> alone cannot go back and fill in.
/// </summary>
/// <remarks>
/// Ownership: this instance owns the pooled array; <see cref="WrittenMemory"/> is valid until the next write,
/// <see cref="Clear"/> or <see cref="Dispose"/>. One writer at a time.
/// </remarks>
internal sealed class JuteFrameBuffer : IBufferWriter<byte>, IDisposable
{
    private const int MinimumGrowth = 256;

    private byte[] _array;
    private int _written;
    private int _frameStart = -1;

    public JuteFrameBuffer(int initialCapacity = 4096)
    {
        _array = ArrayPool<byte>.Shared.Rent(Math.Max(initialCapacity, JuteFrame.HeaderBytes));
    }

    /// <summary>The frames completed (and any frame still open) so far.</summary>
    public ReadOnlyMemory<byte> WrittenMemory => _array.AsMemory(0, _written);

    public int WrittenCount => _written;

    /// <summary>Starts a frame: reserves its 4 length bytes.</summary>
    public void BeginFrame()
    {
        if (_frameStart >= 0)
        {
            JuteException.Throw("BeginFrame while a frame is open");
        }

        GetSpan(JuteFrame.HeaderBytes);
        _frameStart = _written;
        _written += JuteFrame.HeaderBytes;
    }

    /// <summary>Ends the open frame: writes its body length into the reserved bytes; returns that length.</summary>
    public int EndFrame()
    {
        if (_frameStart < 0)
        {
            JuteException.Throw("EndFrame without BeginFrame");
        }

        var length = _written - _frameStart - JuteFrame.HeaderBytes;
        BinaryPrimitives.WriteInt32BigEndian(_array.AsSpan(_frameStart, JuteFrame.HeaderBytes), length);
        _frameStart = -1;
        return length;
    }

    /// <summary>Forgets everything written; keeps the array.</summary>
    public void Clear()
    {
        _written = 0;
        _frameStart = -1;
    }

    public void Advance(int count)
    {
        if (count < 0 || _written + count > _array.Length)
        {
            throw new ArgumentOutOfRangeException(nameof(count));
        }

        _written += count;
    }

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _array.AsMemory(_written);
    }

    public Span<byte> GetSpan(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _array.AsSpan(_written);
    }

    public void Dispose()
    {
        var array = _array;
        _array = [];
        _written = 0;
        if (array.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(array);
        }
    }

    private void Ensure(int sizeHint)
    {
        var needed = Math.Max(sizeHint, 1);
        if (_array.Length - _written >= needed)
        {
            return;
        }

        var size = Math.Max(_array.Length * 2L, (long)_written + Math.Max(needed, MinimumGrowth));
        var bigger = ArrayPool<byte>.Shared.Rent((int)Math.Min(size, Array.MaxLength));
        _array.AsSpan(0, _written).CopyTo(bigger);
        if (_array.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(_array);
        }

        _array = bigger;
    }
}
