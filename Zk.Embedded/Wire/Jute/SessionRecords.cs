using Zk.Embedded.Api;

namespace Zk.Embedded.Wire.Jute;

// Records of the connection and session layer, in zookeeper.jute's field order (module org.apache.zookeeper.proto).

/// <summary>
/// The first frame a client sends. Current clients send 45 bytes, ending with the readOnly bool; some
/// (node-zookeeper-client) send 44 without it. Both decode; <see cref="HasReadOnly"/> says which came, and
/// <see cref="Write"/> leaves the byte out when it is false, so either form can be produced.
/// </summary>
/// <param name="TimeoutMs">the session timeout the client asks for, in milliseconds.</param>
/// <param name="SessionId">0 for a new session, else the session to re-attach.</param>
/// <param name="Password">16 bytes for a re-attach; clients send 16 zero bytes for a new session.</param>
internal readonly record struct ConnectRequest(int ProtocolVersion, long LastZxidSeen, int TimeoutMs, long SessionId, byte[]? Password, bool ReadOnly)
    : IJuteRecord<ConnectRequest>
{
    /// <summary>False when the request ended before the readOnly byte (the 44-byte form).</summary>
    public bool HasReadOnly { get; init; } = true;

    public static bool TryRead(ref JuteReader reader, out ConnectRequest value)
    {
        if (!reader.TryReadInt(out var version) || !reader.TryReadLong(out var lastZxid) || !reader.TryReadInt(out var timeout)
            || !reader.TryReadLong(out var sessionId) || !reader.TryReadBuffer(out var password))
        {
            value = default;
            return false;
        }

        // ZooKeeperServer.processConnectRequest reads readOnly in a try/catch: a missing byte means false.
        var hasReadOnly = reader.TryReadBool(out var readOnly);
        value = new ConnectRequest(version, lastZxid, timeout, sessionId, password, readOnly) { HasReadOnly = hasReadOnly };
        return true;
    }

    public void Write(ref JuteWriter writer)
    {
        writer.WriteInt(ProtocolVersion);
        writer.WriteLong(LastZxidSeen);
        writer.WriteInt(TimeoutMs);
        writer.WriteLong(SessionId);
        writer.WriteBuffer(Password);
        if (HasReadOnly)
        {
            writer.WriteBool(ReadOnly);
        }
    }
}

/// <summary>
/// The server's answer to <see cref="ConnectRequest"/>. A timeout of 0 tells the client its session is expired or
/// refused. The readOnly byte is optional on decode (ClientCnxnSocket.readConnectResult reads it in a try/catch).
/// </summary>
internal readonly record struct ConnectResponse(int ProtocolVersion, int TimeoutMs, long SessionId, byte[]? Password, bool ReadOnly)
    : IJuteRecord<ConnectResponse>
{
    public static bool TryRead(ref JuteReader reader, out ConnectResponse value)
    {
        if (!reader.TryReadInt(out var version) || !reader.TryReadInt(out var timeout) || !reader.TryReadLong(out var sessionId)
            || !reader.TryReadBuffer(out var password))
        {
            value = default;
            return false;
        }

        reader.TryReadBool(out var readOnly);
        value = new ConnectResponse(version, timeout, sessionId, password, readOnly);
        return true;
    }

    public void Write(ref JuteWriter writer)
    {
        writer.WriteInt(ProtocolVersion);
        writer.WriteInt(TimeoutMs);
        writer.WriteLong(SessionId);
        writer.WriteBuffer(Password);
        writer.WriteBool(ReadOnly);
    }
}

/// <summary>Starts every request frame after the connect: the client's xid (see <see cref="Xids"/>) and the op.</summary>
internal readonly record struct RequestHeader(int Xid, OpCode Type) : IJuteRecord<RequestHeader>
{
    public const int Bytes = 8;

    public static bool TryRead(ref JuteReader reader, out RequestHeader value)
    {
        if (!reader.TryReadInt(out var xid) || !reader.TryReadInt(out var type))
        {
            value = default;
            return false;
        }

        value = new RequestHeader(xid, (OpCode)type);
        return true;
    }

    public void Write(ref JuteWriter writer)
    {
        writer.WriteInt(Xid);
        writer.WriteInt((int)Type);
    }
}

/// <summary>Starts every reply: the request's xid echoed, the zxid the server has seen, and the error (0 = ok).</summary>
internal readonly record struct ReplyHeader(int Xid, long Zxid, ZkErrorCode Err) : IJuteRecord<ReplyHeader>
{
    public const int Bytes = 16;

    public static bool TryRead(ref JuteReader reader, out ReplyHeader value)
    {
        if (!reader.TryReadInt(out var xid) || !reader.TryReadLong(out var zxid) || !reader.TryReadInt(out var err))
        {
            value = default;
            return false;
        }

        value = new ReplyHeader(xid, zxid, (ZkErrorCode)err);
        return true;
    }

    public void Write(ref JuteWriter writer)
    {
        writer.WriteInt(Xid);
        writer.WriteLong(Zxid);
        writer.WriteInt((int)Err);
    }
}

