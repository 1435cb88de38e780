using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using Zk.Embedded.Api;

namespace Zk.Embedded.Wire.Jute;

/// <summary>
/// Writes jute's binary encoding (<c>org.apache.jute.BinaryOutputArchive</c>) into an <see cref="IBufferWriter{T}"/>
/// the caller owns; nothing is buffered here, so each call has advanced the output when it returns.
/// </summary>
/// <remarks>
/// Strings are written as standard UTF-8. Java's archive encodes each UTF-16 unit on its own (CESU-8 for characters
/// outside the BMP), which its own decoder then turns into U+FFFD; standard UTF-8 is what every other client sends,
/// and a lone surrogate becomes U+FFFD here, as it would in Java's decoder.
/// </remarks>
internal ref struct JuteWriter
{
    /// <summary>Size of a jute <c>Stat</c>: six longs and five ints.</summary>
    public const int StatBytes = 68;

    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false);

    private readonly IBufferWriter<byte> _output;

    public JuteWriter(IBufferWriter<byte> output)
    {
        _output = output;
        Written = 0;
    }

    /// <summary>Bytes written through this writer.</summary>
    public long Written { get; private set; }

    public void WriteByte(byte value)
    {
        var span = _output.GetSpan(1);
        span[0] = value;
        Advance(1);
    }

    public void WriteBool(bool value) => WriteByte(value ? (byte)1 : (byte)0);

    public void WriteInt(int value)
    {
        BinaryPrimitives.WriteInt32BigEndian(_output.GetSpan(4), value);
        Advance(4);
    }

    public void WriteLong(long value)
    {
        BinaryPrimitives.WriteInt64BigEndian(_output.GetSpan(8), value);
        Advance(8);
    }

    /// <summary>A non-null buffer: length then bytes.</summary>
    public void WriteBuffer(ReadOnlySpan<byte> value)
    {
        var span = _output.GetSpan(4 + value.Length);
        BinaryPrimitives.WriteInt32BigEndian(span, value.Length);
        value.CopyTo(span[4..]);
        Advance(4 + value.Length);
    }

    /// <summary>A buffer; null is written as length -1.</summary>
    public void WriteBuffer(byte[]? value)
    {
        if (value is null)
        {
            WriteInt(-1);
        }
        else
        {
            WriteBuffer(value.AsSpan());
        }
    }

    /// <summary>A buffer; null is written as length -1.</summary>
    public void WriteBuffer(ReadOnlyMemory<byte>? value)
    {
        if (value is { } memory)
        {
            WriteBuffer(memory.Span);
        }
        else
        {
            WriteInt(-1);
        }
    }

    /// <summary>A ustring; null is written as length -1.</summary>
    public void WriteString(string? value)
    {
        if (value is null)
        {
            WriteInt(-1);
            return;
        }

        var length = Utf8.GetByteCount(value);
        var span = _output.GetSpan(4 + length);
        BinaryPrimitives.WriteInt32BigEndian(span, length);
        Utf8.GetBytes(value, span.Slice(4, length));
        Advance(4 + length);
    }

    /// <summary>A <c>vector&lt;ustring&gt;</c>; null is written as count -1.</summary>
    public void WriteStringList(IReadOnlyList<string>? value)
    {
        if (value is null)
        {
            WriteInt(-1);
            return;
        }

        var count = value.Count;
        WriteInt(count);
        for (var i = 0; i < count; i++)
        {
            WriteString(value[i]);
        }
    }

    public void WriteId(Id value)
    {
        WriteString(value.Scheme);
        WriteString(value.Identity);
    }

    public void WriteAcl(Acl value)
    {
        WriteInt((int)value.Perms);
        WriteId(value.Id);
    }

    /// <summary>A <c>vector&lt;ACL&gt;</c>; null is written as count -1.</summary>
    public void WriteAclList(IReadOnlyList<Acl>? value)
    {
        if (value is null)
        {
            WriteInt(-1);
            return;
        }

        var count = value.Count;
        WriteInt(count);
        for (var i = 0; i < count; i++)
        {
            WriteAcl(value[i]);
        }
    }

    /// <summary>A <c>vector&lt;ClientInfo&gt;</c>; null is written as count -1.</summary>
    public void WriteClientInfoList(IReadOnlyList<ClientInfo>? value)
    {
        if (value is null)
        {
            WriteInt(-1);
            return;
        }

        var count = value.Count;
        WriteInt(count);
        for (var i = 0; i < count; i++)
        {
            WriteString(value[i].AuthScheme);
            WriteString(value[i].User);
        }
    }

    public void WriteStat(in Stat value)
    {
        var s = _output.GetSpan(StatBytes);
        BinaryPrimitives.WriteInt64BigEndian(s, value.Czxid);
        BinaryPrimitives.WriteInt64BigEndian(s[8..], value.Mzxid);
        BinaryPrimitives.WriteInt64BigEndian(s[16..], value.Ctime);
        BinaryPrimitives.WriteInt64BigEndian(s[24..], value.Mtime);
        BinaryPrimitives.WriteInt32BigEndian(s[32..], value.Version);
        BinaryPrimitives.WriteInt32BigEndian(s[36..], value.Cversion);
        BinaryPrimitives.WriteInt32BigEndian(s[40..], value.Aversion);
        BinaryPrimitives.WriteInt64BigEndian(s[44..], value.EphemeralOwner);
        BinaryPrimitives.WriteInt32BigEndian(s[52..], value.DataLength);
        BinaryPrimitives.WriteInt32BigEndian(s[56..], value.NumChildren);
        BinaryPrimitives.WriteInt64BigEndian(s[60..], value.Pzxid);
        Advance(StatBytes);
    }

    private void Advance(int count)
    {
        _output.Advance(count);
        Written += count;
    }
}
