using Zk.Embedded.Api;
using Zk.Embedded.Wire.Jute;

namespace Zk.Embedded.Tests.Wire;

/// <summary>
/// Bytes written by hand from zookeeper.jute and BinaryOutputArchive (big-endian ints and longs, bool = 1 byte,
/// buffer and ustring = int length or -1, vector = int count or -1), so encoder and decoder cannot agree on a mistake.
/// </summary>
public sealed class JuteGoldenTests
{
    private const string ConnectRequestBody =
        "00000000" + "0000000100000002" + "00007530" + "0000000000000000" + "00000010" + "00000000000000000000000000000000";

    // czxid 1, mzxid 2, ctime 3, mtime 4, version 5, cversion 6, aversion 7, ephemeralOwner 8, dataLength 9,
    // numChildren 10, pzxid 11.
    private const string StatHex =
        "0000000000000001" + "0000000000000002" + "0000000000000003" + "0000000000000004" + "00000005" + "00000006" +
        "00000007" + "0000000000000008" + "00000009" + "0000000A" + "000000000000000B";

    private static readonly Stat SampleStat = new(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11);

    [Fact]
    public void A_ConnectRequest_with_the_readOnly_byte_is_45_bytes()
    {
        var request = new ConnectRequest(0, 0x1_0000_0002, 30000, 0, new byte[16], false);
        var bytes = Jute.ToArray(request);

        Assert.Equal(45, bytes.Length);
        Assert.Equal(Hex(ConnectRequestBody + "00"), bytes);
        var decoded = Jute.Decode<ConnectRequest>(Hex(ConnectRequestBody + "01"));
        Assert.True(decoded.HasReadOnly);
        Assert.True(decoded.ReadOnly);
        Assert.Equal(0x1_0000_0002, decoded.LastZxidSeen);
        Assert.Equal(30000, decoded.TimeoutMs);
        Assert.Equal(new byte[16], decoded.Password);
    }

    [Fact]
    public void A_ConnectRequest_of_44_bytes_without_readOnly_decodes_as_not_read_only()
    {
        Jute.TryDecode<ConnectRequest>(Hex(ConnectRequestBody), out var decoded, out var consumed);

        Assert.Equal(44, consumed);
        Assert.False(decoded.HasReadOnly);
        Assert.False(decoded.ReadOnly);
        Assert.Equal(30000, decoded.TimeoutMs);
        Assert.Equal(Hex(ConnectRequestBody), Jute.ToArray(decoded));
    }

    [Fact]
    public void A_ConnectResponse_ends_with_the_readOnly_byte_and_decodes_without_it()
    {
        var response = new ConnectResponse(0, 4000, 0x0102030405060708, [0xAB, 0xCD], true);
        var expected = "00000000" + "00000FA0" + "0102030405060708" + "00000002" + "ABCD";

        Assert.Equal(Hex(expected + "01"), Jute.ToArray(response));
        Assert.False(Jute.Decode<ConnectResponse>(Hex(expected)).ReadOnly);
    }

    [Fact]
    public void A_ReplyHeader_is_xid_zxid_err()
    {
        var header = new ReplyHeader(7, 0x1_0000_0005, ZkErrorCode.NoNode);
        var bytes = Hex("00000007" + "0000000100000005" + "FFFFFF9B");

        Assert.Equal(bytes, Jute.ToArray(header));
        Assert.Equal(header, Jute.Decode<ReplyHeader>(bytes));
        Assert.Equal(ReplyHeader.Bytes, bytes.Length);
    }

    [Fact]
    public void A_notification_is_a_ReplyHeader_with_xid_minus_1_then_a_WatcherEvent()
    {
        var writer = new System.Buffers.ArrayBufferWriter<byte>();
        Jute.Encode(new ReplyHeader(Xids.Notification, -1, ZkErrorCode.Ok), writer);
        Jute.Encode(new WatcherEvent(EventType.NodeDataChanged, KeeperState.SyncConnected, "/a"), writer);

        Assert.Equal(Hex("FFFFFFFF" + "FFFFFFFFFFFFFFFF" + "00000000" + "00000003" + "00000003" + "00000002" + "2F61"), writer.WrittenSpan.ToArray());
    }

