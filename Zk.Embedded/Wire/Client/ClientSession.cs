using System.Net;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Zk.Embedded.Api;
using Zk.Embedded.Watches;
using Zk.Embedded.Wire.Jute;

namespace Zk.Embedded.Wire.Client;

/// <summary>
/// The session behind a <see cref="ZkClient"/> (the state machine of Java's <c>ClientCnxn</c>): connects, keeps one
/// live <see cref="ClientConnection"/>, and when it drops fails the calls in flight with ConnectionLoss, tells the
/// watchers Disconnected, and re-attaches the session on the next server, re-sending auth and watches. A refused
/// re-attach is expiry.
/// </summary>
internal sealed class ClientSession : IConnectionOwner
{
    private static readonly byte[] NoPassword = new byte[16];

    private readonly ConnectString _connect;
    private readonly ZkClientOptions _options;
    private readonly ILogger _logger;
    private readonly ClientDispatcher _dispatcher;
    private readonly Lock _lock = new();
    private readonly List<(string Scheme, byte[] Auth)> _authInfo = [];
    private int _hostIndex = -1;
    private int _xid;
    private long _lastZxid;
    private long _sessionId;
    private byte[] _password;
    private int _timeoutMs;
    private SessionState _state = SessionState.Connecting;
    private bool _closing;
    private ClientConnection? _current;
    private TaskCompletionSource<ClientConnection?> _nextConnection = NewWaiter();

    public ClientSession(ConnectString connect, ZkClientOptions options)
    {
        _connect = connect;
        _options = options;
        _logger = options.LoggerFactory?.CreateLogger<ZkClient>() ?? (ILogger)NullLogger.Instance;
        _dispatcher = new ClientDispatcher(e => Log.WatcherFailed(_logger, e, _sessionId, EventType.None, null));
        Watches = new ClientWatches(options.DefaultWatcher, (e, watchedEvent) => Log.WatcherFailed(_logger, e, _sessionId, watchedEvent.Type, watchedEvent.Path));
        _sessionId = options.SessionId ?? 0;
        _password = options.SessionId is null ? NoPassword : options.SessionPassword.ToArray();
        _timeoutMs = (int)options.SessionTimeout.TotalMilliseconds;
    }

    public Chroot Chroot => _connect.Chroot;

    public ClientWatches Watches { get; }

    public ClientWatchRegistry Watchers => Watches.Registry;

    public long SessionId => Volatile.Read(ref _sessionId);

    public long LastZxidSeen => Volatile.Read(ref _lastZxid);

    public ReadOnlyMemory<byte> Password => _password;

    public TimeSpan Timeout => TimeSpan.FromMilliseconds(Volatile.Read(ref _timeoutMs));

    public SessionState State
    {
        get
        {
            lock (_lock)
            {
                return _state;
            }
        }
    }

    public int NextXid() => Interlocked.Increment(ref _xid);

    /// <summary>Connects for the first time, trying the servers in turn until <see cref="ZkClientOptions.ConnectTimeout"/>.</summary>
    public async Task ConnectAsync(CancellationToken cancellationToken)
    {
        var deadline = _options.Time.GetTimestamp();
        var connection = await TryConnectAsync(() => _options.Time.GetElapsedTime(deadline) < _options.ConnectTimeout, cancellationToken).ConfigureAwait(false);
        if (connection is null && State == SessionState.Expired)
        {
            throw new ZkException(ZkErrorCode.SessionExpired, null, $"Session 0x{_sessionId:x} has expired or its password is wrong; the server refused it.");
        }

        if (connection is null)
        {
            Abandon();
            var hosts = string.Join(",", _connect.Hosts.Select(h => $"{h.Host}:{h.Port}"));
            throw new ZkException(ZkErrorCode.ConnectionLoss, null, $"Could not connect to any of {hosts} within {_options.ConnectTimeout} (ZkClientOptions.ConnectTimeout).");
        }

        _ = SuperviseAsync(connection);
    }

