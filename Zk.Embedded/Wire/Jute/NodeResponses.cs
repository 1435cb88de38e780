using Zk.Embedded.Api;

namespace Zk.Embedded.Wire.Jute;

// Reply bodies of the znode operations, each after a ReplyHeader with err 0 (an error reply has no body), in
// zookeeper.jute's field order.

/// <summary>create's reply (and a create result inside a multi when the op was plain <c>create</c>).</summary>
internal readonly record struct CreateResponse(string? Path) : IJuteRecord<CreateResponse>
{
    public static bool TryRead(ref JuteReader reader, out CreateResponse value)
    {
        var ok = reader.TryReadString(out var path);
        value = new CreateResponse(path);
        return ok;
    }

    public void Write(ref JuteWriter writer) => writer.WriteString(Path);
}

/// <summary>The reply of create2, createContainer and createTTL: the actual path and the new node's stat.</summary>
internal readonly record struct Create2Response(string? Path, Stat Stat) : IJuteRecord<Create2Response>
{
    public static bool TryRead(ref JuteReader reader, out Create2Response value)
    {
        if (!reader.TryReadString(out var path) || !reader.TryReadStat(out var stat))
        {
            value = default;
            return false;
        }

        value = new Create2Response(path, stat);
        return true;
    }

    public void Write(ref JuteWriter writer)
    {
        writer.WriteString(Path);
        writer.WriteStat(Stat);
    }
}

/// <summary>A reply that is just a stat: exists, setData and setACL (ZooKeeper has one record each, same bytes).</summary>
internal readonly record struct StatResponse(Stat Stat) : IJuteRecord<StatResponse>
{
    public static bool TryRead(ref JuteReader reader, out StatResponse value)
    {
        var ok = reader.TryReadStat(out var stat);
        value = new StatResponse(stat);
        return ok;
    }

    public void Write(ref JuteWriter writer) => writer.WriteStat(Stat);
}

/// <summary>getData's reply. Null data (a node created with null) goes out as length -1, as ZooKeeper sends it.</summary>
internal readonly record struct GetDataResponse(ReadOnlyMemory<byte>? Data, Stat Stat) : IJuteRecord<GetDataResponse>
{
    public static bool TryRead(ref JuteReader reader, out GetDataResponse value)
    {
        if (!reader.TryReadBuffer(out var data) || !reader.TryReadStat(out var stat))
        {
            value = default;
            return false;
        }

        value = new GetDataResponse(data is null ? (ReadOnlyMemory<byte>?)null : data, stat);
        return true;
    }

    public void Write(ref JuteWriter writer)
    {
        writer.WriteBuffer(Data);
        writer.WriteStat(Stat);
    }
}

internal readonly record struct GetAclResponse(IReadOnlyList<Acl>? Acl, Stat Stat) : IJuteRecord<GetAclResponse>
{
    public static bool TryRead(ref JuteReader reader, out GetAclResponse value)
    {
        if (!reader.TryReadAclList(out var acl) || !reader.TryReadStat(out var stat))
        {
            value = default;
            return false;
        }

        value = new GetAclResponse(acl, stat);
        return true;
    }

    public void Write(ref JuteWriter writer)
    {
        writer.WriteAclList(Acl);
        writer.WriteStat(Stat);
    }
}

internal readonly record struct GetChildrenResponse(IReadOnlyList<string>? Children) : IJuteRecord<GetChildrenResponse>
{
    public static bool TryRead(ref JuteReader reader, out GetChildrenResponse value)
    {
        var ok = reader.TryReadStringList(out var children);
        value = new GetChildrenResponse(children);
        return ok;
    }

    public void Write(ref JuteWriter writer) => writer.WriteStringList(Children);
}

internal readonly record struct GetChildren2Response(IReadOnlyList<string>? Children, Stat Stat) : IJuteRecord<GetChildren2Response>
{
    public static bool TryRead(ref JuteReader reader, out GetChildren2Response value)
    {
        if (!reader.TryReadStringList(out var children) || !reader.TryReadStat(out var stat))
        {
            value = default;
            return false;
        }

        value = new GetChildren2Response(children, stat);
        return true;
    }

    public void Write(ref JuteWriter writer)
    {
        writer.WriteStringList(Children);
        writer.WriteStat(Stat);
    }
}

/// <summary>sync's reply: the path echoed.</summary>
internal readonly record struct SyncResponse(string? Path) : IJuteRecord<SyncResponse>
{
    public static bool TryRead(ref JuteReader reader, out SyncResponse value)
    {
        var ok = reader.TryReadString(out var path);
        value = new SyncResponse(path);
        return ok;
    }

    public void Write(ref JuteWriter writer) => writer.WriteString(Path);
}

internal readonly record struct GetAllChildrenNumberResponse(int TotalNumber) : IJuteRecord<GetAllChildrenNumberResponse>
{
    public static bool TryRead(ref JuteReader reader, out GetAllChildrenNumberResponse value)
    {
        var ok = reader.TryReadInt(out var total);
        value = new GetAllChildrenNumberResponse(total);
        return ok;
    }

    public void Write(ref JuteWriter writer) => writer.WriteInt(TotalNumber);
}

internal readonly record struct GetEphemeralsResponse(IReadOnlyList<string>? Ephemerals) : IJuteRecord<GetEphemeralsResponse>
{
    public static bool TryRead(ref JuteReader reader, out GetEphemeralsResponse value)
    {
        var ok = reader.TryReadStringList(out var ephemerals);
        value = new GetEphemeralsResponse(ephemerals);
        return ok;
    }

    public void Write(ref JuteWriter writer) => writer.WriteStringList(Ephemerals);
}