    [Fact]
    public void A_Stat_is_68_bytes_in_jute_field_order()
    {
        var bytes = Jute.ToArray(new StatResponse(SampleStat));

        Assert.Equal(JuteWriter.StatBytes, bytes.Length);
        Assert.Equal(Hex(StatHex), bytes);
        Assert.Equal(SampleStat, Jute.Decode<StatResponse>(bytes).Stat);
    }

    [Fact]
    public void Strings_are_UTF8_with_a_byte_length_and_null_is_minus_1()
    {
        Assert.Equal(Hex("00000003" + "2FC3A9"), Jute.ToArray(new SyncRequest("/é")));
        Assert.Equal(Hex("00000005" + "2FF09F9880"), Jute.ToArray(new SyncRequest("/\U0001F600")));
        Assert.Equal(Hex("FFFFFFFF"), Jute.ToArray(new SyncRequest(null)));
        Assert.Equal(Hex("00000000"), Jute.ToArray(new SyncRequest("")));
    }

    [Fact]
    public void Invalid_UTF8_decodes_to_replacement_characters_as_in_Java()
    {
        Assert.Equal("/\uFFFD", Jute.Decode<SyncRequest>(Hex("00000002" + "2FFF")).Path);
    }

    [Fact]
    public void A_create_request_carries_path_data_acl_vector_and_flags()
    {
        var request = new CreateRequest("/a", "x"u8.ToArray(), Acl.OpenUnsafe, (int)CreateMode.EphemeralSequential);
        var expected = "00000002" + "2F61" + "00000001" + "78" + CreateAclHex + "00000003";

        Assert.Equal(Hex(expected), Jute.ToArray(request));
        var decoded = Jute.Decode<CreateRequest>(Hex(expected));
        Assert.Equal(Acl.OpenUnsafe, decoded.Acl);
    }

    [Fact]
    public void A_multi_request_is_headed_ops_then_the_done_header()
    {
        var multi = new MultiOperationRecord(
        [
            new MultiOp(OpCode.Create2, new CreateOp("/a", "x"u8.ToArray(), Acl.OpenUnsafe, CreateMode.Persistent, -1)),
            new MultiOp(OpCode.Delete, new DeleteOp("/b", -1)),
            new MultiOp(OpCode.Check, new CheckOp("/a", 0)),
        ]);
        var expected =
            "0000000F" + "00" + "FFFFFFFF" + "00000002" + "2F61" + "00000001" + "78" + CreateAclHex + "00000000" +
            "00000002" + "00" + "FFFFFFFF" + "00000002" + "2F62" + "FFFFFFFF" +
            "0000000D" + "00" + "FFFFFFFF" + "00000002" + "2F61" + "00000000" +
            "FFFFFFFF" + "01" + "FFFFFFFF";

        Assert.Equal(Hex(expected), Jute.ToArray(multi));
        var decoded = Jute.Decode<MultiOperationRecord>(Hex(expected));
        Assert.Equal([OpCode.Create2, OpCode.Delete, OpCode.Check], decoded.Ops.Select(o => o.Type));
        var create = Assert.IsType<CreateOp>(decoded.Ops[0].Op);
        Assert.Equal(("/a", CreateMode.Persistent, -1L), (create.Path, create.Mode, create.Ttl));
        Assert.Equal(new DeleteOp("/b", -1), decoded.Ops[1].Op);
        Assert.Equal(new CheckOp("/a", 0), decoded.Ops[2].Op);
    }

    [Fact]
    public void A_multi_response_gives_a_plain_create_no_stat_and_create2_a_stat()
    {
        MultiOp[] ops =
        [
            new(OpCode.Create, Op.Create("/a", null, Acl.OpenUnsafe, CreateMode.Persistent)),
            new(OpCode.CreateContainer, Op.Create("/c", null, Acl.OpenUnsafe, CreateMode.Container)),
            new(OpCode.Delete, Op.Delete("/d")),
            new(OpCode.SetData, Op.SetData("/a", null)),
        ];
        OpResult[] results = [new CreateResult("/a", SampleStat), new CreateResult("/c", SampleStat), DeleteResult.Instance, new SetDataResult(SampleStat)];
        var expected =
            "00000001" + "00" + "00000000" + "00000002" + "2F61" +
            "0000000F" + "00" + "00000000" + "00000002" + "2F63" + StatHex +
            "00000002" + "00" + "00000000" +
            "00000005" + "00" + "00000000" + StatHex +
            "FFFFFFFF" + "01" + "FFFFFFFF";

        Assert.Equal(Hex(expected), Jute.ToArray(MultiResponse.ForRequest(ops, results)));
        var decoded = Jute.Decode<MultiResponse>(Hex(expected));
        Assert.Equal([OpCode.Create, OpCode.Create2, OpCode.Delete, OpCode.SetData], decoded.Results.Select(r => r.Type));
        Assert.Equal(new CreateResult("/a", default), decoded.Results[0].Result);
        Assert.Equal(new CreateResult("/c", SampleStat), decoded.Results[1].Result);
        Assert.Equal(new SetDataResult(SampleStat), decoded.Results[3].Result);
    }

