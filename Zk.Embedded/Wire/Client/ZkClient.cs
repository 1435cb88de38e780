using Zk.Embedded.Api;
using Zk.Embedded.Tree;
using Zk.Embedded.Wire.Jute;

namespace Zk.Embedded.Wire.Client;

/// <summary>
/// A ZooKeeper session over ZooKeeper's wire protocol (jute over TCP), against a Zk.Embedded peer's client port or
/// Apache ZooKeeper 3.5+. It behaves as the Java client does: requests complete in the order sent; a watch event
/// is delivered before the reply of any later read that shows the change; when the connection drops, calls in flight
/// fail with <see cref="ZkErrorCode.ConnectionLoss"/>, watchers hear <see cref="KeeperState.Disconnected"/>, and the
/// client re-attaches the session on the next server with its watches and auth; a server that refuses the session
/// makes it <see cref="SessionState.Expired"/>.
/// </summary>
/// <remarks>
/// Watchers run one at a time on the client's dispatch loop; a watcher that blocks delays every later event and reply
/// of this session. Data passed in is serialised before the call returns, so the caller may reuse its arrays.
/// </remarks>
public sealed class ZkClient : IZooKeeper
{
    private readonly ClientSession _session;
    private readonly Chroot _chroot;

    private ZkClient(ClientSession session)
    {
        _session = session;
        _chroot = session.Chroot;
    }

    /// <summary>
    /// Connects to one of the servers of <paramref name="connectString"/> (<c>host:port[,host:port...][/chroot]</c>,
    /// tried in a shuffled order) and opens a session, or re-attaches <see cref="ZkClientOptions.SessionId"/>.
    /// </summary>
    /// <exception cref="ZkException">ConnectionLoss when no server answered within <see cref="ZkClientOptions.ConnectTimeout"/>;
    /// SessionExpired when the server refused the session to re-attach.</exception>
    public static async ValueTask<ZkClient> ConnectAsync(string connectString, ZkClientOptions? options = null, CancellationToken ct = default)
    {
        options ??= new ZkClientOptions();
        options.Validate();
        var session = new ClientSession(ConnectString.Parse(connectString, Random.Shared), options);
        await session.ConnectAsync(ct).ConfigureAwait(false);
        return new ZkClient(session);
    }

    public long SessionId => _session.SessionId;

    public ReadOnlyMemory<byte> SessionPassword => _session.Password;

    public long LastZxidSeen => _session.LastZxidSeen;

    public TimeSpan SessionTimeout => _session.Timeout;

    public SessionState State => _session.State;

    public event Action<KeeperState>? StateChanged
    {
        add => _session.Watches.Registry.StateChanged += value;
        remove => _session.Watches.Registry.StateChanged -= value;
    }

    // ---- writes ----

    public async ValueTask<string> CreateAsync(string path, byte[]? data, IReadOnlyList<Acl> acl, CreateMode mode, long ttl = -1, CancellationToken cancellationToken = default)
    {
        if (mode.IsTtl() || mode.IsContainer())
        {
            return (await CreateWithStatAsync(path, data, acl, mode, ttl, cancellationToken).ConfigureAwait(false)).Path;
        }

        var request = new CreateRequest(ToServer(path), data, acl, (int)mode);
        return await _session.CallAsync(new PendingCall<string>(OpCode.Create, path, Replies.CreatePath), request, cancellationToken).ConfigureAwait(false);
    }

    public ValueTask<CreateResult> CreateWithStatAsync(string path, byte[]? data, IReadOnlyList<Acl> acl, CreateMode mode, long ttl = -1, CancellationToken cancellationToken = default)
    {
        var serverPath = ToServer(path);
        if (mode.IsTtl())
        {
            // ZooKeeper.create picks createTTL for the TTL modes, createContainer for containers, create2 otherwise.
            return _session.CallAsync(new PendingCall<CreateResult>(OpCode.CreateTtl, path, Replies.Create2), new CreateTtlRequest(serverPath, data, acl, (int)mode, ttl), cancellationToken);
        }

        var op = mode.IsContainer() ? OpCode.CreateContainer : OpCode.Create2;
        return _session.CallAsync(new PendingCall<CreateResult>(op, path, Replies.Create2), new CreateRequest(serverPath, data, acl, (int)mode), cancellationToken);
    }

    public async ValueTask DeleteAsync(string path, int version = -1, CancellationToken cancellationToken = default) =>
        await _session.CallAsync(new PendingCall<bool>(OpCode.Delete, path, null), new DeleteRequest(ToServer(path), version), cancellationToken).ConfigureAwait(false);

