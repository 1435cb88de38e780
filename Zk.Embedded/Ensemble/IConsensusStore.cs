using Zk.Embedded.Consensus;

namespace Zk.Embedded.Ensemble;

/// <summary>
/// Where a member keeps its consensus state: both epochs, its newest snapshot and the log after it. The driver's
/// storage worker is its only writer: it <see cref="Write"/>s a batch of the core's requests in order, then
/// <see cref="Sync"/>s once and reports the batch durable (group commit). Every store checks each request with
/// <see cref="PersistChecks"/> before writing it; a broken rule throws <see cref="PersistInvariantException"/>.
/// </summary>
internal interface IConsensusStore : IDisposable
{
    /// <summary>The newest snapshot, or null when the history starts from the empty state.</summary>
    ConsensusSnapshot? Snapshot { get; }

    /// <summary>What the core reads at start.</summary>
    PersistedState Load();

    /// <summary>Checks and writes one request; durable once <see cref="Sync"/> returns (an epoch file or a snapshot may be at once).</summary>
    void Write(PersistRequest request);

    /// <summary>Makes every request written so far durable.</summary>
    void Sync();

    /// <summary>
    /// True for a store whose every write is as durable as it gets once <see cref="Write"/> returns, and quick (one
    /// in memory): the driver then writes on its own loop instead of handing each batch to the storage worker's
    /// thread and waiting for its report.
    /// </summary>
    bool DurableAtOnce => false;

    /// <summary>
    /// Where SNAP files on their way in or out are spooled: the store's own directory, so an assembled snapshot is
    /// installed by a rename; null for a temporary directory (a store kept in memory).
    /// </summary>
    string? SpoolDirectory => null;

    /// <summary>
    /// Keeps a snapshot of applied (committed) state newer than the newest one, so a restart replays less; ignored when
    /// stale (not newer, or past the log: the history changed since it was taken). Nothing by default.
    /// </summary>
    void SaveSnapshot(ConsensusSnapshot snapshot)
    {
    }

    /// <summary>Keeps the newest <paramref name="retain"/> snapshots and the log from the oldest of them (autopurge). Nothing by default.</summary>
    void Purge(int retain)
    {
    }
}
