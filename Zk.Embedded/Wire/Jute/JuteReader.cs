using System.Buffers.Binary;
using System.Text;
using Zk.Embedded.Api;

namespace Zk.Embedded.Wire.Jute;

/// <summary>
/// Reads jute's binary encoding (<c>org.apache.jute.BinaryInputArchive</c>) from one frame's bytes: big-endian ints
/// and longs, a bool as one byte, buffers and strings as an int length (-1 = null) then the bytes, vectors as an int
/// count (-1 = null) then the elements.
/// </summary>
/// <remarks>
/// Every <c>TryRead…</c> returns false on input that is short or malformed and never throws, so a hostile frame
/// costs one closed connection. A length or count is checked against the bytes that remain (and
/// <see cref="MaxFieldBytes"/>) before anything is allocated: a declared length of 2^31-1 in a 20-byte frame is
/// refused without allocating. After a false, the position is unspecified; drop the frame.
/// </remarks>
internal ref struct JuteReader
{
    /// <summary>ZooKeeper's default <c>jute.maxbuffer</c>: 0xfffff bytes, the largest frame and the largest field.</summary>
    public const int DefaultMaxBuffer = 0xfffff;

    // Smallest encodings of vector elements: a string or buffer is at least its 4-byte length; an ACL is
    // perms + two string lengths. Counts are checked against these so a list's capacity never exceeds the frame.
    private const int MinStringBytes = 4;
    private const int MinAclBytes = 12;
    private const int MinClientInfoBytes = 8;

    private readonly ReadOnlySpan<byte> _buffer;
    private int _position;

    /// <param name="buffer">one frame's bytes (after the 4-byte frame length); not copied, so keep it alive.</param>
    /// <param name="maxFieldBytes">the largest buffer or string accepted (jute.maxbuffer).</param>
    public JuteReader(ReadOnlySpan<byte> buffer, int maxFieldBytes = DefaultMaxBuffer)
    {
        _buffer = buffer;
        _position = 0;
        MaxFieldBytes = maxFieldBytes;
    }

    public readonly int MaxFieldBytes { get; }

    public readonly int Position => _position;

    public readonly int Remaining => _buffer.Length - _position;

    public readonly bool IsEnd => _position >= _buffer.Length;

    /// <summary>The bytes not read yet (for a caller that hands a record's body on undecoded).</summary>
    public readonly ReadOnlySpan<byte> RemainingSpan => _buffer[_position..];

    public bool TryReadByte(out byte value)
    {
        if (Remaining < 1)
        {
            value = 0;
            return false;
        }

        value = _buffer[_position++];
        return true;
    }

    /// <summary>Any non-zero byte is true, as Java's <c>DataInput.readBoolean</c> reads it.</summary>
    public bool TryReadBool(out bool value)
    {
        var ok = TryReadByte(out var b);
        value = b != 0;
        return ok;
    }

    public bool TryReadInt(out int value)
    {
        if (Remaining < 4)
        {
            value = 0;
            return false;
        }

        value = BinaryPrimitives.ReadInt32BigEndian(_buffer.Slice(_position, 4));
        _position += 4;
        return true;
    }

    public bool TryReadLong(out long value)
    {
        if (Remaining < 8)
        {
            value = 0;
            return false;
        }

        value = BinaryPrimitives.ReadInt64BigEndian(_buffer.Slice(_position, 8));
        _position += 8;
        return true;
    }

    /// <summary>A buffer without copying it: <paramref name="isNull"/> for length -1. The span aliases the frame.</summary>
    public bool TryReadBufferSpan(out ReadOnlySpan<byte> value, out bool isNull)
    {
        value = default;
        isNull = false;
        if (!TryReadInt(out var length))
        {
            return false;
        }

        if (length == -1)
        {
            isNull = true;
            return true;
        }

        // BinaryInputArchive.checkLength: a negative length other than -1 is "Unreasonable length".
        if (length < 0 || length > Remaining || length > MaxFieldBytes)
        {
            return false;
        }

        value = _buffer.Slice(_position, length);
        _position += length;
        return true;
    }

    /// <summary>A buffer as a new array; null for length -1, an empty array for length 0.</summary>
    public bool TryReadBuffer(out byte[]? value)
    {
        value = null;
        if (!TryReadBufferSpan(out var span, out var isNull))
        {
            return false;
        }

        if (!isNull)
        {
            value = span.ToArray();
        }

        return true;
    }

    /// <summary>
    /// A ustring: null for length -1. Invalid UTF-8 becomes U+FFFD, as Java's <c>new String(bytes, UTF_8)</c> does,
    /// so the same bytes give the same (rejected) path as on Apache ZooKeeper.
    /// </summary>
    public bool TryReadString(out string? value)
    {
        value = null;
        if (!TryReadBufferSpan(out var span, out var isNull))
        {
            return false;
        }

        if (!isNull)
        {
            value = span.Length == 0 ? string.Empty : Encoding.UTF8.GetString(span);
        }

        return true;
    }

    /// <summary>A vector's count: -1 for null; false when the count cannot fit in what remains.</summary>
    /// <param name="minElementBytes">the smallest encoding of one element, so the count is checked before any list is made.</param>
    public bool TryReadCount(int minElementBytes, out int count)
    {
        if (!TryReadInt(out count))
        {
            return false;
        }

        if (count == -1)
        {
            return true;
        }

        return count >= 0 && (long)count * minElementBytes <= Remaining;
    }

    /// <summary>A <c>vector&lt;ustring&gt;</c>; null for count -1. Elements may be null, as in Java.</summary>
    public bool TryReadStringList(out List<string>? value)
    {
        value = null;
        if (!TryReadCount(MinStringBytes, out var count))
        {
            return false;
        }

        if (count == -1)
        {
            return true;
        }

        var list = new List<string>(count);
        for (var i = 0; i < count; i++)
        {
            if (!TryReadString(out var item))
            {
                return false;
            }

            list.Add(item!);
        }

        value = list;
        return true;
    }

    /// <summary>An <c>Id</c> record. A null scheme or id is kept as null for Processing to reject (InvalidACL).</summary>
    public bool TryReadId(out Id value)
    {
        if (!TryReadString(out var scheme) || !TryReadString(out var id))
        {
            value = null!;
            return false;
        }

        value = new Id(scheme!, id!);
        return true;
    }

    /// <summary>An <c>ACL</c> record: perms then Id. Perms are kept as sent, unknown bits too.</summary>
    public bool TryReadAcl(out Acl value)
    {
        if (!TryReadInt(out var perms) || !TryReadId(out var id))
        {
            value = null!;
            return false;
        }

        value = new Acl((Perms)perms, id);
        return true;
    }

    /// <summary>A <c>vector&lt;ACL&gt;</c>; null for count -1.</summary>
    public bool TryReadAclList(out List<Acl>? value)
    {
        value = null;
        if (!TryReadCount(MinAclBytes, out var count))
        {
            return false;
        }

        if (count == -1)
        {
            return true;
        }

        var list = new List<Acl>(count);
        for (var i = 0; i < count; i++)
        {
            if (!TryReadAcl(out var acl))
            {
                return false;
            }

            list.Add(acl);
        }

        value = list;
        return true;
    }

    /// <summary>A <c>vector&lt;ClientInfo&gt;</c> (whoAmI); null for count -1.</summary>
    public bool TryReadClientInfoList(out List<ClientInfo>? value)
    {
        value = null;
        if (!TryReadCount(MinClientInfoBytes, out var count))
        {
            return false;
        }

        if (count == -1)
        {
            return true;
        }

        var list = new List<ClientInfo>(count);
        for (var i = 0; i < count; i++)
        {
            if (!TryReadString(out var scheme) || !TryReadString(out var user))
            {
                return false;
            }

            list.Add(new ClientInfo(scheme!, user!));
        }

        value = list;
        return true;
    }

    /// <summary>A <c>Stat</c> record: 68 bytes in jute field order.</summary>
    public bool TryReadStat(out Stat value)
    {
        if (Remaining < JuteWriter.StatBytes)
        {
            value = default;
            return false;
        }

        var s = _buffer.Slice(_position, JuteWriter.StatBytes);
        value = new Stat(
            Czxid: BinaryPrimitives.ReadInt64BigEndian(s),
            Mzxid: BinaryPrimitives.ReadInt64BigEndian(s[8..]),
            Ctime: BinaryPrimitives.ReadInt64BigEndian(s[16..]),
            Mtime: BinaryPrimitives.ReadInt64BigEndian(s[24..]),
            Version: BinaryPrimitives.ReadInt32BigEndian(s[32..]),
            Cversion: BinaryPrimitives.ReadInt32BigEndian(s[36..]),
            Aversion: BinaryPrimitives.ReadInt32BigEndian(s[40..]),
            EphemeralOwner: BinaryPrimitives.ReadInt64BigEndian(s[44..]),
            DataLength: BinaryPrimitives.ReadInt32BigEndian(s[52..]),
            NumChildren: BinaryPrimitives.ReadInt32BigEndian(s[56..]),
            Pzxid: BinaryPrimitives.ReadInt64BigEndian(s[60..]));
        _position += JuteWriter.StatBytes;
        return true;
    }
}
