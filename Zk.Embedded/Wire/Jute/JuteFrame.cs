using System.Buffers;
using System.Buffers.Binary;

namespace Zk.Embedded.Wire.Jute;

/// <summary>
/// ZooKeeper's framing on the client port: a 4-byte big-endian length, then that many bytes
/// (<c>NIOServerCnxn.readLength</c>, <c>ClientCnxnSocket.readLength</c>).
/// </summary>
internal static class JuteFrame
{
    public const int HeaderBytes = 4;

    /// <summary>
    /// Takes one whole frame off the front of <paramref name="buffer"/>. The frame excludes the length; the caller
    /// consumes up to <c>frame.End</c>. Returns false when more bytes are needed, or when <paramref name="tooLarge"/>:
    /// a length above <paramref name="maxFrameBytes"/> (jute.maxbuffer) or negative, reported from the 4 length bytes
    /// alone, before anything is buffered or allocated. ZooKeeper logs "Len error" and closes that connection.
    /// </summary>
    public static bool TryReadFrame(in ReadOnlySequence<byte> buffer, int maxFrameBytes, out ReadOnlySequence<byte> frame, out bool tooLarge)
    {
        frame = default;
        tooLarge = false;
        if (buffer.Length < HeaderBytes)
        {
            return false;
        }

        int length;
        if (buffer.FirstSpan.Length >= HeaderBytes)
        {
            length = BinaryPrimitives.ReadInt32BigEndian(buffer.FirstSpan);
        }
        else
        {
            Span<byte> header = stackalloc byte[HeaderBytes];
            buffer.Slice(0, HeaderBytes).CopyTo(header);
            length = BinaryPrimitives.ReadInt32BigEndian(header);
        }

        if (length < 0 || length > maxFrameBytes)
        {
            tooLarge = true;
            return false;
        }

        if (buffer.Length - HeaderBytes < length)
        {
            return false;
        }

        frame = buffer.Slice(HeaderBytes, length);
        return true;
    }

    /// <summary>Writes a whole frame: the length of <paramref name="body"/>, then the body.</summary>
    public static void Write(IBufferWriter<byte> output, ReadOnlySpan<byte> body)
    {
        var span = output.GetSpan(HeaderBytes + body.Length);
        BinaryPrimitives.WriteInt32BigEndian(span, body.Length);
        body.CopyTo(span[HeaderBytes..]);
        output.Advance(HeaderBytes + body.Length);
    }
}
