using Zk.Embedded.Transport;

namespace Zk.Embedded;

/// <summary>
/// Makes a <see cref="ZkPeer"/> one member of a replicated ensemble (zoo.cfg's <c>server.N</c> lines): the ids of
/// the voting members and the observers, and the transport this member reaches them over. The member's own id is
/// <see cref="ZkPeerOptions.ServerId"/> (myid); <see cref="ZkPeerOptions.TickTime"/> is the ensemble's tick, and
/// <see cref="ZkPeerOptions.DataDir"/> holds its epoch files, txn log and snapshots (null keeps them in memory).
/// </summary>
/// <example>
/// <code>
/// await using var network = new InMemoryNetwork();   // the in-memory transport package
/// var peers = await Task.WhenAll([1, 2, 3].Select(id => ZkPeer.StartAsync(new ZkPeerOptions
/// {
///     ServerId = id,
///     TickTime = TimeSpan.FromMilliseconds(100),
///     Ensemble = new EnsembleOptions { Voters = [1, 2, 3], Transport = network.Join(id) },
/// }).AsTask()));
/// </code>
/// </example>
public sealed record EnsembleOptions
{
    /// <summary>The voting members' ids (<c>server.N=...:participant</c>), this peer's among them unless it observes.</summary>
    public required IReadOnlyList<int> Voters { get; init; }

    /// <summary>The observers' ids (<c>server.N=...:observer</c>): they receive committed txns and serve reads, and never vote.</summary>
    public IReadOnlyList<int> Observers { get; init; } = [];

    /// <summary>This member's endpoint on the ensemble's network (any transport package). The peer owns it from start and disposes it.</summary>
    public required IPeerTransport Transport { get; init; }

    /// <summary>zoo.cfg <c>initLimit</c>: ticks a learner may take to connect to and sync with its leader.</summary>
    public int InitLimit { get; init; } = 10;

    /// <summary>zoo.cfg <c>syncLimit</c>: ticks a learner may stay silent or behind before it is dropped.</summary>
    public int SyncLimit { get; init; } = 5;

    /// <summary>
    /// A consensus store that outlives the peer (InMemoryEnsemble's in-memory disks, which a restart finds as a
    /// restarted process finds its disk); null opens <see cref="ZkPeerOptions.DataDir"/> or a fresh in-memory one.
    /// </summary>
    internal Ensemble.IConsensusStore? Store { get; init; }

    /// <summary>Checks the options for member <paramref name="myId"/>; throws <see cref="ArgumentException"/> naming the setting.</summary>
    internal void Validate(long myId)
    {
        Require(Voters is { Count: > 0 }, nameof(Voters), "an ensemble needs at least one voter (server.N line)");
        Require(Voters.Concat(Observers).All(id => id is >= 1 and <= 254), nameof(Voters), "server ids must be 1..254");
        Require(Voters.Concat(Observers).Distinct().Count() == Voters.Count + Observers.Count, nameof(Observers), "a server id is listed twice");
        Require(Voters.Contains((int)myId) || Observers.Contains((int)myId), nameof(ZkPeerOptions.ServerId),
            $"myid {myId} is not among the ensemble's servers ({string.Join(", ", Voters.Concat(Observers))})");
        Require(Transport is not null, nameof(Transport), "a transport is required");
        Require(InitLimit > 0, nameof(InitLimit), "initLimit must be positive");
        Require(SyncLimit > 0, nameof(SyncLimit), "syncLimit must be positive");
    }

    private static void Require(bool condition, string name, string message)
    {
        if (!condition)
            throw new ArgumentException($"{message}.", name);
    }
}
