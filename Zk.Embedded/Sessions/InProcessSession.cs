using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Zk.Embedded.Api;
using Zk.Embedded.Processing;
using Zk.Embedded.Tree;
using Zk.Embedded.Watches;

namespace Zk.Embedded.Sessions;

/// <summary>
/// A session used inside the peer's own process: no sockets, no serialization. Writes go through the peer's
/// pipeline; reads run on the caller's thread against the newest state, unless an earlier request of this session
/// is still outstanding (then they wait their turn, see <see cref="SessionOutbox"/>).
/// </summary>
internal sealed class InProcessSession : IZooKeeper, ISessionSink
{
    private readonly PeerCore _peer;
    private readonly ServerSession _server;
    private readonly ClientWatchRegistry _watchers = new();
    private readonly Watcher? _defaultWatcher;
    private readonly SessionOutbox _outbox;
    private readonly ITimer _heartbeat;
    private volatile SessionState _state = SessionState.Connecting;
    private volatile bool _moved;
    private volatile bool _peerStopped;

    public InProcessSession(PeerCore peer, ServerSession server, Watcher? defaultWatcher)
    {
        _peer = peer;
        _server = server;
        _defaultWatcher = defaultWatcher;
        _outbox = new SessionOutbox(DeliverEvent, DeliverEnd, () => peer.Processor.State, () => peer.Processor.FiringState);
        // The Java client pings after a third of the timeout without traffic; pinging on that period keeps the
        // session well inside its timeout as long as this object is alive.
        var period = TimeSpan.FromMilliseconds(Math.Max(1, server.TimeoutMillis / 3));
        _heartbeat = peer.Time.CreateTimer(static s => ((InProcessSession)s!).Heartbeat(), this, period, period);
    }

    public long SessionId => _server.SessionId;

    public ReadOnlyMemory<byte> SessionPassword => _server.Password;

    public TimeSpan SessionTimeout => TimeSpan.FromMilliseconds(_server.TimeoutMillis);

    public SessionState State => _state;

    internal ServerSession Server => _server;

