using System.Buffers;

namespace Zk.Embedded.Txns;

/// <summary>
/// A thread's buffer for encoding a record whose size is not known up front, copied out once into an exact array. A
/// fresh <see cref="ArrayBufferWriter{T}"/> per record grew through 128 or 256, 512, 1,024 and 2,048 bytes for a 1 KiB
/// value: four arrays of garbage per txn or forwarded request. Taken and given back, so a nested use gets its own.
/// </summary>
internal static class ScratchBuffer
{
    /// <summary>A buffer this large is not kept for the thread's lifetime (a rare large record).</summary>
    private const int MaxKeptBytes = 64 * 1024;

    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_buffer;

    /// <summary>An empty buffer: the thread's own if it is free, else a new one.</summary>
    public static ArrayBufferWriter<byte> Take()
    {
        var buffer = t_buffer ?? new ArrayBufferWriter<byte>(4096);
        t_buffer = null;
        buffer.ResetWrittenCount();
        return buffer;
    }

    /// <summary>What <paramref name="buffer"/> holds as an exact array; the buffer goes back to the thread.</summary>
    public static byte[] ToArrayAndReturn(ArrayBufferWriter<byte> buffer)
    {
        var bytes = buffer.WrittenSpan.ToArray();
        if (buffer.Capacity <= MaxKeptBytes)
            t_buffer = buffer;
        return bytes;
    }
}
