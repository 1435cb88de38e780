using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Zk.Embedded.Api;
using Zk.Embedded.Processing;
using Zk.Embedded.Sessions;
using Zk.Embedded.Tree;
using Zk.Embedded.Watches;

namespace Zk.Embedded.InProcess;

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
    private readonly InProcessReads _reads;
    private readonly SeenZxid _seen = new();
    private readonly ITimer _heartbeat;
    private volatile SessionState _state = SessionState.Connecting;
    private volatile bool _moved;
    private volatile bool _peerStopped;
    private volatile bool _leaderless;   // its ensemble member serves no clients now
    private bool _rewatchPending;        // its member serves again: set its watches again once SyncConnected is delivered
    private bool _ended;                 // the outbox's: DeliverEnd ran

    public InProcessSession(PeerCore peer, ServerSession server, Watcher? defaultWatcher)
    {
        _peer = peer;
        _server = server;
        _defaultWatcher = defaultWatcher;
        _outbox = new SessionOutbox(DeliverEvent, DeliverEnd, () => peer.Pipeline.State, () => peer.Pipeline.FiringState, logger: peer.Logger, dispatch: peer.Dispatch);
        _reads = new InProcessReads(peer, server, _outbox, _watchers, _seen);
        // The Java client pings after a third of the timeout without traffic; pinging on that period keeps the
        // session well inside its timeout as long as this object is alive.
        var period = TimeSpan.FromMilliseconds(Math.Max(1, server.TimeoutMillis / 3));
        _heartbeat = peer.Time.CreateTimer(static s => ((InProcessSession)s!).Heartbeat(), this, period, period);
    }

    public long SessionId => _server.SessionId.Value;

    public long LastZxidSeen => _seen.Value;

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
        InProcessReads.ThrowIfAnyNull(ops, "a multi", "a create, delete, setData or check");
        var size = RequestSize.Multi(ops);
        var limit = RequestSize.Limit(_peer.MaxDataBytes);
        if (size > limit)
        {
            throw new ZkException(
                ZkErrorCode.BadArguments,
                null,
                $"A multi of {ops.Count} ops carries {size:N0} bytes, more than the peer's request limit of {limit:N0} bytes (jute.maxbuffer + {RequestSize.FrameSlackBytes}); split it.");
        }

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

    public async ValueTask LinearizableSyncAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfUnusable(null);
        cancellationToken.ThrowIfCancellationRequested();
        _peer.Sessions.Touch(_server);
        if (_peer.Ensemble is { } ensemble)
            await ensemble.ReadIndexAsync(cancellationToken).ConfigureAwait(false);
        if (!_outbox.IsIdle)
        {
            // Requests of a session complete in the order they were issued: after its earlier writes and reads.
            var reply = await _outbox.EnqueueRead(static state => new ReadOutcome(new Reply(ZkErrorCode.Ok, null, null, state.Zxid, state), null)).ConfigureAwait(false);
            _seen.Saw(reply.Zxid);
            ThrowIfError(reply, "linearizableSync");
        }
        Telemetry.Requests.Add(1, new KeyValuePair<string, object?>("op", "linearizableSync"));
    }

    public async ValueTask AddAuthInfoAsync(string scheme, byte[] auth, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(scheme);
        ArgumentNullException.ThrowIfNull(auth);
        ThrowIfUnusable(null);
        cancellationToken.ThrowIfCancellationRequested();
        // Handled now, as ZooKeeper handles addAuth on arrival: requests issued before it keep the ids they were
        // issued with (writes carry them, queued reads captured them), requests after it have the new ones.
        var error = Authentication.Authenticate(scheme, auth, _peer.Options.SuperDigest, out var proved);
        _server.AddAuthIds(proved);
        if (error == ZkErrorCode.AuthFailed)
        {
            // As with ZooKeeper, a failed auth ends the session for this client: the peer drops it, every later call fails with AuthFailed.
            var close = SubmitAsync(new CloseSessionRequest(Expired: false), CancellationToken.None);
            _state = SessionState.AuthFailed;
            _outbox.EnqueueEvent(new WatchedEvent(EventType.None, KeeperState.AuthFailed, null), null);
            await close.ConfigureAwait(false);
            throw new ZkException(ZkErrorCode.AuthFailed, null, $"Auth scheme '{scheme}' is not supported; the session is closed.");
        }
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
        await _peer.Writes.SubmitAsync(new PendingWrite(_server, new CloseSessionRequest(Expired: false), slot, Cxid: _server.NextCxid()), CancellationToken.None).ConfigureAwait(false);
        await slot.AsValueTask().ConfigureAwait(false);
    }

    /// <summary>Closes the session; never throws for a peer that stopped or cannot write its log (CloseAsync does).</summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            await CloseAsync().ConfigureAwait(false);
        }
        catch (ZkException e) when (e.Code == ZkErrorCode.ConnectionLoss)
        {
            // The close is a txn, and a peer that stopped takes none: the session ends with the peer, or expires after
            // a restart. ZooKeeper.close() does not throw on a lost connection either, and a dispose must not throw.
        }
    }

    // ---- reads (InProcessReads) ----

    public ValueTask<Stat?> ExistsAsync(string path, Watcher? watcher = null, CancellationToken cancellationToken = default)
    {
        ThrowIfUnusable(null);
        return _reads.ExistsAsync(path, watcher);
    }

    public ValueTask<DataResult> GetDataAsync(string path, Watcher? watcher = null, CancellationToken cancellationToken = default)
    {
        ThrowIfUnusable(null);
        return _reads.GetDataAsync(path, watcher);
    }

    public ValueTask<AclResult> GetAclAsync(string path, CancellationToken cancellationToken = default)
    {
        ThrowIfUnusable(null);
        return _reads.GetAclAsync(path);
    }

    public ValueTask<IReadOnlyList<string>> GetChildrenAsync(string path, Watcher? watcher = null, CancellationToken cancellationToken = default)
    {
        ThrowIfUnusable(null);
        return _reads.GetChildrenAsync(path, watcher);
    }

    public ValueTask<ChildrenResult> GetChildrenWithStatAsync(string path, Watcher? watcher = null, CancellationToken cancellationToken = default)
    {
        ThrowIfUnusable(null);
        return _reads.GetChildrenWithStatAsync(path, watcher);
    }

    public ValueTask<int> GetAllChildrenNumberAsync(string path, CancellationToken cancellationToken = default)
    {
        ThrowIfUnusable(null);
        return _reads.GetAllChildrenNumberAsync(path);
    }

    public ValueTask<IReadOnlyList<string>> GetEphemeralsAsync(string prefixPath = "/", CancellationToken cancellationToken = default)
    {
        ThrowIfUnusable(null);
        return _reads.GetEphemeralsAsync(prefixPath);
    }

    public ValueTask<IReadOnlyList<OpResult>> MultiReadAsync(IReadOnlyList<Op> ops, CancellationToken cancellationToken = default)
    {
        ThrowIfUnusable(null);
        return _reads.MultiReadAsync(ops);
    }

    public ValueTask<IReadOnlyList<ClientInfo>> WhoAmIAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfUnusable(null);
        return _reads.WhoAmIAsync();
    }

    private async ValueTask<Reply> WriteAsync(PipelineRequest request, string op, CancellationToken cancellationToken)
    {
        var started = _peer.Time.GetTimestamp();
        var span = Telemetry.StartWrite(op, _server.SessionId, System.Diagnostics.ActivityKind.Internal);
        Reply reply;
        try
        {
            reply = await SubmitAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            Telemetry.EndWrite(span, e is ZkException zk ? zk.Code : ZkErrorCode.SystemError, default);
            throw;
        }

        _seen.Saw(reply.Zxid); // a refused write's reply carries the peer's zxid too, as ZooKeeper's reply header does
        Telemetry.EndWrite(span, reply.Error, reply.Zxid);
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
        var submitted = _peer.Writes.SubmitAsync(new PendingWrite(_server, request, slot, _server.AuthIds, request is CreateSessionRequest ? 0 : _server.NextCxid()), CancellationToken.None);
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
                var state = _peer.Pipeline.State;
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

        if (_leaderless)
        {
            throw new ZkException(ZkErrorCode.ConnectionLoss, path, "The ensemble member serves no clients now (it has no leader); retry once it is connected again.");
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

    /// <summary>
    /// Its member lost or regained its leader: the session hears Disconnected, then SyncConnected, as a ZooKeeper
    /// client whose server went away and came back (the session lives on unless it expires meanwhile). Called on the
    /// member's loop. A ZooKeeper server that leaves broadcast closes its connections, and with them
    /// their watches; the client reconnects and sets its watches again (setWatches) with the newest zxid it had seen,
    /// so whatever changed meanwhile fires once. An in-process session stays attached to its member, which may come
    /// back by SNAP (a tree restored whole: no txn applied one by one, no trigger fired), so it does the same: its
    /// watches leave the member when it stops serving and are set again from the session's own registry once the
    /// SyncConnected that follows is delivered (after every event queued before it, so a one-shot those fired is not
    /// set again).
    /// </summary>
    void ISessionSink.OnServingChanged(bool serving)
    {
        _leaderless = !serving;
        if (!serving)
            _peer.Watches.RemoveSession(_server);
        else
            Volatile.Write(ref _rewatchPending, true);
        _outbox.EnqueueEvent(new WatchedEvent(EventType.None, serving ? KeeperState.SyncConnected : KeeperState.Disconnected, null), null);
    }

    /// <summary>setWatches after the member serves again, on the delivering thread (see <see cref="ISessionSink.OnServingChanged"/>).</summary>
    private void Rewatch()
    {
        // Not cleared again here: a read answered since the member serves again may have just registered a watch that
        // the registry does not list yet, and clearing would lose it. (A read that passed its check as the member
        // stopped serving may have registered one after the clearing at the stop: that one can fire once more.)
        var state = _peer.Pipeline.State;
        Watches.Rewatch.Apply(_peer.Watches, _server, state, () => _peer.Pipeline.FiringState, _watchers.Lists(new Zxid(_seen.Value)),
            (type, path) => _outbox.EnqueueEvent(new WatchedEvent(type, KeeperState.SyncConnected, path) { Zxid = state.Zxid.Value }, null));
    }

    /// <summary>The session was re-attached on another handle: this one stops, as ZooKeeper closes the old connection.</summary>
    void ISessionSink.OnDetached()
    {
        _moved = true;
        _heartbeat.Dispose();
    }

    public event Action<KeeperState>? StateChanged
    {
        add => _watchers.StateChanged += value;
        remove => _watchers.StateChanged -= value;
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

        if (watchedEvent is { Type: EventType.None, State: KeeperState.SyncConnected } && Volatile.Read(ref _rewatchPending))
        {
            Volatile.Write(ref _rewatchPending, false);
            Rewatch();
        }
    }

    private void DeliverEnd(KeeperState state)
    {
        if (_ended)
            return;   // told twice (a handle attached as its peer stopped): the first end stands
        _ended = true;
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
