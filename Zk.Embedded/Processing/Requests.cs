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
internal readonly record struct Reply(ZkErrorCode Error, string? ErrorPath, object? Value, long Zxid, TreeState State)
{
    public bool IsError => Error != ZkErrorCode.Ok;

    public ZkException ToException() => Value is IReadOnlyList<OpResult> results
        ? new ZkException(Error, ErrorPath) { Results = results }
        : new ZkException(Error, ErrorPath);
}
