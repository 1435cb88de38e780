namespace Zk.Embedded;

/// <summary>A peer's place, as ZooKeeper's <c>srvr</c> reports it (<c>Mode:</c>) and <c>mntr</c>'s <c>zk_server_state</c>.</summary>
public enum PeerMode
{
    /// <summary>Runs alone: no ensemble.</summary>
    Standalone,

    /// <summary>An ensemble member without an established leader (electing, or syncing with a new one): it serves no clients.</summary>
    Looking,

    /// <summary>Leads the ensemble: orders every write.</summary>
    Leader,

    /// <summary>Follows the leader and votes.</summary>
    Follower,

    /// <summary>Follows the leader without voting.</summary>
    Observer,
}
