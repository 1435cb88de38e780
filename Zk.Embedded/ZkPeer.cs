using System.Security.Cryptography;
using Log = Zk.Embedded.Processing.Log;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging;
using Zk.Embedded.Api;
using Zk.Embedded.Ensemble;
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
    private readonly ITimer? _expiryTimer;
    private readonly ITimer _containerTimer;
    private readonly Wire.Server.ClientPort? _clientPort;
    private readonly Storage.PeerStorage? _storage;
    private readonly ITimer? _purgeTimer;
    private readonly Lock _roleGate = new();
    private LeadershipChangedEventArgs _role;
    private Task _roleEvents = Task.CompletedTask;
    private int _disposed;

    private ZkPeer(ZkPeerOptions options, ILogger logger, TxnBuilder builder, TreeState initial, Storage.PeerStorage? storage)
    {
        _options = options;
        _storage = storage;
        var sessions = new SessionTracker(options.Time, options.ServerId, SessionTracker.EnsembleSecret);
        var watches = new WatchManager();
        var processor = new RequestProcessor(initial, builder, watches, sessions, storage, options.Time, logger);
        storage?.SnapshotFrom(() => processor.State);
        if (storage is not null && options.PurgeInterval > TimeSpan.Zero)
        {
            _purgeTimer = options.Time.CreateTimer(static s => ((Storage.PeerStorage)s!).PurgeInBackground(), storage, options.PurgeInterval, options.PurgeInterval);
        }
        foreach (var recovered in initial.Sessions.Values)
        {
            // Recovered sessions live on, and expire unless a client re-attaches in time (ZooKeeper restarts their
            // expiry clocks the same way when it loads a snapshot). Identities come with the attachment, not the session.
            sessions.Add(new ServerSession(recovered.SessionId, sessions.PasswordFor(recovered.SessionId), recovered.TimeoutMillis, []));
        }

        _core = new PeerCore(processor, watches, sessions, options.Time, logger, options);
        _role = new LeadershipChangedEventArgs(PeerMode.Standalone, null, null);
        processor.Start();
        // ZooKeeper's SessionTrackerImpl checks expiry once a tick.
        _expiryTimer = options.Time.CreateTimer(static p => ((ZkPeer)p!).ExpireSessions(), this, options.TickTime, options.TickTime);
        (_system, _containerTimer, _clientPort) = StartCommon(options, _core);
    }

    private ZkPeer(ZkPeerOptions options, ILogger logger, EnsembleMember member)
    {
        _options = options;
        // Only the leader expires sessions and cleans containers (the member's GlobalSessions and its Post).
        _core = new PeerCore(member, member.Watches, member.Sessions, options.Time, logger, options, member);
        _role = RoleOf(member);
        member.RoleChanged += OnRoleChanged;
        OnRoleChanged(); // a change before the handler was attached is not lost
        (_system, _containerTimer, _clientPort) = StartCommon(options, _core);
    }

    private (ServerSession System, ITimer Containers, Wire.Server.ClientPort? Port) StartCommon(ZkPeerOptions options, PeerCore core)
    {
        var system = new ServerSession(default, [], 0, SystemIds, isSystem: true);
        var containers = options.Time.CreateTimer(static p => ((ZkPeer)p!).RemoveEmptyContainers(), this, options.ContainerCheckInterval, options.ContainerCheckInterval);
        var port = options.ClientPort is { } number
            ? new Wire.Server.ClientPort(core, new System.Net.IPEndPoint(System.Net.IPAddress.Parse(options.ClientPortAddress), number))
            : null;
        Telemetry.Register(core);
        return (system, containers, port);
    }

    /// <summary>The options the peer runs with.</summary>
    public ZkPeerOptions Options => _options;

    /// <summary>The zxid of the last applied txn.</summary>
    public long LastZxid => _core.Pipeline.State.Zxid.Value;

    /// <summary>Number of znodes, the root and /zookeeper included.</summary>
    public int NodeCount => _core.Pipeline.State.NodeCount;

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
    public Task<Exception> Faulted => _core.Pipeline.Faulted;

    /// <summary>This peer's place: standalone, or its role in its ensemble now.</summary>
    public PeerMode Mode => Volatile.Read(ref _role).Mode;

    /// <summary>The established leader's id, or null (standalone, or while the ensemble has no leader).</summary>
    public int? LeaderId => Volatile.Read(ref _role).LeaderId;

    /// <summary>True while this peer serves clients: standalone and healthy, or in an ensemble with an established leader.</summary>
    public bool IsServing => _core.Pipeline.NotServing is null;

    /// <summary>
    /// Raised when this ensemble member's role changes: it becomes leader, stops leading, follows a new leader, or
    /// loses its leader (<see cref="PeerMode.Looking"/>). Raised in order, one at a time, off the consensus loop, so a
    /// slow handler delays later events but never the ensemble. Never raised for a standalone peer.
    /// </summary>
    public event EventHandler<LeadershipChangedEventArgs>? LeadershipChanged;

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
        var builder = new TxnBuilder(acls, new PeerLimits(options.MaxDataBytes, options.ExtendedTypesEnabled, options.SuperDigest));
        if (options.Ensemble is { } ensemble)
        {
            var member = await Task.Run(() => StartMember(options, ensemble, builder, logger), cancellationToken).ConfigureAwait(false);
            return new ZkPeer(options, logger, member);
        }

        if (options.DataDir is not { } dataDir)
        {
            return new ZkPeer(options, logger, builder, TreeState.CreateInitial(), null);
        }

        // The session passwords' HMAC loads OpenSSL on first use (~40 ms); done beside the recovery, it is not on
        // the restart's path. An exception stays in SessionTracker's type initializer for the real use to report.
        _ = Task.Run(static () => SessionTracker.EnsembleSecret.Length);
        var (storage, state) = await Task.Run(
            () => Storage.PeerStorage.Open(dataDir, options.DataLogDir ?? dataDir, options.ForceSync, options.SnapCount, options.SnapRetainCount, acls, logger),
            cancellationToken).ConfigureAwait(false);
        return new ZkPeer(options, logger, builder, state, storage);
    }

    /// <summary>The longest step of the consensus core's clock: elections must not wait for a long tickTime.</summary>
    private static readonly TimeSpan LongestCoreTick = TimeSpan.FromMilliseconds(50);

    /// <summary>Opens the member's consensus state (its data directory, or memory) and starts its driver.</summary>
    /// <remarks>
    /// The core counts time in its own ticks. ZooKeeper's election waits are not in tickTime (FastLeaderElection's
    /// finalizeWait is 200 ms and its notification timeout starts at 200 ms) while initLimit and syncLimit are, so the
    /// core ticks every min(tickTime, 50 ms) and initLimit and syncLimit are scaled to the same wall time: with the
    /// default tickTime of 2 s an election takes under a hundred milliseconds after a visible crash (the core's
    /// finalize wait is one tick), where ZooKeeper's takes a few hundred, not several seconds. The leader pings its
    /// learners every tickTime / 2, as ZooKeeper's does, not every core tick.
    /// </remarks>
    private static EnsembleMember StartMember(ZkPeerOptions options, EnsembleOptions ensemble, TxnBuilder builder, ILogger logger)
    {
        var coreTick = options.TickTime < LongestCoreTick ? options.TickTime : LongestCoreTick;
        var perTick = Math.Max(1, (int)Math.Round(options.TickTime / coreTick));
        var config = new Consensus.ConsensusConfig
        {
            MyId = (int)options.ServerId,
            Voters = [.. ensemble.Voters],
            Observers = [.. ensemble.Observers],
            InitLimit = ensemble.InitLimit * perTick,
            SyncLimit = ensemble.SyncLimit * perTick,
            // ZooKeeper's leader pings every tickTime / 2; every core tick cost each member ~80 messages a second idle.
            PingEveryTicks = Math.Max(1, perTick / 2),
        };
        config.Validate();
        var snapshots = new SnapshotPolicy(options.SnapCount, options.SnapRetainCount, options.PurgeInterval);
        if (ensemble.Store is { } store)
            return new EnsembleMember(config, ensemble.Transport, store, SharedRandom.Instance, options.Time, coreTick, logger, builder, snapshots);
        var storage = new ConsensusStorageOptions { DataDir = options.DataDir, DataLogDir = options.DataLogDir, ForceSync = options.ForceSync, Snapshots = snapshots };
        return new EnsembleMember(config, ensemble.Transport, storage, SharedRandom.Instance, options.Time, coreTick, logger, builder);
    }

    /// <summary>
    /// Opens a session (a createSession txn), or re-attaches a live one when <see cref="ZkSessionOptions.SessionId"/>
    /// is set. Re-attaching with an unknown id or a wrong password fails with SessionExpired, as ZooKeeper refuses it.
    /// </summary>
    public ValueTask<IZooKeeper> ConnectAsync(ZkSessionOptions? options = null, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        return _core.ConnectAsync(options ?? new ZkSessionOptions(), cancellationToken);
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

    private static LeadershipChangedEventArgs RoleOf(EnsembleMember member)
    {
        var status = member.Status;
        var mode = PeerCore.ModeOf(status);
        return mode == PeerMode.Looking ? new LeadershipChangedEventArgs(mode, null, null) : new LeadershipChangedEventArgs(mode, status.Leader, status.EstablishedEpoch);
    }

    /// <summary>On the member's loop: queues the event for handlers, in order, when the role differs from the last one.</summary>
    private void OnRoleChanged()
    {
        lock (_roleGate)
        {
            var role = RoleOf(_core.Member!);
            if (role == _role)
                return;
            var wasServing = _role.Mode != PeerMode.Looking;
            Volatile.Write(ref _role, role);
            if (role.Mode == PeerMode.Looking)
                _clientPort?.CloseConnections();
            if (wasServing != (role.Mode != PeerMode.Looking))
                _core.ServingChanged(!wasServing);
            _roleEvents = _roleEvents.ContinueWith(static (_, state) =>
            {
                var (peer, args) = ((ZkPeer, LeadershipChangedEventArgs))state!;
                try
                {
                    peer.LeadershipChanged?.Invoke(peer, args);
                }
                catch (Exception e)
                {
                    Log.LeadershipHandlerFailed(peer._core.Logger, e, args.Mode.ToString());
                }
            }, (this, role), CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
        }
    }

    /// <summary>
    /// ZooKeeper's ContainerManager: a container that has had children and has none is removed, and so is a TTL
    /// node with no children whose data has not changed for its TTL.
    /// </summary>
    private void RemoveEmptyContainers()
    {
        if (_core.Member is { IsLeading: false })
            return; // the leader's own timer cleans up for the ensemble
        var state = _core.Pipeline.State;
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

    /// <summary>Stops the peer: timers stop, queued requests finish, then the pipeline (or the ensemble member) ends.</summary>
    public ValueTask DisposeAsync() => StopAsync(crash: false);

    /// <summary>
    /// Stops an ensemble member as a killed process would (tests, <c>InMemoryEnsemble</c>): its files close without
    /// a clean close, so only what was synced survives. A standalone peer stops as <see cref="DisposeAsync"/> does.
    /// </summary>
    internal ValueTask CrashAsync() => StopAsync(crash: true);

    private async ValueTask StopAsync(bool crash)
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        if (_clientPort is not null)
        {
            await _clientPort.DisposeAsync().ConfigureAwait(false);
        }

        if (_expiryTimer is not null)
        {
            await _expiryTimer.DisposeAsync().ConfigureAwait(false);
        }
        if (_purgeTimer is not null)
        {
            await _purgeTimer.DisposeAsync().ConfigureAwait(false);
        }
        await _containerTimer.DisposeAsync().ConfigureAwait(false);
        if (crash && _core.Member is { } member)
            await member.CrashAsync().ConfigureAwait(false);
        else
            await _core.Pipeline.DisposeAsync().ConfigureAwait(false);
        _storage?.Dispose();
        Telemetry.Unregister(_core);
        _core.Stopped();
    }
}
