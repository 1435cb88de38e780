using Microsoft.Extensions.Logging;

namespace Zk.Embedded.Ensemble;

/// <summary>Where a member keeps its consensus state; zoo.cfg's <c>dataDir</c> and <c>forceSync</c>.</summary>
internal sealed record ConsensusStorageOptions
{
    /// <summary>zoo.cfg <c>dataDir</c>: the epoch files, txn log and snapshots. Null keeps the state in memory only (tests, non-durable ensembles).</summary>
    public string? DataDir { get; init; }

    /// <summary>zoo.cfg <c>dataLogDir</c>: the txn log's directory; null keeps it in <see cref="DataDir"/>.</summary>
    public string? DataLogDir { get; init; }

    /// <summary>zoo.cfg <c>snapCount</c>, <c>autopurge.snapRetainCount</c> and <c>autopurge.purgeInterval</c>.</summary>
    public SnapshotPolicy Snapshots { get; init; } = SnapshotPolicy.Default;

    /// <summary>zoo.cfg <c>forceSync</c>: fsync the txn log before a batch is reported durable. Off only for tests and benchmarks.</summary>
    public bool ForceSync { get; init; } = true;

    /// <summary>Opens the store these options name (see <see cref="DurableConsensusStore.Open"/> for its start errors); <paramref name="logger"/> hears its background purges.</summary>
    public IConsensusStore Open(ILogger logger) => DataDir is { } dir ? DurableConsensusStore.Open(dir, ForceSync, DataLogDir, logger) : new ConsensusLog();
}
