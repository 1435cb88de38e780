using Zk.Embedded.Api;
using Zk.Embedded.Wire.Jute;

namespace Zk.Embedded.Wire.Client;

/// <summary>The reply readers of the client's requests: each decodes one record and maps it to the Api's types.</summary>
internal static class Replies
{
    public static readonly ReplyReader<string> CreatePath = static (ref JuteReader reader, Chroot chroot, out string value) =>
    {
        var ok = CreateResponse.TryRead(ref reader, out var response);
        value = chroot.ToClient(response.Path ?? "");
        return ok;
    };

    public static readonly ReplyReader<CreateResult> Create2 = static (ref JuteReader reader, Chroot chroot, out CreateResult value) =>
    {
        var ok = Create2Response.TryRead(ref reader, out var response);
        value = new CreateResult(chroot.ToClient(response.Path ?? ""), response.Stat);
        return ok;
    };

    public static readonly ReplyReader<Stat?> NullableStat = static (ref JuteReader reader, Chroot chroot, out Stat? value) =>
    {
        var ok = reader.TryReadStat(out var stat);
        value = stat;
        return ok;
    };

    public static readonly ReplyReader<Stat> Stat = static (ref JuteReader reader, Chroot chroot, out Stat value) => reader.TryReadStat(out value);

    public static readonly ReplyReader<DataResult> Data = static (ref JuteReader reader, Chroot chroot, out DataResult value) =>
    {
        var ok = GetDataResponse.TryRead(ref reader, out var response);
        value = new DataResult(response.Data ?? ReadOnlyMemory<byte>.Empty, response.Stat) { DataIsNull = response.Data is null };
        return ok;
    };

    public static readonly ReplyReader<AclResult> Acl = static (ref JuteReader reader, Chroot chroot, out AclResult value) =>
    {
        var ok = GetAclResponse.TryRead(ref reader, out var response);
        value = new AclResult(response.Acl ?? [], response.Stat);
        return ok;
    };

    public static readonly ReplyReader<IReadOnlyList<string>> Children = static (ref JuteReader reader, Chroot chroot, out IReadOnlyList<string> value) =>
    {
        var ok = GetChildrenResponse.TryRead(ref reader, out var response);
        value = response.Children ?? [];
        return ok;
    };

    public static readonly ReplyReader<ChildrenResult> Children2 = static (ref JuteReader reader, Chroot chroot, out ChildrenResult value) =>
    {
        var ok = GetChildren2Response.TryRead(ref reader, out var response);
        value = new ChildrenResult(response.Children ?? [], response.Stat);
        return ok;
    };

    public static readonly ReplyReader<int> AllChildrenNumber = static (ref JuteReader reader, Chroot chroot, out int value) =>
    {
        var ok = GetAllChildrenNumberResponse.TryRead(ref reader, out var response);
        value = response.TotalNumber;
        return ok;
    };

    // Java returns getEphemerals' paths as the server sends them; under a chroot they are stripped here, like every other path.
    public static readonly ReplyReader<IReadOnlyList<string>> Ephemerals = static (ref JuteReader reader, Chroot chroot, out IReadOnlyList<string> value) =>
    {
        var ok = GetEphemeralsResponse.TryRead(ref reader, out var response);
        value = chroot.ToClient(response.Ephemerals);
        return ok;
    };

    public static readonly ReplyReader<bool> Path = static (ref JuteReader reader, Chroot chroot, out bool value) =>
    {
        value = reader.TryReadString(out _);
        return value;
    };

    public static readonly ReplyReader<IReadOnlyList<ClientInfo>> WhoAmI = static (ref JuteReader reader, Chroot chroot, out IReadOnlyList<ClientInfo> value) =>
    {
        var ok = WhoAmIResponse.TryRead(ref reader, out var response);
        value = response.ClientInfo ?? [];
        return ok;
    };

    public static readonly ReplyReader<IReadOnlyList<OpResult>> Multi = static (ref JuteReader reader, Chroot chroot, out IReadOnlyList<OpResult> value) =>
    {
        var ok = MultiResponse.TryRead(ref reader, out var response);
        var results = new OpResult[ok ? response.Results.Count : 0];
        for (var i = 0; i < results.Length; i++)
        {
            var result = response.Results[i].Result;
            results[i] = result is CreateResult created ? created with { Path = chroot.ToClient(created.Path) } : result;
        }

        value = results;
        return ok;
    };
}
