using Microsoft.Extensions.Logging;
using Zk.Embedded.Api;
using Zk.Embedded.Consensus;
using Zk.Embedded.Processing;
using Zk.Embedded.Sessions;
using Zk.Embedded.Storage;
using Zk.Embedded.Transport;
using Zk.Embedded.Tree;
using Zk.Embedded.Txns;
using Zk.Embedded.Watches;

namespace Zk.Embedded.Ensemble;

/// <summary>
/// One member of an ensemble in this process: its consensus driver over a transport, its tree (a
/// <see cref="TreeReplica"/>), its sessions and watches. Its consensus state is a data directory it opens
/// (<see cref="ConsensusStorageOptions"/>) or a store passed in that outlives it, as a disk outlives a process: a
/// member started again from the same state rejoins where it left off.
/// </summary>
internal sealed class EnsembleMember : IPeerPipeline, IEnsembleSessions, IAsyncDisposable
{
    private readonly ConsensusDriver _driver;
    private readonly TreeReplica _tree;
    private readonly IConsensusStore? _ownedStore;
    private readonly ILogger _logger;
    private readonly ITimer _ticks;
    private readonly TimeProvider _time;
    private readonly TimeSpan _tickTime;
    private GlobalSessions _global = null!;
    private WriteForwarder _forwarder = null!;
    private readonly TaskCompletionSource<Exception> _faulted = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private bool _serving;

    /// <summary>A member on the store <paramref name="storage"/> names, which it opens and closes with itself.</summary>
    /// <exception cref="InvalidDataException">The data directory's state cannot be read (see <see cref="DurableConsensusStore.Open"/>).</exception>
    /// <exception cref="PersistInvariantException">The epoch files break ZooKeeper's start rules.</exception>
    public EnsembleMember(ConsensusConfig config, IPeerTransport transport, ConsensusStorageOptions storage, IConsensusRandom random,
        TimeProvider time, TimeSpan tickTime, ILogger logger, TxnBuilder? builder = null)
        : this(config, transport, storage.Open(logger), random, time, tickTime, logger, builder, owned: true, storage.Snapshots)
    {
    }

    /// <summary>A member on <paramref name="disk"/>, which outlives it (an in-memory log restarted in the same process).</summary>
    public EnsembleMember(ConsensusConfig config, IPeerTransport transport, IConsensusStore disk, IConsensusRandom random,
        TimeProvider time, TimeSpan tickTime, ILogger logger, TxnBuilder? builder = null, SnapshotPolicy? snapshots = null)
        : this(config, transport, disk, random, time, tickTime, logger, builder, owned: false, snapshots)
    {
    }

