using Zk.Embedded.Api;

namespace Zk.Testing;

/// <summary>
/// A session that passes every call to the one it wraps. Derive from it to record, delay or falsify some calls (the
/// history recorder does, and a test can plant a lying session to see its checks fire); what is not overridden
/// behaves exactly as <see cref="Inner"/>.
/// </summary>
public class DelegatingZooKeeper(IZooKeeper inner) : IZooKeeper
{
    /// <summary>The session underneath.</summary>
    protected IZooKeeper Inner { get; } = inner;

    /// <inheritdoc/>
    public virtual long SessionId => Inner.SessionId;

    /// <inheritdoc/>
    public virtual ReadOnlyMemory<byte> SessionPassword => Inner.SessionPassword;

    /// <inheritdoc/>
    public virtual long LastZxidSeen => Inner.LastZxidSeen;

    /// <inheritdoc/>
    public virtual TimeSpan SessionTimeout => Inner.SessionTimeout;

    /// <inheritdoc/>
    public virtual SessionState State => Inner.State;

    /// <inheritdoc/>
    public event Action<KeeperState>? StateChanged
    {
        add => Inner.StateChanged += value;
        remove => Inner.StateChanged -= value;
    }

    /// <inheritdoc/>
    public virtual ValueTask<string> CreateAsync(string path, byte[]? data, IReadOnlyList<Acl> acl, CreateMode mode, long ttl = -1, CancellationToken cancellationToken = default) =>
        Inner.CreateAsync(path, data, acl, mode, ttl, cancellationToken);

    /// <inheritdoc/>
    public virtual ValueTask<CreateResult> CreateWithStatAsync(string path, byte[]? data, IReadOnlyList<Acl> acl, CreateMode mode, long ttl = -1, CancellationToken cancellationToken = default) =>
        Inner.CreateWithStatAsync(path, data, acl, mode, ttl, cancellationToken);

    /// <inheritdoc/>
    public virtual ValueTask DeleteAsync(string path, int version = -1, CancellationToken cancellationToken = default) => Inner.DeleteAsync(path, version, cancellationToken);

    /// <inheritdoc/>
    public virtual ValueTask<Stat?> ExistsAsync(string path, Watcher? watcher = null, CancellationToken cancellationToken = default) => Inner.ExistsAsync(path, watcher, cancellationToken);

    /// <inheritdoc/>
    public virtual ValueTask<DataResult> GetDataAsync(string path, Watcher? watcher = null, CancellationToken cancellationToken = default) => Inner.GetDataAsync(path, watcher, cancellationToken);

    /// <inheritdoc/>
    public virtual ValueTask<Stat> SetDataAsync(string path, byte[]? data, int version = -1, CancellationToken cancellationToken = default) => Inner.SetDataAsync(path, data, version, cancellationToken);

    /// <inheritdoc/>
    public virtual ValueTask<AclResult> GetAclAsync(string path, CancellationToken cancellationToken = default) => Inner.GetAclAsync(path, cancellationToken);

    /// <inheritdoc/>
    public virtual ValueTask<Stat> SetAclAsync(string path, IReadOnlyList<Acl> acl, int aclVersion = -1, CancellationToken cancellationToken = default) => Inner.SetAclAsync(path, acl, aclVersion, cancellationToken);

    /// <inheritdoc/>
    public virtual ValueTask<IReadOnlyList<string>> GetChildrenAsync(string path, Watcher? watcher = null, CancellationToken cancellationToken = default) => Inner.GetChildrenAsync(path, watcher, cancellationToken);

    /// <inheritdoc/>
    public virtual ValueTask<ChildrenResult> GetChildrenWithStatAsync(string path, Watcher? watcher = null, CancellationToken cancellationToken = default) => Inner.GetChildrenWithStatAsync(path, watcher, cancellationToken);

    /// <inheritdoc/>
    public virtual ValueTask<int> GetAllChildrenNumberAsync(string path, CancellationToken cancellationToken = default) => Inner.GetAllChildrenNumberAsync(path, cancellationToken);

    /// <inheritdoc/>
    public virtual ValueTask<IReadOnlyList<string>> GetEphemeralsAsync(string prefixPath = "/", CancellationToken cancellationToken = default) => Inner.GetEphemeralsAsync(prefixPath, cancellationToken);

    /// <inheritdoc/>
    public virtual ValueTask SyncAsync(string path, CancellationToken cancellationToken = default) => Inner.SyncAsync(path, cancellationToken);

    /// <inheritdoc/>
    public virtual ValueTask LinearizableSyncAsync(CancellationToken cancellationToken = default) => Inner.LinearizableSyncAsync(cancellationToken);

    /// <inheritdoc/>
    public virtual ValueTask<IReadOnlyList<OpResult>> MultiAsync(IReadOnlyList<Op> ops, CancellationToken cancellationToken = default) => Inner.MultiAsync(ops, cancellationToken);

    /// <inheritdoc/>
    public virtual ValueTask<IReadOnlyList<OpResult>> MultiReadAsync(IReadOnlyList<Op> ops, CancellationToken cancellationToken = default) => Inner.MultiReadAsync(ops, cancellationToken);

    /// <inheritdoc/>
    public virtual ValueTask AddWatchAsync(string path, Watcher watcher, AddWatchMode mode, CancellationToken cancellationToken = default) => Inner.AddWatchAsync(path, watcher, mode, cancellationToken);

    /// <inheritdoc/>
    public virtual ValueTask RemoveWatchesAsync(string path, Watcher watcher, WatcherType type, bool local = false, CancellationToken cancellationToken = default) =>
        Inner.RemoveWatchesAsync(path, watcher, type, local, cancellationToken);

    /// <inheritdoc/>
    public virtual ValueTask RemoveAllWatchesAsync(string path, WatcherType type, bool local = false, CancellationToken cancellationToken = default) =>
        Inner.RemoveAllWatchesAsync(path, type, local, cancellationToken);

    /// <inheritdoc/>
    public virtual ValueTask AddAuthInfoAsync(string scheme, byte[] auth, CancellationToken cancellationToken = default) => Inner.AddAuthInfoAsync(scheme, auth, cancellationToken);

    /// <inheritdoc/>
    public virtual ValueTask<IReadOnlyList<ClientInfo>> WhoAmIAsync(CancellationToken cancellationToken = default) => Inner.WhoAmIAsync(cancellationToken);

    /// <inheritdoc/>
    public virtual ValueTask CloseAsync(CancellationToken cancellationToken = default) => Inner.CloseAsync(cancellationToken);

    /// <inheritdoc/>
    public virtual ValueTask DisposeAsync()
    {
        GC.SuppressFinalize(this);
        return Inner.DisposeAsync();
    }
}
