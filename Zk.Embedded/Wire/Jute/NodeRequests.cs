using Zk.Embedded.Api;

namespace Zk.Embedded.Wire.Jute;

// Request bodies of the znode operations, each after a RequestHeader, in zookeeper.jute's field order. Paths stay
// nullable and flags stay raw: a null path or an unknown create flag is Processing's to reject (BadArguments), as
// PrepRequestProcessor does, not a malformed frame.

/// <summary>create, create2 and createContainer. <see cref="Flags"/> are <see cref="CreateMode"/> numbers.</summary>
internal readonly record struct CreateRequest(string? Path, byte[]? Data, IReadOnlyList<Acl>? Acl, int Flags) : IJuteRecord<CreateRequest>
{
    public static bool TryRead(ref JuteReader reader, out CreateRequest value)
    {
        if (!reader.TryReadString(out var path) || !reader.TryReadBuffer(out var data) || !reader.TryReadAclList(out var acl)
            || !reader.TryReadInt(out var flags))
        {
            value = default;
            return false;
        }

        value = new CreateRequest(path, data, acl, flags);
        return true;
    }

    public void Write(ref JuteWriter writer)
    {
        writer.WriteString(Path);
        writer.WriteBuffer(Data);
        writer.WriteAclList(Acl);
        writer.WriteInt(Flags);
    }
}

/// <summary>createTTL: <see cref="CreateRequest"/> plus the TTL in milliseconds.</summary>
internal readonly record struct CreateTtlRequest(string? Path, byte[]? Data, IReadOnlyList<Acl>? Acl, int Flags, long Ttl)
    : IJuteRecord<CreateTtlRequest>
{
    public static bool TryRead(ref JuteReader reader, out CreateTtlRequest value)
    {
        if (!reader.TryReadString(out var path) || !reader.TryReadBuffer(out var data) || !reader.TryReadAclList(out var acl)
            || !reader.TryReadInt(out var flags) || !reader.TryReadLong(out var ttl))
        {
            value = default;
            return false;
        }

        value = new CreateTtlRequest(path, data, acl, flags, ttl);
        return true;
    }

    public void Write(ref JuteWriter writer)
    {
        writer.WriteString(Path);
        writer.WriteBuffer(Data);
        writer.WriteAclList(Acl);
        writer.WriteInt(Flags);
        writer.WriteLong(Ttl);
    }
}

/// <summary>delete and deleteContainer; version -1 matches any.</summary>
internal readonly record struct DeleteRequest(string? Path, int Version) : IJuteRecord<DeleteRequest>
{
    public static bool TryRead(ref JuteReader reader, out DeleteRequest value) =>
        PathAndInt.TryRead(ref reader, out value, static (p, v) => new DeleteRequest(p, v));

    public void Write(ref JuteWriter writer) => PathAndInt.Write(ref writer, Path, Version);
}

/// <summary>check inside a multi (<c>CheckVersionRequest</c>).</summary>
internal readonly record struct CheckVersionRequest(string? Path, int Version) : IJuteRecord<CheckVersionRequest>
{
    public static bool TryRead(ref JuteReader reader, out CheckVersionRequest value) =>
        PathAndInt.TryRead(ref reader, out value, static (p, v) => new CheckVersionRequest(p, v));

    public void Write(ref JuteWriter writer) => PathAndInt.Write(ref writer, Path, Version);
}

internal readonly record struct ExistsRequest(string? Path, bool Watch) : IJuteRecord<ExistsRequest>
{
    public static bool TryRead(ref JuteReader reader, out ExistsRequest value) =>
        PathAndBool.TryRead(ref reader, out value, static (p, w) => new ExistsRequest(p, w));

    public void Write(ref JuteWriter writer) => PathAndBool.Write(ref writer, Path, Watch);
}

internal readonly record struct GetDataRequest(string? Path, bool Watch) : IJuteRecord<GetDataRequest>
{
    public static bool TryRead(ref JuteReader reader, out GetDataRequest value) =>
        PathAndBool.TryRead(ref reader, out value, static (p, w) => new GetDataRequest(p, w));

    public void Write(ref JuteWriter writer) => PathAndBool.Write(ref writer, Path, Watch);
}

internal readonly record struct GetChildrenRequest(string? Path, bool Watch) : IJuteRecord<GetChildrenRequest>
{
    public static bool TryRead(ref JuteReader reader, out GetChildrenRequest value) =>
        PathAndBool.TryRead(ref reader, out value, static (p, w) => new GetChildrenRequest(p, w));

    public void Write(ref JuteWriter writer) => PathAndBool.Write(ref writer, Path, Watch);
}

internal readonly record struct GetChildren2Request(string? Path, bool Watch) : IJuteRecord<GetChildren2Request>
{
    public static bool TryRead(ref JuteReader reader, out GetChildren2Request value) =>
        PathAndBool.TryRead(ref reader, out value, static (p, w) => new GetChildren2Request(p, w));

    public void Write(ref JuteWriter writer) => PathAndBool.Write(ref writer, Path, Watch);
}

internal readonly record struct SetDataRequest(string? Path, byte[]? Data, int Version) : IJuteRecord<SetDataRequest>
{
    public static bool TryRead(ref JuteReader reader, out SetDataRequest value)
    {
        if (!reader.TryReadString(out var path) || !reader.TryReadBuffer(out var data) || !reader.TryReadInt(out var version))
        {
            value = default;
            return false;
        }

        value = new SetDataRequest(path, data, version);
        return true;
    }

    public void Write(ref JuteWriter writer)
    {
        writer.WriteString(Path);
        writer.WriteBuffer(Data);
        writer.WriteInt(Version);
    }
}