    /// <summary>Sends one request and waits for its reply (or the loss of the connection it went out on).</summary>
    public async ValueTask<T> CallAsync<TRequest, T>(PendingCall<T> call, TRequest request, CancellationToken cancellationToken)
        where TRequest : IJuteRecord<TRequest>
    {
        cancellationToken.ThrowIfCancellationRequested();
        using var frame = RequestFrame.Build(call.Op, request);
        var connection = await GetConnectionAsync(call.Path, cancellationToken).ConfigureAwait(false);
        if (!await connection.SendAsync(frame, call, this).ConfigureAwait(false))
        {
            throw new ZkException(LossCode(), call.Path);
        }

        return await call.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    public void RememberAuth(string scheme, byte[] auth)
    {
        lock (_lock)
        {
            _authInfo.Add((scheme, auth));
        }
    }

    public void ThrowIfUnusable(string? path)
    {
        var code = State switch
        {
            SessionState.Closed or SessionState.Expired => ZkErrorCode.SessionExpired,
            SessionState.AuthFailed => ZkErrorCode.AuthFailed,
            _ => ZkErrorCode.Ok,
        };
        if (code != ZkErrorCode.Ok)
        {
            throw new ZkException(code, path);
        }
    }

    public void Post(Dispatchable item) => _dispatcher.Post(item);

    /// <summary>Sends closeSession and waits for its reply, then stops; the watchers hear Closed.</summary>
    public async ValueTask CloseAsync(CancellationToken cancellationToken)
    {
        ClientConnection? connection;
        lock (_lock)
        {
            if (_closing)
            {
                return;
            }

            _closing = true;
            connection = _current;
        }

        if (connection is not null && State == SessionState.Connected)
        {
            var call = new PendingCall<bool>(OpCode.CloseSession, null, null);
            using var frame = RequestFrame.Build(OpCode.CloseSession, default(NoBody));
            try
            {
                if (await connection.SendAsync(frame, call, this).ConfigureAwait(false))
                {
                    await call.Task.WaitAsync(Timeout, _options.Time, cancellationToken).ConfigureAwait(false);
                }
            }
            catch (Exception e) when (e is ZkException or TimeoutException)
            {
                // The session ends on the server anyway, by expiry.
            }
        }

        var ended = false;
        lock (_lock)
        {
            if (_state is not (SessionState.Expired or SessionState.AuthFailed))
            {
                _state = SessionState.Closed;
                ended = true;
            }

            _current = null;
        }

        _nextConnection.TrySetResult(null);
        if (connection is not null)
        {
            FailAll(connection.Close("closed by the client"), ZkErrorCode.SessionExpired);
        }

        if (ended)
        {
            EndWith(KeeperState.Closed);
        }
    }

    // ---- IConnectionOwner: called by the connection's reader loop ----

    void IConnectionOwner.OnNotification(WatchedEvent watchedEvent) => _dispatcher.Post(new EventDispatch(this, watchedEvent));

    void IConnectionOwner.OnZxid(long zxid) => Volatile.Write(ref _lastZxid, zxid);

    void IConnectionOwner.OnReply(PendingCall call)
    {
        if (call.Op == OpCode.Auth && call.Error == ZkErrorCode.AuthFailed)
        {
            // ClientCnxn: AUTH_FAILED is final; the server closes the connection and the client does not reconnect.
            lock (_lock)
            {
                _state = SessionState.AuthFailed;
                _current = null;
            }

            Log.AuthFailed(_logger, _sessionId);
            _dispatcher.Post(call);
            _nextConnection.TrySetResult(null);
            EndWith(KeeperState.AuthFailed);
            return;
        }

        _dispatcher.Post(call);
    }

    // ---- connecting ----

    private async Task SuperviseAsync(ClientConnection connection)
    {
        while (true)
        {
            var reason = await connection.Completion.ConfigureAwait(false);
            bool closing;
            lock (_lock)
            {
                closing = _closing || _state is SessionState.AuthFailed or SessionState.Expired;
                if (_current == connection)
                {
                    _current = null;
                    if (!closing)
                    {
                        _state = SessionState.Connecting;
                    }
                }
            }

            FailAll(connection.Close(reason), LossCode());
            if (closing)
            {
                return;
            }

            Log.ConnectionLost(_logger, _sessionId, connection.Server, reason);
            _dispatcher.Post(new EventDispatch(this, new WatchedEvent(EventType.None, KeeperState.Disconnected, null)));
            var next = await TryConnectAsync(() => true, CancellationToken.None).ConfigureAwait(false);
            if (next is null)
            {
                return;
            }

            connection = next;
        }
    }

    /// <summary>
    /// Tries servers in turn while <paramref name="keepTrying"/> holds. Returns the live connection, or null when the
    /// session expired, the client closed, or time ran out (then the state says which).
    /// </summary>
    private async Task<ClientConnection?> TryConnectAsync(Func<bool> keepTrying, CancellationToken cancellationToken)
    {
        var attempts = 0;
        while (keepTrying() && !IsClosing())
        {
            if (attempts > 0 && attempts % _connect.Hosts.Count == 0)
            {
                // A whole round failed: back off a little, as StaticHostProvider does, so a down ensemble is not hammered.
                await Task.Delay(TimeSpan.FromMilliseconds(Random.Shared.Next(50, 250)), _options.Time, cancellationToken).ConfigureAwait(false);
            }

            attempts++;
            var host = _connect.Hosts[_hostIndex = (_hostIndex + 1) % _connect.Hosts.Count];
            var timeout = TimeSpan.FromMilliseconds(Math.Max(1000, _timeoutMs / _connect.Hosts.Count));
            if (timeout > _options.ConnectTimeout)
            {
                timeout = _options.ConnectTimeout;
            }

            var request = new ConnectRequest(0, Volatile.Read(ref _lastZxid), (int)_options.SessionTimeout.TotalMilliseconds, _sessionId, _password, false);
            try
            {
                var (connection, response) = await ClientConnection.OpenAsync(host, request, timeout, _options.MaxFrameBytes, _options.Time, cancellationToken).ConfigureAwait(false);
                if (response.TimeoutMs <= 0)
                {
                    connection.Close("session expired");
                    Expire();
                    return null;
                }

                if (await EstablishAsync(connection, response).ConfigureAwait(false))
                {
                    return connection;
                }
            }
            catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or OperationCanceledException or ObjectDisposedException)
            {
                Log.ConnectFailed(_logger, host.Host, host.Port, e.Message);
                FailWaiters();
            }
        }

        FailWaiters();
        return null;
    }

