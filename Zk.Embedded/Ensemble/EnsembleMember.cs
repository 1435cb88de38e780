using Microsoft.Extensions.Logging;
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
internal sealed class EnsembleMember : IAsyncDisposable
{
    private readonly ConsensusDriver _driver;
    private readonly TreeReplica _tree;
    private readonly IConsensusStore? _ownedStore;

    /// <summary>A member on the store <paramref name="storage"/> names, which it opens and closes with itself.</summary>
    /// <exception cref="InvalidDataException">The data directory's state cannot be read (see <see cref="DurableConsensusStore.Open"/>).</exception>
    /// <exception cref="PersistInvariantException">The epoch files break ZooKeeper's start rules.</exception>
    public EnsembleMember(ConsensusConfig config, IPeerTransport transport, ConsensusStorageOptions storage, IConsensusRandom random,
        TimeProvider time, TimeSpan tickTime, ILogger logger)
        : this(config, transport, storage.Open(), random, time, tickTime, logger, owned: true)
    {
    }

    /// <summary>A member on <paramref name="disk"/>, which outlives it (an in-memory log restarted in the same process).</summary>
    public EnsembleMember(ConsensusConfig config, IPeerTransport transport, IConsensusStore disk, IConsensusRandom random,
        TimeProvider time, TimeSpan tickTime, ILogger logger)
        : this(config, transport, disk, random, time, tickTime, logger, owned: false)
    {
    }

    private EnsembleMember(ConsensusConfig config, IPeerTransport transport, IConsensusStore disk, IConsensusRandom random,
        TimeProvider time, TimeSpan tickTime, ILogger logger, bool owned)
    {
        _ownedStore = owned ? disk : null;
        Sessions = new SessionTracker(time, config.MyId, new byte[32]);
        Watches = new WatchManager();
        var initial = disk.Snapshot is { } snapshot ? TreeReplica.ReadSnapshot(snapshot) : TreeState.CreateInitial();
        _tree = new TreeReplica(initial, new TxnBuilder(new AclCache(), new PeerLimits(1 << 20, false, null)), Watches, Sessions, time, logger);
        _driver = new ConsensusDriver(config, transport, disk, _tree, random, time, tickTime, logger, _tree.Attach);
    }

    public int Id => _driver.Id;

    public ConsensusDriver Driver => _driver;

    public SessionTracker Sessions { get; }

    public WatchManager Watches { get; }

    /// <summary>The newest tree this member has published: what reads on it see.</summary>
    public TreeState State => _tree.State;

    /// <summary>True while this member leads an established epoch and its write pipeline runs.</summary>
    public bool IsLeading => _tree.Writes is not null;

    /// <summary>
    /// Queues a write. Only the leader takes writes in this increment: on a follower it fails with ConnectionLoss naming
    /// the leader (forwarding to the leader is the next step).
    /// </summary>
    public ValueTask SubmitAsync(PendingWrite write, CancellationToken cancellationToken = default)
    {
        if (_tree.Writes is { } writes)
            return writes.SubmitAsync(write, cancellationToken);
        var status = _driver.Current;
        var leader = status.Leader is { } id && id != Id ? $"server {id} leads; write there" : "no leader is established";
        return ValueTask.FromException(new Api.ZkException(Api.ZkErrorCode.ConnectionLoss, write.Request.ErrorPath,
            $"Server {Id} is {status.State} and takes no writes: {leader}."));
    }

    public async ValueTask DisposeAsync()
    {
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
        await _driver.DisposeAsync().ConfigureAwait(false);
        await _tree.StopAsync().ConfigureAwait(false);
    }
}
