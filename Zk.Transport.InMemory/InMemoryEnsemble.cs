using Microsoft.Extensions.Logging;
using Zk.Embedded;
using Zk.Embedded.Api;
using Zk.Embedded.Ensemble;

namespace Zk.Transport.InMemory;

/// <summary>
/// A whole ZooKeeper ensemble inside this process, for an application's tests: peers 1..N on one
/// <see cref="InMemoryNetwork"/>, each a real <see cref="ZkPeer"/> with its own consensus state, and faults on demand
/// (crash and restart, partitions, pauses, and the network's seeded random faults). Sessions open on any member
/// with <see cref="ConnectAsync"/> and see ZooKeeper's semantics: writes on any member reach every member.
/// </summary>
/// <example>
/// <code>
/// await using var ensemble = await InMemoryEnsemble.StartAsync(3);
/// var leader = await ensemble.WaitForLeaderAsync();
/// await using var zk = await ensemble.ConnectAsync(ensemble.Followers[0]);
/// await zk.CreateAsync("/app", [], Acl.OpenUnsafe, CreateMode.Persistent);
/// await ensemble.CrashAsync(leader);               // the others elect a new leader
/// await ensemble.WaitForLeaderAsync();
/// </code>
/// </example>
public sealed class InMemoryEnsemble : IAsyncDisposable
{
    private readonly InMemoryEnsembleOptions _options;
    private readonly int[] _voters;
    private readonly int[] _observers;
    private readonly Dictionary<int, IConsensusStore> _disks = [];
    private readonly Dictionary<int, ZkPeer> _running = [];
    private readonly Lock _gate = new();
    private readonly string? _dataRoot;

    private InMemoryEnsemble(int voters, InMemoryEnsembleOptions options)
    {
        _options = options;
        _voters = [.. Enumerable.Range(1, voters)];
        _observers = [.. Enumerable.Range(voters + 1, options.Observers)];
        Network = new InMemoryNetwork(options.Network);
        if (options.Durable)
            _dataRoot = Directory.CreateTempSubdirectory("zk-ensemble-").FullName;
    }

    /// <summary>The network the members talk over: partitions, blocks, pauses and random faults on demand.</summary>
    public InMemoryNetwork Network { get; }

    /// <summary>The seed of the network's random faults (print it in a test so a failing run can be replayed).</summary>
    public int Seed => _options.Network.Seed;

    /// <summary>Every member's id: voters 1..N, then observers.</summary>
    public IReadOnlyList<int> Ids => [.. _voters, .. _observers];

    /// <summary>The running member <paramref name="id"/>.</summary>
    /// <exception cref="InvalidOperationException">It has crashed and not been restarted.</exception>
    public ZkPeer this[int id]
    {
        get
        {
            lock (_gate)
                return _running.TryGetValue(id, out var peer) ? peer : throw new InvalidOperationException($"server {id} is not running (crashed, or not a member)");
        }
    }

    /// <summary>The running members.</summary>
    public IReadOnlyList<ZkPeer> Running
    {
        get
        {
            lock (_gate)
                return [.. _running.OrderBy(kv => kv.Key).Select(kv => kv.Value)];
        }
    }

    /// <summary>The id of the running member that leads an established epoch now, or null.</summary>
    public int? Leader => Running.FirstOrDefault(p => p.Mode == PeerMode.Leader) is { } leader ? (int)leader.Options.ServerId : null;

    /// <summary>The ids of the running members that follow an established leader now.</summary>
    public IReadOnlyList<int> Followers => [.. Running.Where(p => p.Mode == PeerMode.Follower).Select(p => (int)p.Options.ServerId)];