    private EnsembleMember(ConsensusConfig config, IPeerTransport transport, IConsensusStore disk, IConsensusRandom random,
        TimeProvider time, TimeSpan tickTime, ILogger logger, TxnBuilder? builder, bool owned, SnapshotPolicy? snapshots)
    {
        // Set before the driver exists: its loop may report the first role change before its constructor returns.
        Id = config.MyId;
        (_time, _tickTime) = (time, tickTime);
        _ownedStore = owned ? disk : null;
        _logger = logger;
        Sessions = new SessionTracker(time, config.MyId, SessionTracker.EnsembleSecret);
        Watches = new WatchManager();
        var initial = disk.Snapshot is { } snapshot ? TreeReplica.ReadSnapshot(snapshot) : TreeState.CreateInitial();
        var spool = new SnapshotSpool(disk.SpoolDirectory); // the driver owns it
        _tree = new TreeReplica(initial, builder ?? new TxnBuilder(new AclCache(), new PeerLimits(1 << 20, false, null)), Watches, Sessions, time, logger, spool);
        _driver = new ConsensusDriver(config, transport, disk, _tree, random, time, tickTime, logger, spool: spool, snapshots: snapshots, attach: driver =>
        {
            // Before the loop runs: the first role change and the first message must find their handlers.
            _tree.Attach(driver);
            _global = new GlobalSessions(driver, _tree, Sessions, time, logger);
            // Twice the longest a live leader lets a learner lag (syncLimit) or sync (initLimit): an answer later than
            // that was lost, not slow.
            _forwarder = new WriteForwarder(driver, _tree, _global, 2 * Math.Max(config.SyncLimit, config.InitLimit), logger);
            driver.RoleChanged += OnRoleChanged;
        });
        _ticks = time.CreateTimer(static m => ((EnsembleMember)m!).Tick(), this, tickTime, tickTime);
        _driver.Completion.ContinueWith(static (loop, m) => ((EnsembleMember)m!)._faulted.TrySetResult(loop.Exception!.GetBaseException()),
            this, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    public int Id { get; }

    public ConsensusDriver Driver => _driver;

    public SessionTracker Sessions { get; }

    public WatchManager Watches { get; }

    /// <summary>The newest tree this member has published: what reads on it see.</summary>
    public TreeState State => _tree.State;

    /// <inheritdoc/>
    public TreeState FiringState => _tree.FiringState;

    /// <summary>Completes with the error that stopped this member's driver (its consensus storage failed).</summary>
    public Task<Exception> Faulted => _faulted.Task;

    /// <inheritdoc/>
    public string? NotServing
    {
        get
        {
            if (_faulted.Task.IsCompleted)
                return $"server {Id} stopped: {_faulted.Task.Result.Message}";
            var status = _driver.Current;
            return status.IsServing ? null : $"server {Id} is {status.State} and has no established leader";
        }
    }

    /// <summary>The member's role and leader as of the driver's last step.</summary>
    public ConsensusDriver.Status Status => _driver.Current;

    /// <summary>Raised on the driver's loop after each role or phase change (read <see cref="Status"/> and <see cref="IsLeading"/>).</summary>
    public event Action? RoleChanged;

    /// <summary>True while this member leads an established epoch and its write pipeline runs.</summary>
    public bool IsLeading => _tree.Writes is not null;

    /// <summary>True while this member serves clients: it leads or follows an established leader (its last step's view).</summary>
    public bool IsServing => _driver.Current.IsServing;

    /// <summary>
    /// Raised on the driver's loop when this member starts (true) or stops (false) serving clients. On stopping, every
    /// outstanding write has failed with ConnectionLoss and new ones fail so; client-facing code closes its
    /// connections, as a ZooKeeper peer that loses its leader or quorum does, and clients move on.
    /// </summary>
    public event Action<bool>? ServingChanged;

    /// <summary>
    /// Queues a write. The leader takes it into its pipeline; a serving learner forwards it to the leader and answers
    /// its target when the outcome is published here; a member that does not serve fails it with ConnectionLoss.
    /// </summary>
    public ValueTask SubmitAsync(PendingWrite write, CancellationToken cancellationToken = default) =>
        _forwarder.SubmitAsync(write, cancellationToken);

    /// <summary>
    /// Waits until a read on this member is linearizable (docs/consensus.md, "Linearizable reads"): the leader
    /// confirmed by a quorum round started after this call, and this member's published tree at or past the
    /// leader's commit point as of that round. Throws ConnectionLoss when the member does not serve or cannot confirm.
    /// </summary>
    public async ValueTask ReadIndexAsync(CancellationToken cancellationToken)
    {
        if (NotServing is { } why)
            throw new ZkException(ZkErrorCode.ConnectionLoss, null, $"No linearizable read here: {why}.");
        var index = await _driver.ReadIndexAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
        // A follower publishes on the driver's loop before the index is answered; a leader's pipeline publishes the
        // same commits on its own loop a moment later (it was told before the round even started), so this rarely spins.
        for (var spins = 0; _tree.State.Zxid < index; spins++)
        {
            if (NotServing is { } lost)
                throw new ZkException(ZkErrorCode.ConnectionLoss, null, $"No linearizable read here: {lost}.");
            cancellationToken.ThrowIfCancellationRequested();
            if (spins < 16)
                await Task.Yield();
            else
                await Task.Delay(1, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Reattaches a session a client created on any member (it keeps its ephemerals; the client re-registers its
    /// watches). Throws ConnectionLoss when this member does not serve or has not seen <paramref name="lastZxidSeen"/>
    /// yet (the client tries another), SessionExpired when the session is gone or the password is wrong; null when this
    /// learner does not know the session yet (<see cref="GlobalSessions.Reattach"/>).
    /// </summary>
    public ServerSession? Reattach(SessionId sessionId, ReadOnlySpan<byte> password, Zxid lastZxidSeen) =>
        _global.Reattach(sessionId, password, lastZxidSeen);

    /// <inheritdoc/>
    public async ValueTask ClaimAnsweredAsync(SessionId sessionId, CancellationToken cancellationToken)
    {
        var answered = _global.ClaimAnswered(sessionId);
        if (answered.IsCompleted)
            return;
        await answered.WaitAsync(_tickTime, _time, cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        if (!answered.IsCompleted && !cancellationToken.IsCancellationRequested)
        {
            Telemetry.ReattachesUnanswered.Add(1);
            Log.ReattachUnanswered(_logger, Id, sessionId, _tickTime);
        }
    }

    /// <summary>Sessions whose attached member this member knows while it leads (tests).</summary>
    internal int SessionOwnerCount => _global.OwnerCount;

    /// <summary>Where this member's writes go (tests).</summary>
    internal WriteForwarder Forwarder => _forwarder;

    /// <summary>
    /// The peer's own requests (container clean-up) run on the leader only, as ZooKeeper's ContainerManager does;
    /// elsewhere they are dropped: the leader issues its own.
    /// </summary>
    public void Post(PendingWrite write) => _tree.Writes?.Post(write);

    private void Tick() => _driver.Run(OnTick);

    private void OnTick()
    {
        _global.OnTick();
        _forwarder.OnTick();
    }

    private void OnRoleChanged(RoleChange change)
    {
        var serving = change.Phase == ZabPhase.Broadcast;
        RoleChanged?.Invoke();
        if (serving == _serving)
            return;
        _serving = serving;
        Log.ServingChanged(_logger, Id, serving ? "serves" : "stopped serving");
        ServingChanged?.Invoke(serving);
    }

    public async ValueTask DisposeAsync()
    {
        await _ticks.DisposeAsync().ConfigureAwait(false);
        await _driver.DisposeAsync().ConfigureAwait(false);
        await _tree.StopAsync().ConfigureAwait(false);
        _ownedStore?.Dispose();
    }

    /// <summary>
    /// Stops as a killed process would (tests): the store's files are closed first without a clean close, so nothing
    /// more becomes durable, then the driver and the tree stop.
    /// </summary>
    internal async ValueTask CrashAsync()
    {
        (_ownedStore as DurableConsensusStore)?.CloseLikeACrash();
        await _ticks.DisposeAsync().ConfigureAwait(false);
        await _driver.DisposeAsync().ConfigureAwait(false);
        await _tree.StopAsync().ConfigureAwait(false);
    }
}

/// <summary>The consensus core's randomness for a real peer (election resend jitter): nothing to reproduce.</summary>
internal sealed class SharedRandom : IConsensusRandom
{
    public static SharedRandom Instance { get; } = new();

    public int Next(int maxExclusive) => Random.Shared.Next(maxExclusive);
}
