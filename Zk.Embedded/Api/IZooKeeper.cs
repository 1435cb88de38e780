namespace Zk.Embedded.Api;

/// <summary>A znode's data with its stat. <see cref="Data"/> is read-only: it is the peer's own copy.</summary>
public readonly record struct DataResult(ReadOnlyMemory<byte> Data, Stat Stat)
{
    /// <summary>
    /// True when the znode holds null data (created or set with <c>null</c>), which ZooKeeper keeps apart from empty
    /// data (zkCli prints "null" for it); <see cref="Data"/> is then empty.
    /// </summary>
    public bool DataIsNull { get; init; }
}

/// <summary>Children names (not paths) with the parent's stat.</summary>
public readonly record struct ChildrenResult(IReadOnlyList<string> Children, Stat Stat);

/// <summary>A znode's ACL with its stat.</summary>
public readonly record struct AclResult(IReadOnlyList<Acl> Acl, Stat Stat);

/// <summary>The session's connection state.</summary>
public enum SessionState
{
    Connecting,
    Connected,
    ConnectedReadOnly,
    Closed,
    Expired,
    AuthFailed,
}

/// <summary>
/// A ZooKeeper session: the operations of ZooKeeper's client API, with its semantics. The in-process session of a
/// <see cref="ZkPeer"/> implements it, and so does the wire client, so recipes and user code run on either.
/// </summary>
/// <remarks>
/// Requests of one session complete in the order they were issued. A watch event is delivered before the reply to
/// any later read that shows the change. Failures throw <see cref="ZkException"/> with ZooKeeper's code. Data passed
/// in is copied; data handed out must not be written to.
/// </remarks>
public interface IZooKeeper : IAsyncDisposable
{
    /// <summary>The session id, unique in the ensemble.</summary>
    long SessionId { get; }

    /// <summary>The session password, needed to re-attach the session elsewhere.</summary>
    ReadOnlyMemory<byte> SessionPassword { get; }

    /// <summary>
    /// The newest zxid this session has seen in an answer (0 before any). ZooKeeper's client sends it when it
    /// reconnects, and a server that has not seen that zxid yet refuses the connection, so a session never goes back
    /// in time by moving. Pass it with <see cref="SessionId"/> and <see cref="SessionPassword"/> to re-attach
    /// in-process (<see cref="ZkSessionOptions.LastZxidSeen"/>); the wire client carries it by itself.
    /// </summary>
    long LastZxidSeen { get; }

    /// <summary>The timeout the peer negotiated.</summary>
    TimeSpan SessionTimeout { get; }

    /// <summary>Where the session stands now.</summary>
    SessionState State { get; }

    /// <summary>
    /// Raised for each change of the session's connection state, ZooKeeper's <see cref="EventType.None"/> events:
    /// <see cref="KeeperState.SyncConnected"/> on a (re)connect, <see cref="KeeperState.Disconnected"/>,
    /// <see cref="KeeperState.Expired"/>, <see cref="KeeperState.Closed"/>, <see cref="KeeperState.AuthFailed"/>. It lets
    /// code handed an existing session (a recipe, a cache) hear what only the default watcher set at connect heard.
    /// Raised on the session's event thread after its watchers heard the same event, in order with watch events; a
    /// handler sees the changes delivered after it subscribed (the connect's own SyncConnected may already be past:
    /// read <see cref="State"/> for where the session stands). A handler that throws is logged and skipped, as a watcher is.
    /// </summary>
    event Action<KeeperState>? StateChanged;

    /// <summary>Creates a znode and returns its actual path (with the sequence suffix for sequential modes).</summary>
    /// <param name="ttl">milliseconds, only for the TTL modes; -1 otherwise.</param>
    ValueTask<string> CreateAsync(string path, byte[]? data, IReadOnlyList<Acl> acl, CreateMode mode, long ttl = -1, CancellationToken cancellationToken = default);

    /// <summary>Creates a znode and returns its actual path and stat (ZooKeeper's create2).</summary>
    ValueTask<CreateResult> CreateWithStatAsync(string path, byte[]? data, IReadOnlyList<Acl> acl, CreateMode mode, long ttl = -1, CancellationToken cancellationToken = default);

    /// <summary>Deletes a znode if its version matches (-1 matches any).</summary>
    ValueTask DeleteAsync(string path, int version = -1, CancellationToken cancellationToken = default);

    /// <summary>The stat, or null when the node does not exist. A watcher is set either way.</summary>
    ValueTask<Stat?> ExistsAsync(string path, Watcher? watcher = null, CancellationToken cancellationToken = default);

    /// <summary>The data and stat; the watcher fires on the next data change or delete.</summary>
    ValueTask<DataResult> GetDataAsync(string path, Watcher? watcher = null, CancellationToken cancellationToken = default);

    /// <summary>Sets the data if the version matches (-1 matches any) and returns the new stat.</summary>
    ValueTask<Stat> SetDataAsync(string path, byte[]? data, int version = -1, CancellationToken cancellationToken = default);

