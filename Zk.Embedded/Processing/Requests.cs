using Zk.Embedded.Api;
using Zk.Embedded.Tree;

namespace Zk.Embedded.Processing;

/// <summary>A request that goes through the ordered pipeline: every write, and the few others that must be ordered with writes.</summary>
internal abstract record PipelineRequest
{
    /// <summary>The path an error reply names.</summary>
    public virtual string? ErrorPath => null;
}

/// <param name="ReturnStat">create2: the reply carries the new node's stat.</param>
internal sealed record CreateRequest(string Path, byte[]? Data, IReadOnlyList<Acl> Acl, CreateMode Mode, long Ttl, bool ReturnStat) : PipelineRequest
{
    public override string? ErrorPath => Path;
}

internal sealed record DeleteRequest(string Path, int Version) : PipelineRequest
{
    public override string? ErrorPath => Path;
}

internal sealed record SetDataRequest(string Path, byte[]? Data, int Version) : PipelineRequest
{
    public override string? ErrorPath => Path;
}

internal sealed record SetAclRequest(string Path, IReadOnlyList<Acl> Acl, int Version) : PipelineRequest
{
    public override string? ErrorPath => Path;
}

internal sealed record MultiRequest(IReadOnlyList<Op> Ops) : PipelineRequest;

/// <summary>Ordered after every write before it; the reply tells the session it has caught up.</summary>
internal sealed record SyncRequest(string Path) : PipelineRequest
{
    public override string? ErrorPath => Path;
}

internal sealed record CreateSessionRequest(int TimeoutMillis) : PipelineRequest;

/// <param name="Expired">closed by the peer because the session timed out, not by its client.</param>
internal sealed record CloseSessionRequest(bool Expired) : PipelineRequest;

/// <summary>The peer's own request to remove an empty container or an expired TTL node.</summary>
internal sealed record DeleteContainerRequest(string Path) : PipelineRequest
{
    public override string? ErrorPath => Path;
}

/// <summary>
/// Adds an identity to the session. Ordered with writes, so a write queued before it is checked without the new id
/// and every request after it with it.
/// </summary>
internal sealed record AddAuthRequest(string Scheme, byte[] Auth) : PipelineRequest;

/// <summary>Registers a persistent watch at its place in the write order, so it sees every change after it.</summary>
internal sealed record AddWatchRequest(string Path, AddWatchMode Mode) : PipelineRequest
{
    public override string? ErrorPath => Path;
}

/// <summary>Removes the session's server-side watches of a type on a path (or, with CheckOnly, asks whether there are any).</summary>
internal sealed record RemoveWatchesRequest(string Path, WatcherType Type, bool CheckOnly) : PipelineRequest
{
    public override string? ErrorPath => Path;
}

/// <summary>
/// The answer to a request. <see cref="State"/> is the tree right after it, so reads queued behind a write can be
/// answered from exactly that point (FIFO per session).
/// </summary>
internal readonly record struct Reply(ZkErrorCode Error, string? ErrorPath, object? Value, Zxid Zxid, TreeState State)
{
    public bool IsError => Error != ZkErrorCode.Ok;

    public ZkException ToException() => Value is IReadOnlyList<OpResult> results
        ? new ZkException(Error, ErrorPath) { Results = results }
        : new ZkException(Error, ErrorPath);
}

/// <summary>
/// A request's size as a jute frame body would carry it (strings and buffers with their 4-byte lengths, a multi with
/// its op headers). Over the client port the frame bound limits it; in process nothing else would, and a multi of
/// many 1 MB ops would make one txn larger than the log holds, so the pipeline bounds it the same way.
/// </summary>
internal static class RequestSize
{
    /// <summary>
    /// Bytes beyond jute.maxbuffer a request may carry in process: a znode's data alone may be jute.maxbuffer bytes
    /// (the data limit), and its path and ACL come on top. Over the wire the frame bound (exactly jute.maxbuffer, as
    /// ZooKeeper's) is the tighter one.
    /// </summary>
    public const int FrameSlackBytes = 1024;

    /// <summary>The largest request in process, for a peer whose jute.maxbuffer is <paramref name="maxDataBytes"/>.</summary>
    public static long Limit(int maxDataBytes) => (long)maxDataBytes + FrameSlackBytes;

    public static long Of(PipelineRequest request) => request switch
    {
        CreateRequest c => Create(c.Path, c.Data, c.Acl),
        SetDataRequest s => Text(s.Path) + Buffer(s.Data) + 4,
        SetAclRequest a => Text(a.Path) + AclBytes(a.Acl) + 4,
        MultiRequest m => Multi(m.Ops),
        _ => Text(request.ErrorPath),
    };

    public static long Multi(IReadOnlyList<Op>? ops)
    {
        const int OpHeader = 4 + 1 + 4; // MultiHeader: type, done, err
        long total = OpHeader;          // the closing header
        if (ops is null)
        {
            return total;
        }

        foreach (var op in ops)
        {
            total += OpHeader + op switch
            {
                CreateOp c => Create(c.Path, c.Data, c.Acl),
                SetDataOp s => Text(s.Path) + Buffer(s.Data) + 4,
                DeleteOp d => Text(d.Path) + 4,
                CheckOp k => Text(k.Path) + 4,
                _ => 0,
            };
        }

        return total;
    }

    private static long Create(string? path, byte[]? data, IReadOnlyList<Acl>? acl) => Text(path) + Buffer(data) + AclBytes(acl) + 4 + 8;

    private static long Text(string? text) => 4 + (text is null ? 0 : System.Text.Encoding.UTF8.GetByteCount(text));

    private static long Buffer(byte[]? data) => 4 + (data?.Length ?? 0);

    private static long AclBytes(IReadOnlyList<Acl>? acl)
    {
        long total = 4;
        if (acl is null)
        {
            return total;
        }

        for (var i = 0; i < acl.Count; i++)
        {
            total += 4 + Text(acl[i]?.Id?.Scheme) + Text(acl[i]?.Id?.Identity);
        }

        return total;
    }
}
