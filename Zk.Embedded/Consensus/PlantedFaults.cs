namespace Zk.Embedded.Consensus;

/// <summary>
/// Known ZAB bugs the core can be told to commit, so the simulator's tests prove its checker catches each one
/// (issue 14; CONSENSUS-NOTES §10 "Bugs to plant"). <see cref="None"/> everywhere outside those tests: nothing in
/// the library sets a flag, and a peer built from configuration always gets <see cref="None"/>.
/// </summary>
internal sealed record PlantedFaults
{
    public static PlantedFaults None { get; } = new();

    /// <summary>A follower ACKs a proposal as soon as it is logged, before its fsync (ZOOKEEPER-3023).</summary>
    public bool AckBeforeFsync { get; init; }

    /// <summary>A learner ACKs NEWLEADER before the synced history and currentEpoch are durable (ZOOKEEPER-3911, 4643).</summary>
    public bool AckNewLeaderBeforeDurable { get; init; }

    /// <summary>Votes are ranked by (zxid, sid) only, without currentEpoch.</summary>
    public bool VoteWithoutEpoch { get; init; }

    /// <summary>Observers ACK proposals and the leader counts them towards the quorum.</summary>
    public bool CountObserverAcks { get; init; }

    /// <summary>A learner applies the synced history and serves at NEWLEADER, before the leader is established (UPTODATE).</summary>
    public bool ServeBeforeUpToDate { get; init; }

    /// <summary>A learner told to TRUNC keeps its log tail and takes the TRUNC point as where the stream goes on.</summary>
    public bool SkipTrunc { get; init; }

    /// <summary>
    /// The leader answers a read index at once with its commit point, without the quorum round that proves it still
    /// leads: a deposed leader then serves stale "linearizable" reads (what ZooKeeper's sync does, ZOOKEEPER-1675).
    /// </summary>
    public bool ReadIndexWithoutQuorum { get; init; }

    public bool Any => AckBeforeFsync || AckNewLeaderBeforeDurable || VoteWithoutEpoch || CountObserverAcks
        || ServeBeforeUpToDate || SkipTrunc || ReadIndexWithoutQuorum;
}
