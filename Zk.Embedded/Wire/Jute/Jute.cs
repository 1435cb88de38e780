using System.Buffers;

namespace Zk.Embedded.Wire.Jute;

/// <summary>A jute record: decoded by a static <c>TryRead</c> that never throws, encoded by <c>Write</c>.</summary>
internal interface IJuteRecord<TSelf>
    where TSelf : IJuteRecord<TSelf>
{
    /// <summary>Reads one record; false on short or malformed input (the reader's position is then unspecified).</summary>
    static abstract bool TryRead(ref JuteReader reader, out TSelf value);

    /// <summary>Writes the record's fields in jute order.</summary>
    void Write(ref JuteWriter writer);
}

/// <summary>Whole-record helpers over <see cref="JuteReader"/> and <see cref="JuteWriter"/>.</summary>
internal static class Jute
{
    /// <summary>
    /// Decodes a record from the start of <paramref name="bytes"/>. Trailing bytes are allowed, as in ZooKeeper, which
    /// reads a record off a stream and ignores what follows; <paramref name="consumed"/> says how many were used.
    /// </summary>
    public static bool TryDecode<T>(ReadOnlySpan<byte> bytes, out T value, out int consumed, int maxFieldBytes = JuteReader.DefaultMaxBuffer)
        where T : IJuteRecord<T>
    {
        var reader = new JuteReader(bytes, maxFieldBytes);
        var ok = T.TryRead(ref reader, out value);
        consumed = ok ? reader.Position : 0;
        return ok;
    }

    public static bool TryDecode<T>(ReadOnlySpan<byte> bytes, out T value)
        where T : IJuteRecord<T> =>
        TryDecode(bytes, out value, out _);

    /// <summary>Decodes a record or throws <see cref="JuteException"/> naming the record type.</summary>
    public static T Decode<T>(ReadOnlySpan<byte> bytes)
        where T : IJuteRecord<T>
    {
        if (!TryDecode<T>(bytes, out var value))
        {
            JuteException.Throw($"malformed {typeof(T).Name} in {bytes.Length} bytes");
        }

        return value;
    }

    /// <summary>Appends the record to <paramref name="output"/>; returns the bytes written.</summary>
    public static long Encode<T>(in T record, IBufferWriter<byte> output)
        where T : IJuteRecord<T>
    {
        var writer = new JuteWriter(output);
        record.Write(ref writer);
        return writer.Written;
    }

    /// <summary>The record's bytes in a new array (tests, tools; not for hot paths).</summary>
    public static byte[] ToArray<T>(in T record)
        where T : IJuteRecord<T>
    {
        var output = new ArrayBufferWriter<byte>(64);
        Encode(record, output);
        return output.WrittenSpan.ToArray();
    }
}