    public ValueTask<Stat> SetDataAsync(string path, byte[]? data, int version = -1, CancellationToken cancellationToken = default) =>
        _session.CallAsync(new PendingCall<Stat>(OpCode.SetData, path, Replies.Stat), new SetDataRequest(ToServer(path), data, version), cancellationToken);

    public ValueTask<Stat> SetAclAsync(string path, IReadOnlyList<Acl> acl, int aclVersion = -1, CancellationToken cancellationToken = default) =>
        _session.CallAsync(new PendingCall<Stat>(OpCode.SetAcl, path, Replies.Stat), new SetAclRequest(ToServer(path), acl, aclVersion), cancellationToken);

    public async ValueTask<IReadOnlyList<OpResult>> MultiAsync(IReadOnlyList<Op> ops, CancellationToken cancellationToken = default)
    {
        var record = ToMultiRecord(ops, reads: false);
        var results = await _session.CallAsync(new PendingCall<IReadOnlyList<OpResult>>(OpCode.Multi, null, Replies.Multi), record, cancellationToken).ConfigureAwait(false);
        // ZooKeeper.multiInternal: the first error result makes the whole call fail, carrying every result.
        for (var i = 0; i < results.Count; i++)
        {
            if (results[i] is ErrorResult { Code: not ZkErrorCode.Ok } failed)
            {
                throw new ZkException(failed.Code, i < ops.Count ? ops[i].Path : null) { Results = results };
            }
        }

        return results;
    }

    public async ValueTask SyncAsync(string path, CancellationToken cancellationToken = default) =>
        await _session.CallAsync(new PendingCall<bool>(OpCode.Sync, path, Replies.Path), new SyncRequest(ToServer(path)), cancellationToken).ConfigureAwait(false);

    // ---- reads ----

    public ValueTask<Stat?> ExistsAsync(string path, Watcher? watcher = null, CancellationToken cancellationToken = default) =>
        _session.CallAsync(
            new PendingCall<Stat?>(OpCode.Exists, path, Replies.NullableStat, Watch(path, watcher, WatchKind.Exists), noNodeIsDefault: true),
            new ExistsRequest(ToServer(path), watcher is not null),
            cancellationToken);

    public ValueTask<DataResult> GetDataAsync(string path, Watcher? watcher = null, CancellationToken cancellationToken = default) =>
        _session.CallAsync(
            new PendingCall<DataResult>(OpCode.GetData, path, Replies.Data, Watch(path, watcher, WatchKind.Data)),
            new GetDataRequest(ToServer(path), watcher is not null),
            cancellationToken);

    public ValueTask<AclResult> GetAclAsync(string path, CancellationToken cancellationToken = default) =>
        _session.CallAsync(new PendingCall<AclResult>(OpCode.GetAcl, path, Replies.Acl), new GetAclRequest(ToServer(path)), cancellationToken);

    public ValueTask<IReadOnlyList<string>> GetChildrenAsync(string path, Watcher? watcher = null, CancellationToken cancellationToken = default) =>
        _session.CallAsync(
            new PendingCall<IReadOnlyList<string>>(OpCode.GetChildren, path, Replies.Children, Watch(path, watcher, WatchKind.Child)),
            new GetChildrenRequest(ToServer(path), watcher is not null),
            cancellationToken);

    public ValueTask<ChildrenResult> GetChildrenWithStatAsync(string path, Watcher? watcher = null, CancellationToken cancellationToken = default) =>
        _session.CallAsync(
            new PendingCall<ChildrenResult>(OpCode.GetChildren2, path, Replies.Children2, Watch(path, watcher, WatchKind.Child)),
            new GetChildren2Request(ToServer(path), watcher is not null),
            cancellationToken);

    public ValueTask<int> GetAllChildrenNumberAsync(string path, CancellationToken cancellationToken = default) =>
        _session.CallAsync(new PendingCall<int>(OpCode.GetAllChildrenNumber, path, Replies.AllChildrenNumber), new GetAllChildrenNumberRequest(ToServer(path)), cancellationToken);

    public ValueTask<IReadOnlyList<string>> GetEphemeralsAsync(string prefixPath = "/", CancellationToken cancellationToken = default) =>
        _session.CallAsync(new PendingCall<IReadOnlyList<string>>(OpCode.GetEphemerals, prefixPath, Replies.Ephemerals), new GetEphemeralsRequest(ToServer(prefixPath)), cancellationToken);

    public ValueTask<IReadOnlyList<OpResult>> MultiReadAsync(IReadOnlyList<Op> ops, CancellationToken cancellationToken = default) =>
        _session.CallAsync(new PendingCall<IReadOnlyList<OpResult>>(OpCode.MultiRead, null, Replies.Multi), ToMultiRecord(ops, reads: true), cancellationToken);

