using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using MessagePack;
using Zk.Embedded.Api;
using Zk.Embedded.Tree;

namespace Zk.Embedded.Txns;

/// <summary>
/// The on-disk encoding of one <see cref="Txn"/>: a 4-byte little-endian CRC-32C of the rest, then one MessagePack
/// array written field by field (no attribute-driven serializer, so the layout is exactly what this file says and a
/// MessagePack upgrade cannot change it). <c>TxnCodecTests</c> freezes the bytes and the op numbers.
/// </summary>
/// <remarks>
/// <code>
/// record  = crc32c:u32le  payload
/// payload = [ version=2, zxid, sessionId, cxid, time, op ]
///         | [ version=1, zxid, sessionId, time, op ]   (read only: logs written before the cxid; cxid 0)
/// op      = [ 1 create,   path, data|nil, acl, ephemeralOwner, parentCreateCount ]
///         | [ 2 delete,   path ]
///         | [ 5 setData,  path, data|nil, version ]
///         | [ 7 setAcl,   path, acl, aversion ]
///         | [ 13 check,   path ]
///         | [ 14 multi,   [ op, ... ] ]            (no multi inside a multi)
///         | [ -10 createSession, timeoutMillis ]
///         | [ -11 closeSession ]
/// acl     = [ [ perms, scheme, id ], ... ]
/// </code>
/// Op numbers are ZooKeeper's <c>ZooDefs.OpCode</c> values of the matching txn types.
/// Integers use MessagePack's smallest encoding; null data (nil) and empty data (bin 0) stay distinct.
/// The same record is what storage logs and what the coming transport carries; the codec knows no file or peer.
/// </remarks>
internal static class TxnCodec
{
    /// <summary>The payload format this build writes; it reads this and <see cref="FormatWithoutCxid"/>.</summary>
    public const int FormatVersion = 2;

    /// <summary>The format before txns carried their cxid: still read, with cxid 0 (docs/storage.md).</summary>
    public const int FormatWithoutCxid = 1;

    /// <summary>Bytes of the checksum in front of the payload.</summary>
    public const int HeaderBytes = 4;

    /// <summary>
    /// Appends the whole record for <paramref name="txn"/>, checksum included, to <paramref name="output"/> and
    /// returns its length: encoded in place, so a batch of records is built with no copy per txn.
    /// </summary>
    public static int EncodeTo(Txn txn, ArrayBufferWriter<byte> output)
    {
        var start = output.WrittenCount;
        output.GetSpan(HeaderBytes)[..HeaderBytes].Clear(); // the checksum's place, filled in below
        output.Advance(HeaderBytes);
        var writer = new MessagePackWriter(output);
        writer.WriteArrayHeader(6);
        writer.Write(FormatVersion);
        writer.Write(txn.Zxid.Value);
        writer.Write(txn.SessionId.Value);
        writer.Write(txn.Cxid);
        writer.Write(txn.Time);
        WriteOp(ref writer, txn.Op, nested: false);
        writer.Flush();

        var record = MemoryMarshal.AsMemory(output.WrittenMemory)[start..].Span;
        BinaryPrimitives.WriteUInt32LittleEndian(record, Crc32C.Compute(record[HeaderBytes..]));
        return record.Length;
    }

    /// <summary>The whole record for <paramref name="txn"/>, checksum included, as one array.</summary>
    public static byte[] Encode(Txn txn)
    {
        var buffer = ScratchBuffer.Take();
        EncodeTo(txn, buffer);
        return ScratchBuffer.ToArrayAndReturn(buffer);
    }

    /// <summary>
    /// Verifies and decodes one record. <paramref name="expectedZxid"/> is the key it was stored or sent under (checked
    /// against the zxid inside); <paramref name="acls"/>, when given, interns decoded ACLs; <paramref name="longLivedData"/>
    /// puts the znode data it carries where a tree being recovered keeps it (<see cref="ReadData"/>).
    /// </summary>
    /// <exception cref="TxnRecordException">The record is torn, fails its checksum, or does not decode.</exception>
    public static Txn Decode(ReadOnlyMemory<byte> record, Zxid expectedZxid, AclCache? acls = null, bool longLivedData = false)
    {
        CheckSum(record.Span, expectedZxid);

        var txn = DecodePayload(record[HeaderBytes..], expectedZxid, acls, longLivedData);
        CheckZxid(txn.Zxid, expectedZxid);
        return txn;
    }