    private async Task<bool> EstablishAsync(ClientConnection connection, ConnectResponse response)
    {
        Volatile.Write(ref _sessionId, response.SessionId);
        _password = response.Password ?? NoPassword;
        Volatile.Write(ref _timeoutMs, response.TimeoutMs);
        connection.Start(this, TimeSpan.FromMilliseconds(response.TimeoutMs * 2 / 3));
        Log.SessionEstablished(_logger, response.SessionId, connection.Server, response.TimeoutMs);
        lock (_lock)
        {
            if (_closing)
            {
                connection.Close("closed by the client");
                return false;
            }

            // As in ClientCnxn.onConnected: the state is Connected before watchers hear SyncConnected.
            _state = SessionState.Connected;
        }

        _dispatcher.Post(new EventDispatch(this, new WatchedEvent(EventType.None, KeeperState.SyncConnected, null)));
        await ResendSessionStateAsync(connection).ConfigureAwait(false);
        TaskCompletionSource<ClientConnection?> waiter;
        lock (_lock)
        {
            if (_closing)
            {
                connection.Close("closed by the client");
                return false;
            }

            // New requests go out only now, behind the auth packets and setWatches.
            _current = connection;
            waiter = _nextConnection;
            _nextConnection = NewWaiter();
        }

        waiter.TrySetResult(connection);
        return true;
    }

