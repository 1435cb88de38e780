using Zk.Embedded.Tree;

namespace Zk.Embedded.Processing;

/// <summary>
/// What a peer's sessions and connections use of whatever orders its writes: the standalone pipeline
/// (<see cref="RequestProcessor"/>) or an ensemble member (<c>Ensemble.EnsembleMember</c>, which leads, forwards to
/// its leader, or serves nothing while it has none). Reads see <see cref="State"/>; writes go through
/// <see cref="IWriteSubmitter"/>.
/// </summary>
internal interface IPeerPipeline : IWriteSubmitter, IAsyncDisposable
{
    /// <summary>The newest published state: what reads see.</summary>
    TreeState State { get; }

    /// <summary>The state whose watches are firing or have fired: at or ahead of <see cref="State"/>.</summary>
    TreeState FiringState { get; }

    /// <summary>Null while the peer serves clients; otherwise why it does not (a fault, no leader, no quorum).</summary>
    string? NotServing { get; }

    /// <summary>Completes with the exception that stopped the peer for good; never while it can still serve.</summary>
    Task<Exception> Faulted { get; }
}