    /// <summary>Starts an ensemble of <paramref name="voters"/> voting members (and the options' observers) and waits for its leader.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="voters"/> is not 1..254.</exception>
    public static async Task<InMemoryEnsemble> StartAsync(int voters, InMemoryEnsembleOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(voters, 1);
        options ??= new InMemoryEnsembleOptions();
        ArgumentOutOfRangeException.ThrowIfGreaterThan(voters + options.Observers, 254, nameof(voters));
        var ensemble = new InMemoryEnsemble(voters, options);
        try
        {
            foreach (var id in ensemble.Ids)
                await ensemble.StartMemberAsync(id, cancellationToken).ConfigureAwait(false);
            await ensemble.WaitForLeaderAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
            return ensemble;
        }
        catch
        {
            await ensemble.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Waits until a running member leads an established epoch and a quorum of voters (the leader among them)
    /// serves with it; returns the leader's id.
    /// </summary>
    /// <exception cref="TimeoutException">None within <paramref name="timeout"/> (default <see cref="InMemoryEnsembleOptions.WaitTimeout"/>).</exception>
    public async Task<int> WaitForLeaderAsync(TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        var deadline = DateTime.UtcNow + (timeout ?? _options.WaitTimeout);
        while (true)
        {
            var running = Running;
            if (running.FirstOrDefault(p => p.Mode == PeerMode.Leader) is { } leader)
            {
                var id = (int)leader.Options.ServerId;
                var serving = running.Count(p => p.LeaderId == id && p.IsServing && _voters.Contains((int)p.Options.ServerId));
                if (serving > _voters.Length / 2)
                    return id;
            }

            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"No leader with a quorum within {timeout ?? _options.WaitTimeout}: "
                    + string.Join(", ", running.Select(p => $"server {p.Options.ServerId} {p.Mode}")) + $" (network seed {Seed}).");
            await Task.Delay(10, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Opens a session on member <paramref name="id"/>.</summary>
    public ValueTask<IZooKeeper> ConnectAsync(int id, ZkSessionOptions? options = null, CancellationToken cancellationToken = default) =>
        this[id].ConnectAsync(options, cancellationToken);

    /// <summary>
    /// Kills member <paramref name="id"/> as a killed process: the others hear its connections close at once, and its
    /// disk keeps only what it had synced (in-memory disks keep everything they were given, as a disk whose fsync never
    /// lies). Its sessions' clients see the peer stop.
    /// </summary>
    public async Task CrashAsync(int id)
    {
        ZkPeer peer;
        lock (_gate)
        {
            peer = this[id];
            _running.Remove(id);
        }

        Network.Crash(id);
        await peer.CrashAsync().ConfigureAwait(false);
    }

    /// <summary>Starts member <paramref name="id"/> again on its disk as the crash left it; it rejoins and catches up.</summary>
    public async Task<ZkPeer> RestartAsync(int id, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            if (_running.ContainsKey(id))
                throw new InvalidOperationException($"server {id} is running; crash it first");
        }

        return await StartMemberAsync(id, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Cuts the members in <paramref name="side"/> off from the rest, both ways, silently, until <see cref="Heal"/>.</summary>
    public void Partition(params int[] side) => Network.Partition(side);

    /// <summary>Removes every partition and block.</summary>
    public void Heal() => Network.Heal();

    /// <summary>Stops every member and deletes the durable members' data directories.</summary>
    public async ValueTask DisposeAsync()
    {
        foreach (var peer in Running)
            await peer.DisposeAsync().ConfigureAwait(false);
        lock (_gate)
            _running.Clear();
        foreach (var disk in _disks.Values)
            disk.Dispose();
        await Network.DisposeAsync().ConfigureAwait(false);
        if (_dataRoot is not null)
            Directory.Delete(_dataRoot, recursive: true);
    }

    private async Task<ZkPeer> StartMemberAsync(int id, CancellationToken cancellationToken)
    {
        IConsensusStore? disk = null;
        if (!_options.Durable && !_disks.TryGetValue(id, out disk))
            _disks[id] = disk = new ConsensusLog();
        var options = _options.Peer with
        {
            ServerId = id,
            TickTime = _options.TickTime,
            DataDir = _dataRoot is null ? null : Path.Combine(_dataRoot, $"server{id}"),
            Ensemble = new EnsembleOptions
            {
                Voters = _voters,
                Observers = _observers,
                Transport = Network.Join(id),
                InitLimit = _options.InitLimit,
                SyncLimit = _options.SyncLimit,
                Store = disk,
            },
        };
        var peer = await ZkPeer.StartAsync(options, _options.LoggerFactory, cancellationToken).ConfigureAwait(false);
        lock (_gate)
            _running[id] = peer;
        return peer;
    }
}

/// <summary>How an <see cref="InMemoryEnsemble"/> runs.</summary>
public sealed record InMemoryEnsembleOptions
{
    /// <summary>Observers after the voters (ids N+1...): they receive committed txns and serve reads, and never vote.</summary>
    public int Observers { get; init; }

    /// <summary>
    /// The ensemble's tick: elections, heartbeats and session expiry run in ticks. Short by default so that tests
    /// see failover within a second (a crash is noticed at once; a silent partition within syncLimit ticks, 500 ms),
    /// yet long enough that a busy machine does not starve a member past syncLimit and cost the leader its quorum.
    /// </summary>
    public TimeSpan TickTime { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>zoo.cfg <c>initLimit</c>, in ticks.</summary>
    public int InitLimit { get; init; } = 10;

    /// <summary>zoo.cfg <c>syncLimit</c>, in ticks.</summary>
    public int SyncLimit { get; init; } = 5;

    /// <summary>
    /// Each member keeps its state in a data directory of its own under a temporary folder (real files, fsync per
    /// <see cref="ZkPeerOptions.ForceSync"/>), so a crash loses what was not synced; otherwise in memory, where a
    /// restarted member finds everything it had (faster; the default).
    /// </summary>
    public bool Durable { get; init; }

    /// <summary>The network: its seed, limits and random faults.</summary>
    public InMemoryNetworkOptions Network { get; init; } = new();

    /// <summary>
    /// Every member's other options (session timeouts, data limits, a client port of 0 to reach it over the wire).
    /// ServerId, TickTime, DataDir and Ensemble are set per member. The default allows session timeouts up to a
    /// minute (ZooKeeper's default maximum, 20 ticks, would be one second with the short tick).
    /// </summary>
    public ZkPeerOptions Peer { get; init; } = new() { MaxSessionTimeout = TimeSpan.FromMinutes(1) };

    /// <summary>How long <see cref="InMemoryEnsemble.WaitForLeaderAsync"/> waits by default.</summary>
    public TimeSpan WaitTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Where the members log (each under the "Zk.Embedded.Peer" category); none by default.</summary>
    public ILoggerFactory? LoggerFactory { get; init; }
}
