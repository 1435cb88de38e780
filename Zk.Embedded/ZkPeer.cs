using System.Security.Cryptography;
using Log = Zk.Embedded.Processing.Log;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging;
using Zk.Embedded.Api;
using Zk.Embedded.InProcess;
using Zk.Embedded.Processing;
using Zk.Embedded.Sessions;
using Zk.Embedded.Tree;
using Zk.Embedded.Watches;

namespace Zk.Embedded;

/// <summary>
/// A ZooKeeper peer running inside this process. Start one, open sessions on it with <see cref="ConnectAsync"/>,
/// dispose it to stop. Every session sees ZooKeeper's semantics: one total order of writes (zxid), FIFO per
/// session, watches, ephemerals, ACLs.
/// </summary>
/// <example>
/// <code>
/// await using var peer = await ZkPeer.StartAsync(new ZkPeerOptions());
/// await using var zk = await peer.ConnectAsync();
/// await zk.CreateAsync("/app", "cfg"u8.ToArray(), Acl.OpenUnsafe, CreateMode.Persistent);
/// </code>
/// </example>
public sealed class ZkPeer : IAsyncDisposable
{
    private static readonly IReadOnlyList<Id> SystemIds = [new Id("super", "")];

    private readonly ZkPeerOptions _options;
    private readonly PeerCore _core;
    private readonly ServerSession _system;
    private readonly ITimer _expiryTimer;
    private readonly ITimer _containerTimer;
    private readonly Wire.Server.ClientPort? _clientPort;
    private int _disposed;

    private readonly Storage.PeerStorage? _storage;
    private readonly ITimer? _purgeTimer;

    private ZkPeer(ZkPeerOptions options, ILogger logger, AclCache acls, TreeState initial, Storage.PeerStorage? storage)
    {
        _options = options;
        _storage = storage;
        var sessions = new SessionTracker(options.Time, options.ServerId, EnsembleSecret);
        var watches = new WatchManager();
        var builder = new TxnBuilder(acls, new PeerLimits(options.MaxDataBytes, options.ExtendedTypesEnabled, options.SuperDigest));
        var processor = new RequestProcessor(initial, builder, watches, sessions, storage, options.Time, logger);
        storage?.SnapshotFrom(() => processor.State);
        if (storage is not null && options.PurgeInterval > TimeSpan.Zero)
        {
            _purgeTimer = options.Time.CreateTimer(static s => ((Storage.PeerStorage)s!).Purge(), storage, options.PurgeInterval, options.PurgeInterval);
        }
        foreach (var recovered in initial.Sessions.Values)
        {
            // Recovered sessions live on, and expire unless a client re-attaches in time (ZooKeeper restarts their
            // expiry clocks the same way when it loads a snapshot). Identities come with the attachment, not the session.
            sessions.Add(new ServerSession(recovered.SessionId, sessions.PasswordFor(recovered.SessionId), recovered.TimeoutMillis, []));
        }

        _core = new PeerCore(processor, watches, sessions, options.Time, logger, options);
        _system = new ServerSession(default, [], 0, SystemIds, isSystem: true);
        processor.Start();
        // ZooKeeper's SessionTrackerImpl checks expiry once a tick.
        _expiryTimer = options.Time.CreateTimer(static p => ((ZkPeer)p!).ExpireSessions(), this, options.TickTime, options.TickTime);
        _containerTimer = options.Time.CreateTimer(static p => ((ZkPeer)p!).RemoveEmptyContainers(), this, options.ContainerCheckInterval, options.ContainerCheckInterval);
        if (options.ClientPort is { } port)
        {
            _clientPort = new Wire.Server.ClientPort(_core, new System.Net.IPEndPoint(System.Net.IPAddress.Parse(options.ClientPortAddress), port));
        }

        Telemetry.Register(_core);
    }

    /// <summary>
    /// The ensemble-wide secret passwords derive from. ZooKeeper fixes one (superSecret) for the same reason:
    /// any peer must be able to check a session's password when the session moves to it.
    /// </summary>
    private static byte[] EnsembleSecret { get; } = SHA256.HashData("Zk.Embedded session password v1"u8);

    /// <summary>The options the peer runs with.</summary>
    public ZkPeerOptions Options => _options;

    /// <summary>The zxid of the last applied txn.</summary>
    public long LastZxid => _core.Processor.State.Zxid.Value;

    /// <summary>Number of znodes, the root and /zookeeper included.</summary>
    public int NodeCount => _core.Processor.State.NodeCount;

    /// <summary>Number of live sessions.</summary>
    public int SessionCount => _core.Sessions.Count;

    /// <summary>
    /// Completes with the exception that stopped this peer serving writes, typically its txn log could not be written
    /// or synced (a full disk, an I/O error); never completes while the peer is healthy. From then on every write and
    /// every new session fails with ConnectionLoss, <c>ruok</c> answers nothing and <c>srvr</c> says the peer is not
    /// serving. Ordering cannot go on past a txn that was not logged, so the peer does not recover by itself: a host
    /// disposes it and starts a new one (the <c>zk</c> program exits with code 1, as ZooKeeper does, for a supervisor
    /// to restart it).
    /// </summary>
    public Task<Exception> Faulted => _core.Processor.Faulted;

    internal PeerCore Core => _core;

