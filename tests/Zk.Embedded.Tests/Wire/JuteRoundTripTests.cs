using CsCheck;
using Zk.Embedded.Api;
using Zk.Embedded.Wire.Jute;
using static Zk.Embedded.Tests.Wire.JuteGens;

namespace Zk.Embedded.Tests.Wire;

/// <summary>
/// Every record survives encode, decode, encode: the decoder consumes exactly the bytes written and gives back a
/// record that encodes to the same bytes; where a record has value equality (no arrays or lists) it is also equal.
/// CsCheck prints its seed on failure; set CsCheck_Seed to replay.
/// </summary>
public sealed class JuteRoundTripTests
{
    private const int Iterations = 300;

    [Fact]
    public void Session_records_round_trip()
    {
        Check(Gen.Select(Int, Long, Int, Long, Bytes, Bool, Bool, (v, z, t, s, p, ro, has) =>
            new ConnectRequest(v, z, t, s, p, has && ro) { HasReadOnly = has }));
        Check(Gen.Select(Int, Int, Long, Bytes, Bool, (v, t, s, p, ro) => new ConnectResponse(v, t, s, p, ro)));
        Check(Gen.Select(Int, Int, (x, t) => new RequestHeader(x, (OpCode)t)), equal: true);
        Check(Gen.Select(Int, Long, Int, (x, z, e) => new ReplyHeader(x, z, (ZkErrorCode)e)), equal: true);
        Check(Gen.Select(Int, Int, NullableText, (t, s, p) => new WatcherEvent((EventType)t, (KeeperState)s, p)), equal: true);
        Check(Gen.Select(Int, NullableText, Bytes, (t, s, a) => new AuthPacket(t, s, a)));
        Check(Int.Select(e => new ErrorResponse((ZkErrorCode)e)), equal: true);
        Check(Gen.Select(Long, Texts, Texts, Texts, (z, d, e, c) => new SetWatches(z, d, e, c)));
        Check(Gen.Select(Long, Texts, Texts, Texts, Texts, Texts, (z, d, e, c, p, r) => new SetWatches2(z, d, e, c, p, r)));
        Check(ClientInfos.Select(c => new WhoAmIResponse(c)));
        Check(Gen.Select(Int, Bool, Int, (t, d, e) => new MultiHeader((OpCode)t, d, e)), equal: true);
    }

    [Fact]
    public void Node_requests_round_trip()
    {
        Check(Gen.Select(NullableText, Bytes, Acls, Int, (p, d, a, f) => new CreateRequest(p, d, a, f)));
        Check(Gen.Select(NullableText, Bytes, Acls, Int, Long, (p, d, a, f, t) => new CreateTtlRequest(p, d, a, f, t)));
        Check(Gen.Select(NullableText, Int, (p, v) => new DeleteRequest(p, v)), equal: true);
        Check(Gen.Select(NullableText, Int, (p, v) => new CheckVersionRequest(p, v)), equal: true);
        Check(Gen.Select(NullableText, Bool, (p, w) => new ExistsRequest(p, w)), equal: true);
        Check(Gen.Select(NullableText, Bool, (p, w) => new GetDataRequest(p, w)), equal: true);
        Check(Gen.Select(NullableText, Bool, (p, w) => new GetChildrenRequest(p, w)), equal: true);
        Check(Gen.Select(NullableText, Bool, (p, w) => new GetChildren2Request(p, w)), equal: true);
        Check(Gen.Select(NullableText, Bytes, Int, (p, d, v) => new SetDataRequest(p, d, v)));
        Check(Gen.Select(NullableText, Acls, Int, (p, a, v) => new SetAclRequest(p, a, v)));
        Check(NullableText.Select(p => new GetAclRequest(p)), equal: true);
        Check(NullableText.Select(p => new SyncRequest(p)), equal: true);
        Check(NullableText.Select(p => new GetAllChildrenNumberRequest(p)), equal: true);
        Check(NullableText.Select(p => new GetEphemeralsRequest(p)), equal: true);
        Check(Gen.Select(NullableText, Int, (p, t) => new RemoveWatchesRequest(p, (WatcherType)t)), equal: true);
        Check(Gen.Select(NullableText, Int, (p, t) => new CheckWatchesRequest(p, (WatcherType)t)), equal: true);
        Check(Gen.Select(NullableText, Int, (p, m) => new AddWatchRequest(p, (AddWatchMode)m)), equal: true);
    }

