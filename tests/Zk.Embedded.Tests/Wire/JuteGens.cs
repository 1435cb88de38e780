using System.Text;
using CsCheck;
using Zk.Embedded.Api;
using Zk.Embedded.Wire.Jute;

namespace Zk.Embedded.Tests.Wire;

/// <summary>
/// Generators for jute records: strings over every UTF-8 length class (1 to 4 bytes, controls included), null vs
/// empty buffers and vectors, numbers at their extremes. No lone surrogates: they are not text and do not round trip
/// (they become U+FFFD, as in Java's decoder).
/// </summary>
internal static class JuteGens
{
    public static readonly Gen<string> Text = Gen.OneOf(
            Gen.Int[0, 0x7F], Gen.Int[0x80, 0x7FF], Gen.Int[0x800, 0xD7FF], Gen.Int[0xE000, 0xFFFF], Gen.Int[0x10000, 0x10FFFF])
        .Array[0, 12]
        .Select(ToText);

    public static readonly Gen<string?> NullableText = Gen.Null(Text, 0.1);

    public static readonly Gen<byte[]?> Bytes = Gen.Null(Gen.Byte.Array[0, 40], 0.15);

    public static readonly Gen<long> Long = Gen.OneOf(Gen.Long, Gen.OneOfConst(long.MinValue, long.MaxValue, 0L, -1L));

    public static readonly Gen<int> Int = Gen.OneOf(Gen.Int, Gen.OneOfConst(int.MinValue, int.MaxValue, 0, -1));

    public static readonly Gen<bool> Bool = Gen.Bool;

    public static readonly Gen<Stat> Stats = Gen.Select(Long.Array[6], Int.Array[5], (l, i) =>
        new Stat(l[0], l[1], l[2], l[3], i[0], i[1], i[2], l[4], i[3], i[4], l[5]));

    public static readonly Gen<Acl> Acl = Gen.Select(Int, Text, Text, (perms, scheme, id) => new Acl((Perms)perms, new Id(scheme, id)));

    public static readonly Gen<IReadOnlyList<Acl>?> Acls = Gen.Null(Acl.Array[0, 4].Select(a => (IReadOnlyList<Acl>)a), 0.1);

    public static readonly Gen<IReadOnlyList<string>?> Texts = Gen.Null(Text.Array[0, 5].Select(a => (IReadOnlyList<string>)a), 0.1);

    public static readonly Gen<IReadOnlyList<ClientInfo>?> ClientInfos =
        Gen.Null(Gen.Select(Text, Text, (s, u) => new ClientInfo(s, u)).Array[0, 4].Select(a => (IReadOnlyList<ClientInfo>)a), 0.1);

    private static readonly Gen<IReadOnlyList<Acl>> SomeAcls = Acl.Array[0, 3].Select(a => (IReadOnlyList<Acl>)a);

    /// <summary>Write ops of a multi (never null paths or ACL lists: those decode to "" and [] on purpose).</summary>
    public static readonly Gen<MultiOp> WriteOp = Gen.OneOf(
        Gen.Select(Gen.OneOfConst(OpCode.Create, OpCode.Create2, OpCode.CreateContainer), Text, Bytes, SomeAcls, Gen.Int[0, 6],
            (type, path, data, acl, flags) => new MultiOp(type, new CreateOp(path, data, acl, (CreateMode)flags, -1))),
        Gen.Select(Text, Bytes, SomeAcls, Gen.Int[5, 6], Long,
            (path, data, acl, flags, ttl) => new MultiOp(OpCode.CreateTtl, new CreateOp(path, data, acl, (CreateMode)flags, ttl))),
        Gen.Select(Text, Int, (path, version) => new MultiOp(OpCode.Delete, new DeleteOp(path, version))),
        Gen.Select(Text, Bytes, Int, (path, data, version) => new MultiOp(OpCode.SetData, new SetDataOp(path, data, version))),
        Gen.Select(Text, Int, (path, version) => new MultiOp(OpCode.Check, new CheckOp(path, version))));

    public static readonly Gen<MultiOp> ReadOp = Gen.OneOf(
        Text.Select(path => new MultiOp(OpCode.GetData, new GetDataOp(path))),
        Text.Select(path => new MultiOp(OpCode.GetChildren, new GetChildrenOp(path))));

    public static readonly Gen<MultiOperationRecord> Multi = Gen.OneOf(WriteOp.Array[0, 5], ReadOp.Array[0, 5])
        .Select(ops => new MultiOperationRecord(ops));

    public static readonly Gen<MultiResult> Result = Gen.OneOf(
        Text.Select(path => new MultiResult(OpCode.Create, new CreateResult(path, default))),
        Gen.Select(Text, Stats, (path, stat) => new MultiResult(OpCode.Create2, new CreateResult(path, stat))),
        Gen.Const(new MultiResult(OpCode.Delete, DeleteResult.Instance)),
        Gen.Const(new MultiResult(OpCode.Check, CheckResult.Instance)),
        Stats.Select(stat => new MultiResult(OpCode.SetData, new SetDataResult(stat))),
        Gen.Select(Gen.Byte.Array[0, 20], Stats, (data, stat) => new MultiResult(OpCode.GetData, new GetDataResult(data, stat))),
        Text.Array[0, 4].Select(names => new MultiResult(OpCode.GetChildren, new GetChildrenResult(names))),
        Int.Select(code => new MultiResult(OpCode.Error, new ErrorResult((ZkErrorCode)code))));

    public static readonly Gen<MultiResponse> MultiResponse = Result.Array[0, 6].Select(r => new MultiResponse(r));

    private static string ToText(int[] codePoints)
    {
        var text = new StringBuilder();
        foreach (var codePoint in codePoints)
        {
            text.Append(char.ConvertFromUtf32(codePoint));
        }

        return text.ToString();
    }
}