internal readonly record struct SetAclRequest(string? Path, IReadOnlyList<Acl>? Acl, int Version) : IJuteRecord<SetAclRequest>
{
    public static bool TryRead(ref JuteReader reader, out SetAclRequest value)
    {
        if (!reader.TryReadString(out var path) || !reader.TryReadAclList(out var acl) || !reader.TryReadInt(out var version))
        {
            value = default;
            return false;
        }

        value = new SetAclRequest(path, acl, version);
        return true;
    }

    public void Write(ref JuteWriter writer)
    {
        writer.WriteString(Path);
        writer.WriteAclList(Acl);
        writer.WriteInt(Version);
    }
}

/// <summary>getACL, sync, getAllChildrenNumber and getEphemerals carry just a path (ZooKeeper has one record each).</summary>
internal readonly record struct GetAclRequest(string? Path) : IJuteRecord<GetAclRequest>
{
    public static bool TryRead(ref JuteReader reader, out GetAclRequest value)
    {
        var ok = reader.TryReadString(out var path);
        value = new GetAclRequest(path);
        return ok;
    }

    public void Write(ref JuteWriter writer) => writer.WriteString(Path);
}

internal readonly record struct SyncRequest(string? Path) : IJuteRecord<SyncRequest>
{
    public static bool TryRead(ref JuteReader reader, out SyncRequest value)
    {
        var ok = reader.TryReadString(out var path);
        value = new SyncRequest(path);
        return ok;
    }

    public void Write(ref JuteWriter writer) => writer.WriteString(Path);
}

internal readonly record struct GetAllChildrenNumberRequest(string? Path) : IJuteRecord<GetAllChildrenNumberRequest>
{
    public static bool TryRead(ref JuteReader reader, out GetAllChildrenNumberRequest value)
    {
        var ok = reader.TryReadString(out var path);
        value = new GetAllChildrenNumberRequest(path);
        return ok;
    }

    public void Write(ref JuteWriter writer) => writer.WriteString(Path);
}

internal readonly record struct GetEphemeralsRequest(string? PrefixPath) : IJuteRecord<GetEphemeralsRequest>
{
    public static bool TryRead(ref JuteReader reader, out GetEphemeralsRequest value)
    {
        var ok = reader.TryReadString(out var path);
        value = new GetEphemeralsRequest(path);
        return ok;
    }

    public void Write(ref JuteWriter writer) => writer.WriteString(PrefixPath);
}

/// <summary>removeWatches; the type is a <see cref="WatcherType"/> number, kept as sent.</summary>
internal readonly record struct RemoveWatchesRequest(string? Path, WatcherType Type) : IJuteRecord<RemoveWatchesRequest>
{
    public static bool TryRead(ref JuteReader reader, out RemoveWatchesRequest value) =>
        PathAndInt.TryRead(ref reader, out value, static (p, t) => new RemoveWatchesRequest(p, (WatcherType)t));

    public void Write(ref JuteWriter writer) => PathAndInt.Write(ref writer, Path, (int)Type);
}

/// <summary>checkWatches (sent by clients before a local removeWatches).</summary>
internal readonly record struct CheckWatchesRequest(string? Path, WatcherType Type) : IJuteRecord<CheckWatchesRequest>
{
    public static bool TryRead(ref JuteReader reader, out CheckWatchesRequest value) =>
        PathAndInt.TryRead(ref reader, out value, static (p, t) => new CheckWatchesRequest(p, (WatcherType)t));

    public void Write(ref JuteWriter writer) => PathAndInt.Write(ref writer, Path, (int)Type);
}

/// <summary>addWatch; the mode is an <see cref="AddWatchMode"/> number, kept as sent.</summary>
internal readonly record struct AddWatchRequest(string? Path, AddWatchMode Mode) : IJuteRecord<AddWatchRequest>
{
    public static bool TryRead(ref JuteReader reader, out AddWatchRequest value) =>
        PathAndInt.TryRead(ref reader, out value, static (p, m) => new AddWatchRequest(p, (AddWatchMode)m));

    public void Write(ref JuteWriter writer) => PathAndInt.Write(ref writer, Path, (int)Mode);
}

/// <summary>The shape of the many {ustring path; int n} records.</summary>
internal static class PathAndInt
{
    public static bool TryRead<T>(ref JuteReader reader, out T value, Func<string?, int, T> make)
    {
        if (!reader.TryReadString(out var path) || !reader.TryReadInt(out var number))
        {
            value = default!;
            return false;
        }

        value = make(path, number);
        return true;
    }

    public static void Write(ref JuteWriter writer, string? path, int number)
    {
        writer.WriteString(path);
        writer.WriteInt(number);
    }
}

/// <summary>The shape of the {ustring path; boolean watch} records.</summary>
internal static class PathAndBool
{
    public static bool TryRead<T>(ref JuteReader reader, out T value, Func<string?, bool, T> make)
    {
        if (!reader.TryReadString(out var path) || !reader.TryReadBool(out var watch))
        {
            value = default!;
            return false;
        }

        value = make(path, watch);
        return true;
    }

    public static void Write(ref JuteWriter writer, string? path, bool watch)
    {
        writer.WriteString(path);
        writer.WriteBool(watch);
    }
}