    [Fact]
    public void Node_responses_round_trip()
    {
        Check(NullableText.Select(p => new CreateResponse(p)), equal: true);
        Check(Gen.Select(NullableText, Stats, (p, s) => new Create2Response(p, s)), equal: true);
        Check(Stats.Select(s => new StatResponse(s)), equal: true);
        Check(Gen.Select(Bytes, Stats, (d, s) => new GetDataResponse(d is null ? (ReadOnlyMemory<byte>?)null : d, s)));
        Check(Gen.Select(Acls, Stats, (a, s) => new GetAclResponse(a, s)));
        Check(Texts.Select(c => new GetChildrenResponse(c)));
        Check(Gen.Select(Texts, Stats, (c, s) => new GetChildren2Response(c, s)));
        Check(NullableText.Select(p => new SyncResponse(p)), equal: true);
        Check(Int.Select(n => new GetAllChildrenNumberResponse(n)), equal: true);
        Check(Texts.Select(e => new GetEphemeralsResponse(e)));
    }

    [Fact]
    public void Multi_requests_and_responses_round_trip_keeping_each_ops_wire_opcode()
    {
        Check(Multi);
        Check(JuteGens.MultiResponse);
        Multi.Sample(
            multi =>
            {
                var decoded = Jute.Decode<MultiOperationRecord>(Jute.ToArray(multi));
                Assert.Equal(multi.Ops.Count, decoded.Ops.Count);
                for (var i = 0; i < multi.Ops.Count; i++)
                {
                    Assert.Equal(multi.Ops[i].Type, decoded.Ops[i].Type);
                    Assert.Equal(multi.Ops[i].Op.GetType(), decoded.Ops[i].Op.GetType());
                    Assert.Equal(multi.Ops[i].Op.Path, decoded.Ops[i].Op.Path);
                }
            },
            iter: Iterations);
    }

    [Fact]
    public void Null_and_empty_buffers_strings_and_vectors_stay_distinct()
    {
        var withNulls = Jute.Decode<SetDataRequest>(Jute.ToArray(new SetDataRequest(null, null, 1)));
        var withEmpties = Jute.Decode<SetDataRequest>(Jute.ToArray(new SetDataRequest("", [], 1)));
        Assert.Null(withNulls.Path);
        Assert.Null(withNulls.Data);
        Assert.Equal("", withEmpties.Path);
        Assert.NotNull(withEmpties.Data);
        Assert.Empty(withEmpties.Data);

        Assert.Null(Jute.Decode<GetChildrenResponse>(Jute.ToArray(new GetChildrenResponse(null))).Children);
        Assert.Empty(Jute.Decode<GetChildrenResponse>(Jute.ToArray(new GetChildrenResponse([]))).Children!);
        Assert.Null(Jute.Decode<GetDataResponse>(Jute.ToArray(new GetDataResponse(null, default))).Data);
        Assert.Equal(0, Jute.Decode<GetDataResponse>(Jute.ToArray(new GetDataResponse(ReadOnlyMemory<byte>.Empty, default))).Data?.Length);
    }

    [Fact]
    public void Decoded_acls_and_strings_equal_what_was_written()
    {
        Gen.Select(NullableText, Acls, Int).Sample(
            (path, acl, version) =>
            {
                var decoded = Jute.Decode<SetAclRequest>(Jute.ToArray(new SetAclRequest(path, acl, version)));
                Assert.Equal(path, decoded.Path);
                Assert.Equal(version, decoded.Version);
                Assert.Equal(acl, decoded.Acl);
            },
            iter: Iterations);
    }

    private static void Check<T>(Gen<T> gen, bool equal = false)
        where T : IJuteRecord<T>
    {
        gen.Sample(
            value =>
            {
                var bytes = Jute.ToArray(value);
                Assert.True(Jute.TryDecode<T>(bytes, out var decoded, out var consumed), $"{typeof(T).Name} did not decode from its own bytes");
                Assert.Equal(bytes.Length, consumed);
                Assert.Equal(bytes, Jute.ToArray(decoded));
                if (equal)
                {
                    Assert.Equal(value, decoded);
                }
            },
            iter: Iterations);
    }
}
