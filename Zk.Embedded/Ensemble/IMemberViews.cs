using Zk.Embedded.Consensus;
using Zk.Embedded.Processing;
using Zk.Embedded.Tree;

namespace Zk.Embedded.Ensemble;

/// <summary>
/// A member's consensus as its session bookkeeping (<see cref="GlobalSessions"/>) and its write forwarding
/// (<see cref="WriteForwarder"/>) see it: the driver's last status, its loop and its messages.
/// <see cref="ConsensusDriver"/> in a peer; the deterministic simulator's peers in tests.
/// </summary>
internal interface IConsensusView
{
    /// <summary>This member's id.</summary>
    int Id { get; }

    /// <summary>The role, leader and phase as of the last step.</summary>
    ConsensusDriver.Status Current { get; }

    /// <summary>Raised on the loop after each role or phase change.</summary>
    event Action<RoleChange>? RoleChanged;

    /// <summary>Runs <paramref name="action"/> on the loop; false once it has stopped.</summary>
    bool Run(Action action);

    /// <summary>Sends client traffic (session activity, forwarded requests) to another member; on the loop.</summary>
    bool SendTraffic(int to, ClientTraffic message);

    /// <summary>Raised on the loop for client traffic from another member (forwarded writes, replies, session activity).</summary>
    event Action<int, ClientTraffic>? TrafficReceived;

    /// <summary>Raised on the loop when the connection to a member is seen lost: traffic in flight either way may be gone.</summary>
    event Action<int>? PeerDisconnected;
}

/// <summary>
/// A member's tree as its session bookkeeping and its write forwarding see it: the published state, where writes go
/// while it leads, and the publisher that answers forwarded writes while it follows.
/// </summary>
internal interface IReplicaView
{
    /// <summary>The newest published tree.</summary>
    TreeState State { get; }

    /// <summary>Where writes enter while this member leads; null otherwise.</summary>
    IWriteSubmitter? Writes { get; }

    /// <summary>While this member follows: where its forwarded writes wait for their committed txn or their answer.</summary>
    Publisher Follower { get; }
}