    /// <summary>The ACL and stat. Without ADMIN on the node, digest ids come back as <c>user:x</c>, hiding the hash, as ZooKeeper does.</summary>
    ValueTask<AclResult> GetAclAsync(string path, CancellationToken cancellationToken = default);

    /// <summary>Sets the ACL if the ACL version matches (-1 matches any); bumps aversion.</summary>
    ValueTask<Stat> SetAclAsync(string path, IReadOnlyList<Acl> acl, int aclVersion = -1, CancellationToken cancellationToken = default);

    /// <summary>Children names, in no particular order; the watcher fires on the next child create or delete, or delete of the node.</summary>
    ValueTask<IReadOnlyList<string>> GetChildrenAsync(string path, Watcher? watcher = null, CancellationToken cancellationToken = default);

    /// <summary>Children names with the node's stat (ZooKeeper's getChildren2).</summary>
    ValueTask<ChildrenResult> GetChildrenWithStatAsync(string path, Watcher? watcher = null, CancellationToken cancellationToken = default);

    /// <summary>The number of all descendants of the node.</summary>
    ValueTask<int> GetAllChildrenNumberAsync(string path, CancellationToken cancellationToken = default);

    /// <summary>This session's ephemeral nodes whose paths start with <paramref name="prefixPath"/>.</summary>
    ValueTask<IReadOnlyList<string>> GetEphemeralsAsync(string prefixPath = "/", CancellationToken cancellationToken = default);

    /// <summary>After this completes, this session's reads see every write committed before it.</summary>
    ValueTask SyncAsync(string path, CancellationToken cancellationToken = default);

    /// <summary>
    /// A linearizable sync, beyond ZooKeeper: after it completes, this session's reads see every write that any member
    /// of the ensemble acknowledged before it was called, so a read issued after it is linearizable. ZooKeeper's
    /// <see cref="SyncAsync"/> does not promise that (ZOOKEEPER-1675): a leader cut off from its quorum may still answer
    /// it, and reads after it may be stale. This one is answered only once a quorum of voters confirms the leader, in
    /// a heartbeat round started after the call (etcd's ReadIndex); concurrent calls on a member share one round.
    /// </summary>
    /// <remarks>
    /// Costs one quorum round trip from the leader (plus the hop to the leader on a follower or observer) and no disk
    /// write; reads themselves stay local. A standalone peer completes it at once. Completes after this session's
    /// earlier requests, as every request does.
    /// </remarks>
    /// <exception cref="ZkException">
    /// <see cref="ZkErrorCode.ConnectionLoss"/> when the member serves no clients or cannot confirm its leader (it lost
    /// it, or its quorum): retry, on another member if it persists. <see cref="ZkErrorCode.Unimplemented"/> on a
    /// session that has no such request: the wire client, since ZooKeeper's protocol has none (docs/zookeeper-differences.md).
    /// </exception>
    ValueTask LinearizableSyncAsync(CancellationToken cancellationToken = default) =>
        ValueTask.FromException(new ZkException(ZkErrorCode.Unimplemented, null,
            "A linearizable sync is only available on in-process sessions of Zk.Embedded: ZooKeeper's wire protocol has no such request. Write to a node first, then read, for a linearizable read over the wire."));

    /// <summary>Applies all ops atomically or none; throws <see cref="ZkException"/> with <see cref="ZkException.Results"/> when one fails.</summary>
    ValueTask<IReadOnlyList<OpResult>> MultiAsync(IReadOnlyList<Op> ops, CancellationToken cancellationToken = default);

    /// <summary>Runs getData and getChildren ops; each result is the value or an <see cref="ErrorResult"/>.</summary>
    ValueTask<IReadOnlyList<OpResult>> MultiReadAsync(IReadOnlyList<Op> ops, CancellationToken cancellationToken = default);

    /// <summary>Adds a persistent (or persistent recursive) watch; it stays until removed.</summary>
    ValueTask AddWatchAsync(string path, Watcher watcher, AddWatchMode mode, CancellationToken cancellationToken = default);

    /// <summary>Removes one watcher's watches of a type on a path; NoWatcher when it has none.</summary>
    ValueTask RemoveWatchesAsync(string path, Watcher watcher, WatcherType type, bool local = false, CancellationToken cancellationToken = default);

    /// <summary>Removes every watcher's watches of a type on a path; NoWatcher when there are none.</summary>
    ValueTask RemoveAllWatchesAsync(string path, WatcherType type, bool local = false, CancellationToken cancellationToken = default);

    /// <summary>Adds an identity to the session (scheme "digest" with "user:password", or others the peer knows).</summary>
    ValueTask AddAuthInfoAsync(string scheme, byte[] auth, CancellationToken cancellationToken = default);

    /// <summary>The identities the session has, as ZooKeeper's whoAmI reports them (digest: the user name, no hash).</summary>
    ValueTask<IReadOnlyList<ClientInfo>> WhoAmIAsync(CancellationToken cancellationToken = default);

    /// <summary>Closes the session: its ephemerals are deleted at once. Later calls fail with SessionExpired.</summary>
    ValueTask CloseAsync(CancellationToken cancellationToken = default);
}