    /// <summary>
    /// Checks a record without decoding its op: its checksum, its format and the zxid inside. For records this
    /// build's encoder made (a leader's PROPOSAL) on their way into a log, which stores the bytes as they are: a record
    /// garbled on the way fails here, before anything acknowledges it.
    /// </summary>
    /// <exception cref="TxnRecordException">The record is torn, fails its checksum, or is not a txn of that zxid.</exception>
    public static void Verify(ReadOnlyMemory<byte> record, Zxid expectedZxid)
    {
        CheckSum(record.Span, expectedZxid);

        Zxid zxid;
        try
        {
            var reader = new MessagePackReader(record[HeaderBytes..]);
            zxid = ReadHeader(ref reader, expectedZxid, out _);
        }
        catch (Exception e) when (IsUndecodable(e))
        {
            throw new TxnRecordException(CorruptionKind.Undecodable, expectedZxid, e.Message, e);
        }

        CheckZxid(zxid, expectedZxid);
    }

    private static void CheckZxid(Zxid inside, Zxid expectedZxid)
    {
        if (inside != expectedZxid)
        {
            throw new TxnRecordException(CorruptionKind.ZxidMismatch, expectedZxid, $"record holds zxid {inside}");
        }
    }

    /// <summary>The payload's array header, format and zxid: the format is one this build reads, with its field count.</summary>
    private static Zxid ReadHeader(ref MessagePackReader reader, Zxid expectedZxid, out bool withCxid)
    {
        var fields = reader.ReadArrayHeader();
        var version = reader.ReadInt32();
        if (version is not (FormatVersion or FormatWithoutCxid))
        {
            throw new TxnRecordException(CorruptionKind.UnknownFormat, expectedZxid, $"txn format {version}, this build reads {FormatWithoutCxid} and {FormatVersion}");
        }

        withCxid = version == FormatVersion;
        Expect(fields == (withCxid ? 6 : 5), $"txn array of {(withCxid ? 6 : 5)}");
        return new Zxid(reader.ReadInt64());
    }

    /// <summary>What a payload that does not decode throws on the way (as opposed to a wrong format or zxid).</summary>
    private static bool IsUndecodable(Exception e) =>
        e is MessagePackSerializationException or EndOfStreamException or InvalidDataException or OverflowException;

    private static void CheckSum(ReadOnlySpan<byte> record, Zxid expectedZxid)
    {
        if (record.Length < HeaderBytes + 1)
        {
            throw new TxnRecordException(CorruptionKind.Truncated, expectedZxid, $"record is {record.Length} bytes, less than a header and a payload");
        }

        var stored = BinaryPrimitives.ReadUInt32LittleEndian(record);
        var computed = Crc32C.Compute(record[HeaderBytes..]);
        if (stored != computed)
        {
            throw new TxnRecordException(
                CorruptionKind.ChecksumMismatch, expectedZxid, $"stored crc32c 0x{stored:x8}, computed 0x{computed:x8} over {record.Length - HeaderBytes} bytes");
        }
    }

    private static Txn DecodePayload(ReadOnlyMemory<byte> payload, Zxid expectedZxid, AclCache? acls, bool longLivedData)
    {
        try
        {
            var reader = new MessagePackReader(payload);
            var zxid = ReadHeader(ref reader, expectedZxid, out var withCxid);
            var session = new SessionId(reader.ReadInt64());
            var cxid = withCxid ? reader.ReadInt32() : 0;
            var time = reader.ReadInt64();
            var op = ReadOp(ref reader, acls, nested: false, longLivedData);
            Expect(reader.End, "no bytes after the txn");
            return new Txn(zxid, session, time, op, cxid);
        }
        catch (Exception e) when (IsUndecodable(e))
        {
            throw new TxnRecordException(CorruptionKind.Undecodable, expectedZxid, e.Message, e);
        }
    }