    internal Wire.Server.ClientPort? ClientPort => _clientPort;

    internal Storage.PeerStorage? DurableStorage => _storage;

    /// <summary>Where the client port listens, when it is open (with the actual port when 0 was asked for).</summary>
    public System.Net.IPEndPoint? ClientEndPoint => _clientPort?.LocalEndPoint;

    /// <summary>Starts a standalone peer.</summary>
    /// <exception cref="ArgumentException">an option is invalid; the message names it.</exception>
    /// <remarks>
    /// With a <see cref="ZkPeerOptions.DataDir"/>, the peer first recovers: the newest valid snapshot plus the txn log
    /// after it. Corruption that could lose an acknowledged write stops start-up with an exception naming the file and zxid.
    /// </remarks>
    public static async ValueTask<ZkPeer> StartAsync(ZkPeerOptions? options = null, ILoggerFactory? loggerFactory = null, CancellationToken cancellationToken = default)
    {
        options ??= new ZkPeerOptions();
        options.Validate();
        cancellationToken.ThrowIfCancellationRequested();
        var logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("Zk.Embedded.Peer");
        var acls = new AclCache();
        if (options.DataDir is not { } dataDir)
        {
            return new ZkPeer(options, logger, acls, TreeState.CreateInitial(), null);
        }

        var (storage, state) = await Task.Run(
            () => Storage.PeerStorage.Open(dataDir, options.DataLogDir ?? dataDir, options.ForceSync, options.SnapCount, options.SnapRetainCount, acls, logger),
            cancellationToken).ConfigureAwait(false);
        return new ZkPeer(options, logger, acls, state, storage);
    }

    /// <summary>
    /// Opens a session (a createSession txn), or re-attaches a live one when <see cref="ZkSessionOptions.SessionId"/>
    /// is set. Re-attaching with an unknown id or a wrong password fails with SessionExpired, as ZooKeeper refuses it.
    /// </summary>
    public async ValueTask<IZooKeeper> ConnectAsync(ZkSessionOptions? options = null, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        options ??= new ZkSessionOptions();
        if (options.SessionId is { } existingId)
        {
            return Reattach(new SessionId(existingId), options);
        }

        var server = _core.NewSession(_core.NegotiateTimeout(options.SessionTimeout), SessionTracker.LocalIds);
        var session = new InProcessSession(_core, server, options.DefaultWatcher);
        try
        {
            await session.OpenAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            _core.Sessions.Remove(server.SessionId);
            throw;
        }

        _core.Attach(server, session);
        session.MarkConnected();
        return session;
    }

    private InProcessSession Reattach(SessionId sessionId, ZkSessionOptions options)
    {
        var server = _core.FindForReattach(sessionId, options.SessionPassword.Span)
            ?? throw new ZkException(ZkErrorCode.SessionExpired, null, $"Session {sessionId} is not live here, or the password does not match.");
        var session = new InProcessSession(_core, server, options.DefaultWatcher);
        // A new handle starts with only its own ip id, as a new connection does; its client adds its auth again.
        server.ResetAuthIds(SessionTracker.LocalIds);
        _core.Attach(server, session);
        session.MarkConnected();
        return session;
    }

    private void ExpireSessions()
    {
        foreach (var session in _core.Sessions.TakeExpired())
        {
            Log.SessionExpired(_core.Logger, session.SessionId, session.TimeoutMillis);
            Telemetry.SessionsExpired.Add(1);
            _core.Writes.Post(new PendingWrite(session, new CloseSessionRequest(Expired: true), null));
        }
    }

    /// <summary>
    /// ZooKeeper's ContainerManager: a container that has had children and has none is removed, and so is a TTL
    /// node with no children whose data has not changed for its TTL.
    /// </summary>
    private void RemoveEmptyContainers()
    {
        var state = _core.Processor.State;
        var now = _options.Time.GetUtcNow().ToUnixTimeMilliseconds();
        foreach (var path in state.Containers)
        {
            if (state.Find(path) is { CreateCount: > 0, Children.Count: 0 })
            {
                Log.ContainerRemoved(_core.Logger, "container", path);
                _core.Writes.Post(new PendingWrite(_system, new DeleteContainerRequest(path), null));
            }
        }

        foreach (var path in state.Ttls)
        {
            if (state.Find(path) is { Children.Count: 0 } node && now - node.Mtime > node.TtlMillis)
            {
                Log.ContainerRemoved(_core.Logger, "TTL", path);
                _core.Writes.Post(new PendingWrite(_system, new DeleteContainerRequest(path), null));
            }
        }
    }

    /// <summary>Stops the peer: timers stop, queued requests finish, then the pipeline ends.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        if (_clientPort is not null)
        {
            await _clientPort.DisposeAsync().ConfigureAwait(false);
        }

        await _expiryTimer.DisposeAsync().ConfigureAwait(false);
        if (_purgeTimer is not null)
        {
            await _purgeTimer.DisposeAsync().ConfigureAwait(false);
        }
        await _containerTimer.DisposeAsync().ConfigureAwait(false);
        await _core.Processor.DisposeAsync().ConfigureAwait(false);
        _storage?.Dispose();
        Telemetry.Unregister(_core);
        foreach (var session in _core.Sessions.Sessions)
        {
            session.Sink?.OnSessionEnded(KeeperState.Disconnected);
        }
    }
}