    /// <summary>Makes the session fall silent, as a hung client would, so the peer expires it. For tests.</summary>
    internal void StopHeartbeats() => _heartbeat.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);

    /// <summary>Creates the session in the ensemble (a createSession txn).</summary>
    internal async ValueTask OpenAsync(CancellationToken cancellationToken)
    {
        var reply = await SubmitAsync(new CreateSessionRequest(_server.TimeoutMillis), cancellationToken).ConfigureAwait(false);
        if (reply.IsError)
        {
            _heartbeat.Dispose();
            throw reply.ToException();
        }
    }

    /// <summary>Finishes attaching: the session is usable, and the default watcher hears SyncConnected.</summary>
    internal void MarkConnected()
    {
        _state = SessionState.Connected;
        _outbox.EnqueueEvent(new WatchedEvent(EventType.None, KeeperState.SyncConnected, null), null);
    }

    // ---- writes ----

    public async ValueTask<string> CreateAsync(string path, byte[]? data, IReadOnlyList<Acl> acl, CreateMode mode, long ttl = -1, CancellationToken cancellationToken = default) =>
        (await CreateWithStatAsync(path, data, acl, mode, ttl, cancellationToken).ConfigureAwait(false)).Path;

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<CreateResult> CreateWithStatAsync(string path, byte[]? data, IReadOnlyList<Acl> acl, CreateMode mode, long ttl = -1, CancellationToken cancellationToken = default)
    {
        var reply = await WriteAsync(new CreateRequest(path, CopyWithin(data, path), acl, mode, ttl, ReturnStat: true), "create", cancellationToken).ConfigureAwait(false);
        return (CreateResult)reply.Value!;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask DeleteAsync(string path, int version = -1, CancellationToken cancellationToken = default) =>
        await WriteAsync(new DeleteRequest(path, version), "delete", cancellationToken).ConfigureAwait(false);

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<Stat> SetDataAsync(string path, byte[]? data, int version = -1, CancellationToken cancellationToken = default)
    {
        var reply = await WriteAsync(new SetDataRequest(path, CopyWithin(data, path), version), "setData", cancellationToken).ConfigureAwait(false);
        return (Stat)reply.Value!;
    }

    public async ValueTask<Stat> SetAclAsync(string path, IReadOnlyList<Acl> acl, int aclVersion = -1, CancellationToken cancellationToken = default)
    {
        var reply = await WriteAsync(new SetAclRequest(path, acl, aclVersion), "setACL", cancellationToken).ConfigureAwait(false);
        return (Stat)reply.Value!;
    }

    public async ValueTask<IReadOnlyList<OpResult>> MultiAsync(IReadOnlyList<Op> ops, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(ops);
        var copies = new Op[ops.Count];
        for (var i = 0; i < ops.Count; i++)
        {
            copies[i] = ops[i] switch
            {
                CreateOp c => c with { Data = Copy(c.Data) },
                SetDataOp s => s with { Data = Copy(s.Data) },
                var other => other,
            };
        }

        var reply = await WriteAsync(new MultiRequest(copies), "multi", cancellationToken).ConfigureAwait(false);
        return (IReadOnlyList<OpResult>)reply.Value!;
    }

    public async ValueTask SyncAsync(string path, CancellationToken cancellationToken = default) =>
        await WriteAsync(new SyncRequest(path), "sync", cancellationToken).ConfigureAwait(false);

    public async ValueTask AddAuthInfoAsync(string scheme, byte[] auth, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(scheme);
        ArgumentNullException.ThrowIfNull(auth);
        var reply = await SubmitAsync(new AddAuthRequest(scheme, (byte[])auth.Clone()), cancellationToken).ConfigureAwait(false);
        if (reply.Error == ZkErrorCode.AuthFailed)
        {
            // As with ZooKeeper, a failed auth ends the session for this client: the peer drops it, every later call fails with AuthFailed.
            var close = SubmitAsync(new CloseSessionRequest(Expired: false), CancellationToken.None);
            _state = SessionState.AuthFailed;
            _outbox.EnqueueEvent(new WatchedEvent(EventType.None, KeeperState.AuthFailed, null), null);
            await close.ConfigureAwait(false);
            throw new ZkException(ZkErrorCode.AuthFailed, null, $"Auth scheme '{scheme}' is not supported; the session is closed.");
        }

        ThrowIfError(reply, "auth");
    }

    public async ValueTask AddWatchAsync(string path, Watcher watcher, AddWatchMode mode, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(watcher);
        if (!Enum.IsDefined(mode))
        {
            throw new ZkException(ZkErrorCode.BadArguments, path, $"Unknown add-watch mode {(int)mode}.");
        }

        ThrowIfUnusable(path);
        _watchers.AddPersistent(path, watcher, mode);
        var reply = await SubmitAsync(new AddWatchRequest(path, mode), cancellationToken).ConfigureAwait(false);
        if (reply.IsError)
        {
            _watchers.Remove(path, watcher, WatcherType.Any, dryRun: false);
        }

        ThrowIfError(reply, "addWatch");
    }

    public ValueTask RemoveWatchesAsync(string path, Watcher watcher, WatcherType type, bool local = false, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(watcher);
        return RemoveWatchersAsync(path, watcher, type, local, cancellationToken);
    }

    public ValueTask RemoveAllWatchesAsync(string path, WatcherType type, bool local = false, CancellationToken cancellationToken = default) =>
        RemoveWatchersAsync(path, null, type, local, cancellationToken);

    private async ValueTask RemoveWatchersAsync(string path, Watcher? watcher, WatcherType type, bool local, CancellationToken cancellationToken)
    {
        ThrowIfUnusable(path);
        if (PathRules.Validate(path) is { } reason)
        {
            throw new ZkException(ZkErrorCode.BadArguments, path, reason);
        }

        if (!Enum.IsDefined(type))
        {
            throw new ZkException(ZkErrorCode.BadArguments, path, $"Unknown watcher type {(int)type}.");
        }

        if (_watchers.Remove(path, watcher, type, dryRun: true).Count == 0)
        {
            throw new ZkException(ZkErrorCode.NoWatcher, path);
        }

        if (!local)
        {
            // Removing one watcher of several leaves the session's server-side watch in place; only ask whether it is there.
            var othersRemain = watcher is not null && _watchers.HasOthers(path, watcher, type);
            var reply = await SubmitAsync(new RemoveWatchesRequest(path, type, CheckOnly: othersRemain), cancellationToken).ConfigureAwait(false);
            ThrowIfError(reply, "removeWatches");
        }

        foreach (var (removed, eventType) in _watchers.Remove(path, watcher, type, dryRun: false))
        {
            _outbox.EnqueueEvent(new WatchedEvent(eventType, KeeperState.SyncConnected, path), removed);
        }
    }

    public async ValueTask CloseAsync(CancellationToken cancellationToken = default)
    {
        if (_state is SessionState.Closed or SessionState.Expired or SessionState.AuthFailed || _moved)
        {
            return;
        }

        _state = SessionState.Closed;
        _heartbeat.Dispose();
        var slot = _outbox.BeginWrite();
        await _peer.Processor.SubmitAsync(new PendingWrite(_server, new CloseSessionRequest(Expired: false), slot), CancellationToken.None).ConfigureAwait(false);
        await slot.AsValueTask().ConfigureAwait(false);
    }

    public ValueTask DisposeAsync() => CloseAsync();

    // ---- reads ----

    public ValueTask<Stat?> ExistsAsync(string path, Watcher? watcher = null, CancellationToken cancellationToken = default)
    {
        if (watcher is null && TryBeginFastRead(out var state))
        {
            // The common read, answered without a closure or a boxed result (see ReadAsync for why this order is safe).
            var error = Reads.Exists(state, path, out var node);
            if (_outbox.IsIdle)
            {
                return FastResult<Stat?>(error, path, node?.ToStat(), "exists");
            }
        }

        return ExistsQueued(path, watcher);
    }

    // The queued reads live in their own methods: a lambda capturing the parameters makes C# allocate its closure
    // on entry to the method that declares it, which would tax every fast read.
    private ValueTask<Stat?> ExistsQueued(string path, Watcher? watcher) =>
        ReadAsync(state => Exists(state, path, watcher), "exists", static reply => (Stat?)reply.Value);

    public ValueTask<DataResult> GetDataAsync(string path, Watcher? watcher = null, CancellationToken cancellationToken = default)
    {
        if (watcher is null && TryBeginFastRead(out var state))
        {
            var error = Reads.GetData(state, path, _server.AuthIds, out var node);
            if (_outbox.IsIdle)
            {
                return FastResult(error, path, error == ZkErrorCode.Ok ? new DataResult(node!.Data ?? ReadOnlyMemory<byte>.Empty, node.ToStat()) : default, "getData");
            }
        }

        return GetDataQueued(path, watcher);
    }

    private ValueTask<DataResult> GetDataQueued(string path, Watcher? watcher) =>
        ReadAsync(state => GetData(state, path, watcher), "getData", static reply => (DataResult)reply.Value!);

    /// <summary>True when the read may run here and now: the session is usable and nothing of it is outstanding.</summary>
    private bool TryBeginFastRead(out TreeState state)
    {
        ThrowIfUnusable(null);
        if (!_outbox.IsIdle)
        {
            state = null!;
            return false;
        }

        _peer.Sessions.Touch(_server);
        state = _peer.Processor.State;
        return true;
    }

    private static ValueTask<T> FastResult<T>(ZkErrorCode error, string path, T value, string op)
    {
        Telemetry.Requests.Add(1, new KeyValuePair<string, object?>("op", op));
        return error == ZkErrorCode.Ok ? new ValueTask<T>(value) : ValueTask.FromException<T>(new ZkException(error, path));
    }

    public ValueTask<AclResult> GetAclAsync(string path, CancellationToken cancellationToken = default) =>
        ReadAsync(
            state =>
            {
                var error = Reads.GetAcl(state, path, _server.AuthIds, out var node);
                return Outcome(state, error, path, error == ZkErrorCode.Ok ? new AclResult(Reads.VisibleAcl(node!, _server.AuthIds), node!.ToStat()) : null);
            },
            "getACL",
            static reply => (AclResult)reply.Value!);

    public ValueTask<IReadOnlyList<string>> GetChildrenAsync(string path, Watcher? watcher = null, CancellationToken cancellationToken = default) =>
        ReadAsync(state => GetChildren(state, path, watcher), "getChildren", static reply => ((ChildrenResult)reply.Value!).Children);

    public ValueTask<ChildrenResult> GetChildrenWithStatAsync(string path, Watcher? watcher = null, CancellationToken cancellationToken = default) =>
        ReadAsync(state => GetChildren(state, path, watcher), "getChildren2", static reply => (ChildrenResult)reply.Value!);

    public ValueTask<int> GetAllChildrenNumberAsync(string path, CancellationToken cancellationToken = default) =>
        ReadAsync(
            state =>
            {
                var error = Reads.GetChildren(state, path, _server.AuthIds, out var node);
                return Outcome(state, error, path, error == ZkErrorCode.Ok ? node!.Descendants : null);
            },
            "getAllChildrenNumber",
            static reply => (int)reply.Value!);

    public ValueTask<IReadOnlyList<string>> GetEphemeralsAsync(string prefixPath = "/", CancellationToken cancellationToken = default) =>
        ReadAsync(
            state =>
            {
                var error = Reads.GetEphemerals(state, _server.SessionId, prefixPath, out var paths);
                return Outcome(state, error, prefixPath, paths);
            },
            "getEphemerals",
            static reply => (IReadOnlyList<string>)reply.Value!);

    public ValueTask<IReadOnlyList<OpResult>> MultiReadAsync(IReadOnlyList<Op> ops, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(ops);
        return ReadAsync(state => MultiRead(state, ops), "multiRead", static reply => (IReadOnlyList<OpResult>)reply.Value!);
    }

    public ValueTask<IReadOnlyList<ClientInfo>> WhoAmIAsync(CancellationToken cancellationToken = default) =>
        ReadAsync(state => Outcome(state, ZkErrorCode.Ok, null, Reads.WhoAmI(_server.AuthIds)), "whoAmI", static reply => (IReadOnlyList<ClientInfo>)reply.Value!);

    private ReadOutcome Exists(TreeState state, string path, Watcher? watcher)
    {
        var error = Reads.Exists(state, path, out var node);
        var reply = Answer(state, error, path, node?.ToStat());
        return error == ZkErrorCode.Ok && watcher is not null
            ? new ReadOutcome(reply, Watch(path, node is null ? ClientWatchTable.Exist : ClientWatchTable.Data, watcher, state, node))
            : new ReadOutcome(reply, null);
    }

    private ReadOutcome GetData(TreeState state, string path, Watcher? watcher)
    {
        var error = Reads.GetData(state, path, _server.AuthIds, out var node);
        if (error != ZkErrorCode.Ok)
        {
            return Outcome(state, error, path, null);
        }

        var reply = Answer(state, error, path, new DataResult(node!.Data ?? ReadOnlyMemory<byte>.Empty, node.ToStat()));
        return new ReadOutcome(reply, watcher is null ? null : Watch(path, ClientWatchTable.Data, watcher, state, node));
    }

    private ReadOutcome GetChildren(TreeState state, string path, Watcher? watcher)
    {
        var error = Reads.GetChildren(state, path, _server.AuthIds, out var node);
        if (error != ZkErrorCode.Ok)
        {
            return Outcome(state, error, path, null);
        }

        var reply = Answer(state, error, path, new ChildrenResult(node!.Children.Names(), node.ToStat()));
        return new ReadOutcome(reply, watcher is null ? null : Watch(path, ClientWatchTable.Child, watcher, state, node));
    }

    private PendingWatch Watch(string path, ClientWatchTable table, Watcher watcher, TreeState state, ZNode? seen) =>
        new(_watchers, _peer.Watches, _server, path, table, watcher, state, seen);

    private ReadOutcome MultiRead(TreeState state, IReadOnlyList<Op> ops)
    {
        var results = new OpResult[ops.Count];
        for (var i = 0; i < ops.Count; i++)
        {
            var op = ops[i];
            ZkErrorCode error;
            switch (op)
            {
                case GetDataOp:
                    error = Reads.GetData(state, op.Path, _server.AuthIds, out var dataNode);
                    results[i] = error == ZkErrorCode.Ok ? new GetDataResult(dataNode!.Data ?? ReadOnlyMemory<byte>.Empty, dataNode.ToStat()) : new ErrorResult(error);
                    break;
                case GetChildrenOp:
                    error = Reads.GetChildren(state, op.Path, _server.AuthIds, out var parent);
                    results[i] = error == ZkErrorCode.Ok ? new GetChildrenResult(parent!.Children.Names()) : new ErrorResult(error);
                    break;
                default:
                    // Writes do not mix with reads (MultiOperationRecord).
                    return Outcome(state, ZkErrorCode.BadArguments, op.Path, null);
            }
        }

        return Outcome(state, ZkErrorCode.Ok, null, results);
    }

    private static Reply Answer(TreeState state, ZkErrorCode error, string? path, object? value) =>
        new(error, error == ZkErrorCode.Ok ? null : path, value, state.Zxid, state);

    private static ReadOutcome Outcome(TreeState state, ZkErrorCode error, string? path, object? value) =>
        new(Answer(state, error, path, value), null);

    /// <summary>
    /// Runs a read on the caller's thread when nothing of this session is outstanding (the common case: no
    /// allocation beyond the result, no thread hop); otherwise queues it in the session's order.
    /// </summary>
    private ValueTask<T> ReadAsync<T>(Func<TreeState, ReadOutcome> execute, string op, Func<Reply, T> result)
    {
        ThrowIfUnusable(null);
        _peer.Sessions.Touch(_server);
        if (_outbox.IsIdle)
        {
            var state = _peer.Processor.State;
            var outcome = execute(state);
            // The outbox is checked after the state is read: an event for any change in that state was queued before
            // the state was published, so an idle outbox means every such event has been delivered.
            if (_outbox.IsIdle)
            {
                if (outcome.Watch is { } watch)
                {
                    watch.RegisterClient();
                    watch.RegisterServer(_peer.Processor.FiringState);
                }

                var reply = outcome.Reply;
                Telemetry.Requests.Add(1, new KeyValuePair<string, object?>("op", op));
                return reply.IsError ? ValueTask.FromException<T>(reply.ToException()) : new ValueTask<T>(result(reply));
            }

            // Something was queued meanwhile (an event, or a write from another thread): the answer stands, it is
            // just delivered behind what is queued.
            return Queued(_outbox.EnqueueAnswered(outcome), op, result);
        }

        return Queued(_outbox.EnqueueRead(execute), op, result);

        static async ValueTask<T> Queued(Task<Reply> pending, string op, Func<Reply, T> result)
        {
            var reply = await pending.ConfigureAwait(false);
            Telemetry.Requests.Add(1, new KeyValuePair<string, object?>("op", op));
            return reply.IsError ? throw reply.ToException() : result(reply);
        }
    }

    private async ValueTask<Reply> WriteAsync(PipelineRequest request, string op, CancellationToken cancellationToken)
    {
        var started = _peer.Time.GetTimestamp();
        var reply = await SubmitAsync(request, cancellationToken).ConfigureAwait(false);
        Telemetry.Requests.Add(1, new KeyValuePair<string, object?>("op", op));
        Telemetry.WriteDuration.Record(_peer.Time.GetElapsedTime(started).TotalSeconds);
        ThrowIfError(reply, op);
        return reply;
    }

    private ValueTask<Reply> SubmitAsync(PipelineRequest request, CancellationToken cancellationToken)
    {
        ThrowIfUnusable(request.ErrorPath);
        cancellationToken.ThrowIfCancellationRequested();
        _peer.Sessions.Touch(_server);
        var slot = _outbox.BeginWrite();
        var submitted = _peer.Processor.SubmitAsync(new PendingWrite(_server, request, slot), CancellationToken.None);
        if (!submitted.IsCompletedSuccessfully)
        {
            return AwaitSubmission(submitted, slot, request);
        }

        return slot.AsValueTask();

        async ValueTask<Reply> AwaitSubmission(ValueTask submitted, ReplySlot slot, PipelineRequest request)
        {
            try
            {
                await submitted.ConfigureAwait(false);
            }
            catch (ZkException e)
            {
                // The pipeline took nothing: answer the slot ourselves so reads queued behind it still run.
                var state = _peer.Processor.State;
                slot.Complete(new Reply(e.Code, request.ErrorPath, null, state.Zxid, state));
            }

            return await slot.AsValueTask().ConfigureAwait(false);
        }
    }

    private static void ThrowIfError(in Reply reply, string op)
    {
        if (reply.IsError)
        {
            throw reply.ToException();
        }
    }

    private void ThrowIfUnusable(string? path)
    {
        if (_moved)
        {
            throw new ZkException(ZkErrorCode.SessionMoved, path, "This session was re-attached elsewhere; use the new handle.");
        }

        if (_peerStopped)
        {
            throw new ZkException(ZkErrorCode.ConnectionLoss, path, "The peer has stopped.");
        }

        switch (_state)
        {
            case SessionState.Closed:
            case SessionState.Expired:
                // The Java client reports SESSIONEXPIRED for calls on a closed handle.
                throw new ZkException(ZkErrorCode.SessionExpired, path);
            case SessionState.AuthFailed:
                throw new ZkException(ZkErrorCode.AuthFailed, path);
        }
    }

    private void Heartbeat()
    {
        if (_state is SessionState.Connected or SessionState.Connecting)
        {
            _peer.Sessions.Touch(_server);
        }
    }

    private static byte[]? Copy(byte[]? data) => data is null ? null : data.Length == 0 ? [] : (byte[])data.Clone();

    /// <summary>Copies data after checking it fits, so an oversized value fails here with a message that says what to change.</summary>
    private byte[]? CopyWithin(byte[]? data, string path)
    {
        if (data is not null && data.Length > _peer.MaxDataBytes)
        {
            throw new ZkException(
                ZkErrorCode.BadArguments,
                path,
                $"Data of {data.Length:N0} bytes for {path} exceeds the peer's limit of {_peer.MaxDataBytes:N0} bytes (jute.maxbuffer, ZkPeerOptions.MaxDataBytes).");
        }

        return Copy(data);
    }

    // ---- ISessionSink: called by the peer ----

    void ISessionSink.OnWatchEvent(WatchedEvent watchedEvent)
    {
        Telemetry.WatchEvents.Add(1);
        _outbox.EnqueueEvent(watchedEvent, null);
    }

    void ISessionSink.OnSessionEnded(KeeperState state) => _outbox.EnqueueEnd(state);

    /// <summary>The session was re-attached on another handle: this one stops, as ZooKeeper closes the old connection.</summary>
    void ISessionSink.OnDetached()
    {
        _moved = true;
        _heartbeat.Dispose();
    }

    private void DeliverEvent(WatchedEvent watchedEvent, Watcher? only)
    {
        if (only is not null)
        {
            Invoke(only, watchedEvent);
            return;
        }

        foreach (var watcher in _watchers.Materialize(watchedEvent, _defaultWatcher))
        {
            Invoke(watcher, watchedEvent);
        }
    }

    private void DeliverEnd(KeeperState state)
    {
        _state = state == KeeperState.Expired ? SessionState.Expired : _state == SessionState.AuthFailed ? SessionState.AuthFailed : SessionState.Closed;
        _peerStopped = state == KeeperState.Disconnected;
        _heartbeat.Dispose();
        DeliverEvent(new WatchedEvent(EventType.None, state, null), null);
    }

    private void Invoke(Watcher watcher, WatchedEvent watchedEvent)
    {
        try
        {
            watcher(watchedEvent);
        }
        catch (Exception e)
        {
            Processing.Log.WatcherFailed(_peer.Logger, e, _server.SessionId, watchedEvent.Type, watchedEvent.Path);
        }
    }
}
