using System.Text;
using Zk.Embedded.Api;
using Zk.Embedded.Tests.Storage;
using Zk.Embedded.Tree;
using Zk.Embedded.Txns;

namespace Zk.Embedded.Tests.Txns;

public sealed class TxnCodecTests
{
    private static readonly AclList Digest = new([new Acl(Perms.Read | Perms.Admin, new Id("digest", "bob:x1Y2z3=")), new Acl(Perms.All, Id.Anyone)]);

    internal static readonly string[] KindNames =
        ["create", "create-null-data", "create-ttl", "delete", "setData", "setData-empty", "setAcl", "check", "createSession", "closeSession", "multi", "multi-empty"];

    public static TheoryData<string> Kinds => new(KindNames);

    internal static Txn Sample(string kind)
    {
        var zxid = new Zxid(7, 42);
        TxnOp op = kind switch
        {
            "create" => new CreateTxn("/app/node-0000000007", [1, 2, 3], Digest, 0x1234_5678_9abcL, 8),
            "create-null-data" => new CreateTxn("/a", null, AclList.Open, 0, 1),
            "create-ttl" => new CreateTxn("/t", [], AclList.Open, ZNode.TtlMask | 5000, 1),
            "delete" => new DeleteTxn("/app/x"),
            "setData" => new SetDataTxn("/app", Encoding.UTF8.GetBytes("héllo"), int.MaxValue),
            "setData-empty" => new SetDataTxn("/app", [], 0),
            "setAcl" => new SetAclTxn("/app", Digest, 3),
            "check" => new CheckTxn("/app"),
            "createSession" => new CreateSessionTxn(30_000),
            "closeSession" => CloseSessionTxn.Instance,
            "multi" => new MultiTxn([new CreateTxn("/m", null, Digest, ZNode.ContainerOwner, 2), new CheckTxn("/m"), new SetDataTxn("/m", [9], 1), new DeleteTxn("/m")]),
            "multi-empty" => new MultiTxn([]),
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };
        return new Txn(zxid, new SessionId(unchecked((long)0xFEDC_BA98_7654_3210UL)), 1_700_000_000_123, op, Cxid: -123_456);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Every_txn_kind_survives_a_round_trip(string kind)
    {
        var txn = Sample(kind);
        var record = TxnCodec.Encode(txn);
        StorageAssert.SameTxn(txn, TxnCodec.Decode(record, txn.Zxid));
    }

    [Fact]
    public void Decoded_acls_are_interned_when_a_cache_is_given()
    {
        var cache = new AclCache();
        var a = (SetAclTxn)TxnCodec.Decode(TxnCodec.Encode(Sample("setAcl")), Sample("setAcl").Zxid, cache).Op;
        var b = (SetAclTxn)TxnCodec.Decode(TxnCodec.Encode(Sample("setAcl")), Sample("setAcl").Zxid, cache).Op;
        Assert.Same(a.Acl, b.Acl);
        var open = (CreateTxn)TxnCodec.Decode(TxnCodec.Encode(Sample("create-null-data")), Sample("create-null-data").Zxid, cache).Op;
        Assert.Same(AclList.Open, open.Acl);
    }

    /// <summary>The on-disk layout is a contract with every log ever written: these bytes may never change.</summary>
    [Fact]
    public void The_record_layout_is_frozen()
    {
        var txn = new Txn(new Zxid(1, 2), new SessionId(3), 4, new CreateTxn("/a", [0xAB], AclList.Open, 0, 1), Cxid: 5);
        var hex = Convert.ToHexString(TxnCodec.Encode(txn));
        // crc32c(le) | 96 02 cf 0000000100000002 03 05 04 | 96 01 a2"/a" c4 01 ab 91 93 1f a5"world" a6"anyone" 00 01
        Assert.Equal("FA241D07" + "9602CF0000000100000002030504" + "9601A22F61C401AB91931FA5776F726C64A6616E796F6E650001", hex);
    }

    /// <summary>Logs written before txns carried a cxid (format 1) still read, every txn with cxid 0.</summary>
    [Fact]
    public void A_record_of_the_format_before_the_cxid_still_decodes_with_cxid_0()
    {
        // The frozen bytes of format 1: crc32c(le) | 95 01 cf 0000000100000002 03 04 | op
        var record = Convert.FromHexString("740E69CF" + "9501CF00000001000000020304" + "9601A22F61C401AB91931FA5776F726C64A6616E796F6E650001");
        var txn = TxnCodec.Decode(record, new Zxid(1, 2));
        StorageAssert.SameTxn(new Txn(new Zxid(1, 2), new SessionId(3), 4, new CreateTxn("/a", [0xAB], AclList.Open, 0, 1), Cxid: 0), txn);
    }

    [Fact]
    public void Op_numbers_are_ZooKeepers_opcodes_and_frozen()
    {
        Assert.Equal(
            [1, 2, 5, 7, 13, 14, -10, -11],
            [TxnCodec.OpCode.Create, TxnCodec.OpCode.Delete, TxnCodec.OpCode.SetData, TxnCodec.OpCode.SetAcl, TxnCodec.OpCode.Check,
             TxnCodec.OpCode.Multi, TxnCodec.OpCode.CreateSession, TxnCodec.OpCode.CloseSession]);
        Assert.Equal(2, TxnCodec.FormatVersion);
        Assert.Equal(1, TxnCodec.FormatWithoutCxid);
    }

    [Fact]
    public void Any_changed_byte_is_detected_as_a_checksum_mismatch_naming_the_zxid()
    {
        var txn = Sample("multi");
        var record = TxnCodec.Encode(txn);
        for (var i = 0; i < record.Length; i++)
        {
            var bad = (byte[])record.Clone();
            bad[i] ^= 0x10;
            var e = Assert.Throws<TxnRecordException>(() => TxnCodec.Decode(bad, txn.Zxid));
            Assert.Equal(CorruptionKind.ChecksumMismatch, e.Kind);
            Assert.Equal(txn.Zxid, e.Zxid);
            Assert.Contains("0x70000002a", e.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void A_torn_record_is_reported_as_truncated_or_mismatched()
    {
        var txn = Sample("create");
        var record = TxnCodec.Encode(txn);
        Assert.Equal(CorruptionKind.Truncated, Assert.Throws<TxnRecordException>(() => TxnCodec.Decode(record.AsMemory(0, 3), txn.Zxid)).Kind);
        Assert.Equal(CorruptionKind.ChecksumMismatch, Assert.Throws<TxnRecordException>(() => TxnCodec.Decode(record.AsMemory(0, record.Length - 1), txn.Zxid)).Kind);
    }

    [Fact]
    public void A_record_under_the_wrong_key_is_a_zxid_mismatch()
    {
        var txn = Sample("delete");
        var e = Assert.Throws<TxnRecordException>(() => TxnCodec.Decode(TxnCodec.Encode(txn), new Zxid(txn.Zxid.Value + 1)));
        Assert.Equal(CorruptionKind.ZxidMismatch, e.Kind);
    }

    /// <summary>
    /// What a member checks before it logs a leader's record as it came (<see cref="TxnCodec.Verify"/>): the same
    /// faults Decode finds in the header and checksum, without decoding the op.
    /// </summary>
    [Theory]
    [MemberData(nameof(Kinds))]
    public void Verify_accepts_every_kind_and_refuses_a_changed_byte_a_torn_record_another_key_and_another_format(string kind)
    {
        var txn = Sample(kind);
        var record = TxnCodec.Encode(txn);
        TxnCodec.Verify(record, txn.Zxid);

        for (var i = 0; i < record.Length; i++)
        {
            var bad = (byte[])record.Clone();
            bad[i] ^= 0x10;
            Assert.Equal(CorruptionKind.ChecksumMismatch, Assert.Throws<TxnRecordException>(() => TxnCodec.Verify(bad, txn.Zxid)).Kind);
        }

        Assert.Equal(CorruptionKind.Truncated, Assert.Throws<TxnRecordException>(() => TxnCodec.Verify(record.AsMemory(0, 4), txn.Zxid)).Kind);
        Assert.Equal(CorruptionKind.ChecksumMismatch, Assert.Throws<TxnRecordException>(() => TxnCodec.Verify(record.AsMemory(0, record.Length - 1), txn.Zxid)).Kind);
        Assert.Equal(CorruptionKind.ZxidMismatch, Assert.Throws<TxnRecordException>(() => TxnCodec.Verify(record, new Zxid(txn.Zxid.Value + 1))).Kind);

        // A format this build does not read, with a checksum that matches it.
        var foreign = (byte[])record.Clone();
        foreign[TxnCodec.HeaderBytes + 1] = 9; // the version, right after the array header
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(foreign, Crc32C.Compute(foreign.AsSpan(TxnCodec.HeaderBytes)));
        Assert.Equal(CorruptionKind.UnknownFormat, Assert.Throws<TxnRecordException>(() => TxnCodec.Verify(foreign, txn.Zxid)).Kind);
    }

    [Fact]
    public void Crc32c_matches_the_check_value_and_the_table_agrees_with_hardware()
    {
        Assert.Equal(0xE3069283u, Crc32C.Compute("123456789"u8));
        var random = new Random(1);
        for (var length = 0; length < 100; length++)
        {
            var bytes = new byte[length];
            random.NextBytes(bytes);
            Assert.Equal(~Crc32C.UpdateTable(~0u, bytes), Crc32C.Compute(bytes));
        }
    }

    [Fact]
    public void A_multi_inside_a_multi_is_refused()
    {
        var txn = new Txn(new Zxid(1), new SessionId(1), 1, new MultiTxn([new MultiTxn([])]));
        Assert.Throws<InvalidOperationException>(() => TxnCodec.Encode(txn));
    }
}