    [Fact]
    public void A_failed_multi_answers_error_results_with_the_code_in_header_and_body()
    {
        // ZK-NOTES "Failed multi": ops before the failing one report 0, the failing op its code, later ops -2.
        OpResult[] results = [new ErrorResult(ZkErrorCode.Ok), new ErrorResult(ZkErrorCode.NoNode), new ErrorResult(ZkErrorCode.RuntimeInconsistency)];
        MultiOp[] ops = [new(OpCode.Check, Op.Check("/a", 0)), new(OpCode.Delete, Op.Delete("/b")), new(OpCode.Delete, Op.Delete("/c"))];
        var expected =
            "FFFFFFFF" + "00" + "00000000" + "00000000" +
            "FFFFFFFF" + "00" + "FFFFFF9B" + "FFFFFF9B" +
            "FFFFFFFF" + "00" + "FFFFFFFE" + "FFFFFFFE" +
            "FFFFFFFF" + "01" + "FFFFFFFF";

        Assert.Equal(Hex(expected), Jute.ToArray(MultiResponse.ForRequest(ops, results)));
        Assert.Equal(results, Jute.Decode<MultiResponse>(Hex(expected)).Results.Select(r => r.Result));
    }

    [Fact]
    public void A_multi_mixing_read_and_write_ops_or_with_an_unknown_op_is_malformed()
    {
        var mixed = "00000004" + "00" + "FFFFFFFF" + "00000002" + "2F61" + "00" +
                    "00000002" + "00" + "FFFFFFFF" + "00000002" + "2F61" + "FFFFFFFF" + "FFFFFFFF" + "01" + "FFFFFFFF";
        var unknown = "00000003" + "00" + "FFFFFFFF" + "00000002" + "2F61" + "00" + "FFFFFFFF" + "01" + "FFFFFFFF";

        Assert.False(Jute.TryDecode<MultiOperationRecord>(Hex(mixed), out _));
        Assert.False(Jute.TryDecode<MultiOperationRecord>(Hex(unknown), out _));
        Assert.Throws<JuteException>(() => Jute.Decode<MultiOperationRecord>(Hex(unknown)));
    }

    [Fact]
    public void A_multi_op_with_a_null_path_or_acl_decodes_to_what_Processing_rejects_with_Javas_codes()
    {
        var nulls = "00000001" + "00" + "FFFFFFFF" + "FFFFFFFF" + "FFFFFFFF" + "FFFFFFFF" + "00000009" + "FFFFFFFF" + "01" + "FFFFFFFF";

        var create = Assert.IsType<CreateOp>(Jute.Decode<MultiOperationRecord>(Hex(nulls)).Ops[0].Op);
        Assert.Equal("", create.Path);
        Assert.Empty(create.Acl);
        Assert.Null(create.Data);
        Assert.False(CreateModeExtensions.TryFromFlag((int)create.Mode, out _));
    }

    [Fact]
    public void A_whoAmI_response_is_a_vector_of_scheme_and_user()
    {
        var response = new WhoAmIResponse([new ClientInfo("ip", "127.0.0.1"), new ClientInfo("digest", "bob")]);
        var expected = "00000002" + "00000002" + "6970" + "00000009" + "3132372E302E302E31" + "00000006" + "646967657374" + "00000003" + "626F62";

        Assert.Equal(Hex(expected), Jute.ToArray(response));
        Assert.Equal(response.ClientInfo, Jute.Decode<WhoAmIResponse>(Hex(expected)).ClientInfo);
    }

    // One ACL: perms 31 (All), Id("world", "anyone").
    private const string CreateAclHex = "00000001" + "0000001F" + "00000005" + "776F726C64" + "00000006" + "616E796F6E65";

    private static byte[] Hex(string hex) => Convert.FromHexString(hex);
}