    /// <summary>ZooKeeper's opcode numbers for the txn kinds (frozen: they are on disk).</summary>
    public static class OpCode
    {
        public const int Create = 1;
        public const int Delete = 2;
        public const int SetData = 5;
        public const int SetAcl = 7;
        public const int Check = 13;
        public const int Multi = 14;
        public const int CreateSession = -10;
        public const int CloseSession = -11;
    }

    internal static void WriteAcl(ref MessagePackWriter writer, AclList acl)
    {
        writer.WriteArrayHeader(acl.Count);
        foreach (var entry in acl.AsSpan())
        {
            writer.WriteArrayHeader(3);
            writer.Write((int)entry.Perms);
            WriteRequiredString(ref writer, entry.Id.Scheme);
            WriteRequiredString(ref writer, entry.Id.Identity);
        }
    }

    internal static AclList ReadAcl(ref MessagePackReader reader, AclCache? acls)
    {
        var count = reader.ReadArrayHeader();
        var entries = new Acl[count];
        for (var i = 0; i < count; i++)
        {
            Expect(reader.ReadArrayHeader() == 3, "acl entry of 3");
            var perms = (Perms)reader.ReadInt32();
            var scheme = ReadRequiredString(ref reader);
            var id = ReadRequiredString(ref reader);
            entries[i] = new Acl(perms, new Id(scheme, id));
        }

        var list = new AclList(entries);
        return acls is null ? list : acls.Intern(list);
    }

    /// <summary>
    /// Writes a string the reader requires. Nil would make a record that encodes but never decodes, which stops every
    /// later start, so refuse it here (the pipeline validates first: <c>TxnChecks</c>; this is the last guard).
    /// </summary>
    internal static void WriteRequiredString(ref MessagePackWriter writer, string? value) =>
        writer.Write(value ?? throw new InvalidOperationException("nil where the log requires a string: the record could not be read back"));

    internal static string ReadRequiredString(ref MessagePackReader reader) =>
        reader.ReadString() ?? throw new InvalidDataException("nil where a string is required");

    /// <summary>Long-lived data arrays of fewer bytes than this stay on the ordinary heap (see <see cref="ReadData"/>).</summary>
    internal const int PinnedDataBytes = 256;

    /// <summary>
    /// Reads znode data (nil: none). <paramref name="longLived"/>: for a tree being recovered (a snapshot loaded, the
    /// log replayed), which keeps nearly all it allocates; an array of <see cref="PinnedDataBytes"/> or more then goes to
    /// the pinned object heap, which collections never copy. On the ordinary heap each collection during a restart
    /// copied the new znodes' data from gen0 to gen1 and again to gen2: at 1 M znodes of 1 KiB, 105 of 115
    /// collections were gen1 ones promoting ~25 MB each, 1.4 s of pauses. The cost: that heap is never compacted, so
    /// the space of a recovered znode's data replaced later is reused only by later recoveries' data (a SNAP), or given
    /// back once a whole region of it is free.
    /// </summary>
    internal static byte[]? ReadData(ref MessagePackReader reader, bool longLived = false)
    {
        if (reader.ReadBytes() is not { } bytes)
            return null;
        if (!longLived || bytes.Length < PinnedDataBytes)
            return bytes.ToArray();
        var data = GC.AllocateUninitializedArray<byte>((int)bytes.Length, pinned: true);
        bytes.CopyTo(data);
        return data;
    }

    internal static void Expect(bool condition, string what)
    {
        if (!condition)
        {
            throw new InvalidDataException($"expected {what}");
        }
    }

    internal static void Expect(bool condition, [InterpolatedStringHandlerArgument(nameof(condition))] ref FailureText what)
    {
        if (!condition)
        {
            throw new InvalidDataException($"expected {what.ToString()}");
        }
    }