/// <summary>A watch notification's body, after a ReplyHeader with xid -1.</summary>
internal readonly record struct WatcherEvent(EventType Type, KeeperState State, string? Path) : IJuteRecord<WatcherEvent>
{
    public static bool TryRead(ref JuteReader reader, out WatcherEvent value)
    {
        if (!reader.TryReadInt(out var type) || !reader.TryReadInt(out var state) || !reader.TryReadString(out var path))
        {
            value = default;
            return false;
        }

        value = new WatcherEvent((EventType)type, (KeeperState)state, path);
        return true;
    }

    public void Write(ref JuteWriter writer)
    {
        writer.WriteInt((int)Type);
        writer.WriteInt((int)State);
        writer.WriteString(Path);
    }
}

/// <summary>addAuth (xid -4): a scheme and its credentials; <see cref="Type"/> is 0 in every client.</summary>
internal readonly record struct AuthPacket(int Type, string? Scheme, byte[]? Auth) : IJuteRecord<AuthPacket>
{
    public static bool TryRead(ref JuteReader reader, out AuthPacket value)
    {
        if (!reader.TryReadInt(out var type) || !reader.TryReadString(out var scheme) || !reader.TryReadBuffer(out var auth))
        {
            value = default;
            return false;
        }

        value = new AuthPacket(type, scheme, auth);
        return true;
    }

    public void Write(ref JuteWriter writer)
    {
        writer.WriteInt(Type);
        writer.WriteString(Scheme);
        writer.WriteBuffer(Auth);
    }
}

/// <summary>The body of an error inside a multi response (the header carries the same code).</summary>
internal readonly record struct ErrorResponse(ZkErrorCode Err) : IJuteRecord<ErrorResponse>
{
    public static bool TryRead(ref JuteReader reader, out ErrorResponse value)
    {
        var ok = reader.TryReadInt(out var err);
        value = new ErrorResponse((ZkErrorCode)err);
        return ok;
    }

    public void Write(ref JuteWriter writer) => writer.WriteInt((int)Err);
}

/// <summary>Re-registers one-shot watches on reconnect (xid -8); the server fires those changed after relativeZxid.</summary>
internal readonly record struct SetWatches(long RelativeZxid, IReadOnlyList<string>? DataWatches, IReadOnlyList<string>? ExistWatches, IReadOnlyList<string>? ChildWatches)
    : IJuteRecord<SetWatches>
{
    public static bool TryRead(ref JuteReader reader, out SetWatches value)
    {
        if (!reader.TryReadLong(out var zxid) || !reader.TryReadStringList(out var data) || !reader.TryReadStringList(out var exist)
            || !reader.TryReadStringList(out var child))
        {
            value = default;
            return false;
        }

        value = new SetWatches(zxid, data, exist, child);
        return true;
    }

    public void Write(ref JuteWriter writer)
    {
        writer.WriteLong(RelativeZxid);
        writer.WriteStringList(DataWatches);
        writer.WriteStringList(ExistWatches);
        writer.WriteStringList(ChildWatches);
    }
}

/// <summary><see cref="SetWatches"/> plus persistent and persistent recursive watches (3.6+).</summary>
internal readonly record struct SetWatches2(
    long RelativeZxid,
    IReadOnlyList<string>? DataWatches,
    IReadOnlyList<string>? ExistWatches,
    IReadOnlyList<string>? ChildWatches,
    IReadOnlyList<string>? PersistentWatches,
    IReadOnlyList<string>? PersistentRecursiveWatches) : IJuteRecord<SetWatches2>
{
    public static bool TryRead(ref JuteReader reader, out SetWatches2 value)
    {
        if (!reader.TryReadLong(out var zxid) || !reader.TryReadStringList(out var data) || !reader.TryReadStringList(out var exist)
            || !reader.TryReadStringList(out var child) || !reader.TryReadStringList(out var persistent)
            || !reader.TryReadStringList(out var recursive))
        {
            value = default;
            return false;
        }

        value = new SetWatches2(zxid, data, exist, child, persistent, recursive);
        return true;
    }

    public void Write(ref JuteWriter writer)
    {
        writer.WriteLong(RelativeZxid);
        writer.WriteStringList(DataWatches);
        writer.WriteStringList(ExistWatches);
        writer.WriteStringList(ChildWatches);
        writer.WriteStringList(PersistentWatches);
        writer.WriteStringList(PersistentRecursiveWatches);
    }
}

/// <summary>whoAmI's answer: the session's identities (digest: the user name, no hash).</summary>
internal readonly record struct WhoAmIResponse(IReadOnlyList<ClientInfo>? ClientInfo) : IJuteRecord<WhoAmIResponse>
{
    public static bool TryRead(ref JuteReader reader, out WhoAmIResponse value)
    {
        var ok = reader.TryReadClientInfoList(out var list);
        value = new WhoAmIResponse(list);
        return ok;
    }

    public void Write(ref JuteWriter writer) => writer.WriteClientInfoList(ClientInfo);
}