    /// <summary>Auth packets, then the watches to re-register (ClientCnxn.primeConnection), ahead of any new request.</summary>
    private async Task ResendSessionStateAsync(ClientConnection connection)
    {
        (string Scheme, byte[] Auth)[] auths;
        lock (_lock)
        {
            auths = [.. _authInfo];
        }

        foreach (var (scheme, auth) in auths)
        {
            using var frame = RequestFrame.Build(OpCode.Auth, new AuthPacket(0, scheme, auth));
            await connection.SendAsync(frame, new PendingCall<bool>(OpCode.Auth, null, null) { Xid = Xids.Auth }, this).ConfigureAwait(false);
        }

        if (Watches.Paths.Snapshot(Watchers, Chroot, Volatile.Read(ref _lastZxid)) is not { } watches)
        {
            return;
        }

        foreach (var batch in SetWatchesBatches.Split(watches))
        {
            // Like ClientCnxn, the old setWatches for a batch without persistent watches, for older servers.
            var old = SetWatchesBatches.FitsSetWatches(batch);
            using var frame = old
                ? RequestFrame.Build(OpCode.SetWatches, new SetWatches(batch.RelativeZxid, batch.DataWatches, batch.ExistWatches, batch.ChildWatches))
                : RequestFrame.Build(OpCode.SetWatches2, batch);
            var op = old ? OpCode.SetWatches : OpCode.SetWatches2;
            await connection.SendAsync(frame, new PendingCall<bool>(op, null, null) { Xid = Xids.SetWatches }, this).ConfigureAwait(false);
        }
    }

    private async ValueTask<ClientConnection> GetConnectionAsync(string? path, CancellationToken cancellationToken)
    {
        Task<ClientConnection?> waiter;
        lock (_lock)
        {
            if (_current is { } current)
            {
                return current;
            }

            waiter = _nextConnection.Task;
        }

        ThrowIfUnusable(path);
        var connection = await waiter.WaitAsync(cancellationToken).ConfigureAwait(false);
        if (connection is null)
        {
            ThrowIfUnusable(path);
            throw new ZkException(ZkErrorCode.ConnectionLoss, path);
        }

        return connection;
    }

    /// <summary>The first connect failed: nothing to close, nobody to tell.</summary>
    private void Abandon()
    {
        lock (_lock)
        {
            _closing = true;
            _state = SessionState.Closed;
        }

        _dispatcher.Complete();
    }

    private void Expire()
    {
        lock (_lock)
        {
            _state = SessionState.Expired;
            _current = null;
        }

        Log.SessionExpired(_logger, _sessionId);
        _nextConnection.TrySetResult(null);
        EndWith(KeeperState.Expired);
    }

    /// <summary>The last event: watchers hear it (the registry forgets them), then the dispatch loop ends.</summary>
    private void EndWith(KeeperState state)
    {
        Watches.Paths.Clear();
        _dispatcher.Post(new EventDispatch(this, new WatchedEvent(EventType.None, state, null)));
        _dispatcher.Complete();
    }

    private void FailWaiters()
    {
        TaskCompletionSource<ClientConnection?> waiter;
        lock (_lock)
        {
            waiter = _nextConnection;
            _nextConnection = NewWaiter();
        }

        waiter.TrySetResult(null);
    }

    private void FailAll(List<PendingCall> calls, ZkErrorCode code)
    {
        foreach (var call in calls)
        {
            call.Fail(code);
            _dispatcher.Post(call);
        }
    }

    /// <summary>The code calls lost with a connection fail with (ClientCnxn.conLossPacket).</summary>
    private ZkErrorCode LossCode() => State switch
    {
        SessionState.AuthFailed => ZkErrorCode.AuthFailed,
        SessionState.Closed or SessionState.Expired => ZkErrorCode.SessionExpired,
        _ => _closing ? ZkErrorCode.SessionExpired : ZkErrorCode.ConnectionLoss,
    };

    private bool IsClosing()
    {
        lock (_lock)
        {
            return _closing || _state is SessionState.Expired or SessionState.AuthFailed;
        }
    }

    private static TaskCompletionSource<ClientConnection?> NewWaiter() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