    public ValueTask<IReadOnlyList<ClientInfo>> WhoAmIAsync(CancellationToken cancellationToken = default) =>
        _session.CallAsync(new PendingCall<IReadOnlyList<ClientInfo>>(OpCode.WhoAmI, null, Replies.WhoAmI), default(NoBody), cancellationToken);

    // ---- watches and auth ----

    public async ValueTask AddWatchAsync(string path, Watcher watcher, AddWatchMode mode, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(watcher);
        if (!Enum.IsDefined(mode))
        {
            throw new ZkException(ZkErrorCode.BadArguments, path, $"Unknown add-watch mode {(int)mode}.");
        }

        var kind = mode == AddWatchMode.PersistentRecursive ? WatchKind.PersistentRecursive : WatchKind.Persistent;
        await _session.CallAsync(new PendingCall<bool>(OpCode.AddWatch, path, null, Watch(path, watcher, kind)), new AddWatchRequest(ToServer(path), mode), cancellationToken).ConfigureAwait(false);
    }

    public ValueTask RemoveWatchesAsync(string path, Watcher watcher, WatcherType type, bool local = false, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(watcher);
        return RemoveWatchersAsync(path, watcher, type, local, cancellationToken);
    }

    public ValueTask RemoveAllWatchesAsync(string path, WatcherType type, bool local = false, CancellationToken cancellationToken = default) =>
        RemoveWatchersAsync(path, null, type, local, cancellationToken);

    public async ValueTask AddAuthInfoAsync(string scheme, byte[] auth, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(scheme);
        ArgumentNullException.ThrowIfNull(auth);
        _session.ThrowIfUnusable(null);
        // Remembered first, as ZooKeeper.addAuthInfo does, so a reconnect re-sends it.
        var copy = (byte[])auth.Clone();
        _session.RememberAuth(scheme, copy);
        var call = new PendingCall<bool>(OpCode.Auth, null, null) { Xid = Xids.Auth };
        await _session.CallAsync(call, new AuthPacket(0, scheme, copy), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Sends closeSession and waits for its reply (the server deletes the session's ephemerals first); watchers hear Closed.</summary>
    public ValueTask CloseAsync(CancellationToken cancellationToken = default) => _session.CloseAsync(cancellationToken);

    public ValueTask DisposeAsync() => CloseAsync();

    private async ValueTask RemoveWatchersAsync(string path, Watcher? watcher, WatcherType type, bool local, CancellationToken cancellationToken)
    {
        _session.ThrowIfUnusable(path);
        if (PathRules.Validate(path) is { } reason)
        {
            throw new ZkException(ZkErrorCode.BadArguments, path, reason);
        }

        if (!Enum.IsDefined(type))
        {
            throw new ZkException(ZkErrorCode.BadArguments, path, $"Unknown watcher type {(int)type}.");
        }

        var watchers = _session.Watchers;
        if (watchers.Remove(path, watcher, type, dryRun: true).Count == 0)
        {
            throw new ZkException(ZkErrorCode.NoWatcher, path);
        }

        if (!local)
        {
            // Removing one watcher of several leaves the session's server-side watch in place: only check it is there.
            if (watcher is not null && watchers.HasOthers(path, watcher, type))
            {
                await _session.CallAsync(new PendingCall<bool>(OpCode.CheckWatches, path, null), new CheckWatchesRequest(ToServer(path), type), cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await _session.CallAsync(new PendingCall<bool>(OpCode.RemoveWatches, path, null), new RemoveWatchesRequest(ToServer(path), type), cancellationToken).ConfigureAwait(false);
            }
        }

        foreach (var (removed, eventType) in watchers.Remove(path, watcher, type, dryRun: false))
        {
            _session.Post(new EventDispatch(_session, new WatchedEvent(eventType, KeeperState.SyncConnected, path), removed));
        }
    }

    private MultiOperationRecord ToMultiRecord(IReadOnlyList<Op> ops, bool reads)
    {
        ArgumentNullException.ThrowIfNull(ops);
        var list = new MultiOp[ops.Count];
        for (var i = 0; i < list.Length; i++)
        {
            var op = ops[i];
            if (reads != op is GetDataOp or GetChildrenOp)
            {
                throw new ZkException(ZkErrorCode.BadArguments, op.Path, reads ? "multiRead takes only getData and getChildren ops." : "multi takes only write and check ops.");
            }

            list[i] = MultiOp.ForClient(op with { Path = ToServer(op.Path) });
        }

        return new MultiOperationRecord(list);
    }

    private WatchRegistration? Watch(string path, Watcher? watcher, WatchKind kind) =>
        watcher is null ? null : new WatchRegistration(_session, path, watcher, kind);

    private string ToServer(string path)
    {
        _session.ThrowIfUnusable(path);
        return _chroot.ToServer(path);
    }
}