    private static void WriteOp(ref MessagePackWriter writer, TxnOp op, bool nested)
    {
        switch (op)
        {
            case CreateTxn c:
                writer.WriteArrayHeader(6);
                writer.Write(OpCode.Create);
                WriteRequiredString(ref writer, c.Path);
                writer.Write(c.Data);
                WriteAcl(ref writer, c.Acl);
                writer.Write(c.EphemeralOwner);
                writer.Write(c.ParentCreateCount);
                break;
            case DeleteTxn d:
                WritePathOnly(ref writer, OpCode.Delete, d.Path);
                break;
            case SetDataTxn s:
                writer.WriteArrayHeader(4);
                writer.Write(OpCode.SetData);
                WriteRequiredString(ref writer, s.Path);
                writer.Write(s.Data);
                writer.Write(s.Version);
                break;
            case SetAclTxn a:
                writer.WriteArrayHeader(4);
                writer.Write(OpCode.SetAcl);
                WriteRequiredString(ref writer, a.Path);
                WriteAcl(ref writer, a.Acl);
                writer.Write(a.Aversion);
                break;
            case CheckTxn k:
                WritePathOnly(ref writer, OpCode.Check, k.Path);
                break;
            case CreateSessionTxn s:
                writer.WriteArrayHeader(2);
                writer.Write(OpCode.CreateSession);
                writer.Write(s.TimeoutMillis);
                break;
            case CloseSessionTxn:
                writer.WriteArrayHeader(1);
                writer.Write(OpCode.CloseSession);
                break;
            case MultiTxn m when !nested:
                writer.WriteArrayHeader(2);
                writer.Write(OpCode.Multi);
                writer.WriteArrayHeader(m.Ops.Length);
                foreach (var inner in m.Ops)
                {
                    WriteOp(ref writer, inner, nested: true);
                }

                break;
            default:
                throw new InvalidOperationException($"Cannot encode txn op {op.GetType().Name}{(nested ? " inside a multi" : "")}.");
        }
    }

    private static void WritePathOnly(ref MessagePackWriter writer, int code, string path)
    {
        writer.WriteArrayHeader(2);
        writer.Write(code);
        WriteRequiredString(ref writer, path);
    }

    private static TxnOp ReadOp(ref MessagePackReader reader, AclCache? acls, bool nested, bool longLivedData)
    {
        var fields = reader.ReadArrayHeader();
        Expect(fields >= 1, "an op array");
        var code = reader.ReadInt32();
        switch (code)
        {
            case OpCode.Create when fields == 6:
                var path = ReadRequiredString(ref reader);
                var data = ReadData(ref reader, longLivedData);
                var acl = ReadAcl(ref reader, acls);
                return new CreateTxn(path, data, acl, reader.ReadInt64(), reader.ReadInt32());
            case OpCode.Delete when fields == 2:
                return new DeleteTxn(ReadRequiredString(ref reader));
            case OpCode.SetData when fields == 4:
                return new SetDataTxn(ReadRequiredString(ref reader), ReadData(ref reader, longLivedData), reader.ReadInt32());
            case OpCode.SetAcl when fields == 4:
                return new SetAclTxn(ReadRequiredString(ref reader), ReadAcl(ref reader, acls), reader.ReadInt32());
            case OpCode.Check when fields == 2:
                return new CheckTxn(ReadRequiredString(ref reader));
            case OpCode.CreateSession when fields == 2:
                return new CreateSessionTxn(reader.ReadInt32());
            case OpCode.CloseSession when fields == 1:
                return CloseSessionTxn.Instance;
            case OpCode.Multi when fields == 2 && !nested:
                var count = reader.ReadArrayHeader();
                var ops = new TxnOp[count];
                for (var i = 0; i < count; i++)
                {
                    ops[i] = ReadOp(ref reader, acls, nested: true, longLivedData);
                }

                return new MultiTxn(ops);
            default:
                throw new InvalidDataException($"op {code} with {fields} fields{(nested ? " inside a multi" : "")} is not a known txn op");
        }
    }
}

/// <summary>
/// A txn as <see cref="TxnCodec"/>'s checksummed record, with the zxid it is logged under: what a log stores when
/// the record was made already (a replicated txn arrives encoded), instead of a <see cref="Txn"/> to encode again.
/// </summary>
internal readonly record struct EncodedTxn(Zxid Zxid, ReadOnlyMemory<byte> Record);
