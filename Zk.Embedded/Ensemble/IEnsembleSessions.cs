using Zk.Embedded.Api;
using Zk.Embedded.Sessions;

namespace Zk.Embedded.Ensemble;

/// <summary>
/// What an in-process session needs of the ensemble its peer is a member of: re-attaching a session created on any
/// member, and linearizable reads. <see cref="EnsembleMember"/> is it for a real peer; the deterministic simulator
/// (tests/Zk.Testing) gives its simulated members their own.
/// </summary>
internal interface IEnsembleSessions
{
    /// <summary>
    /// Reattaches a session a client created on any member. Throws ConnectionLoss when this member does not serve or
    /// has not yet seen <paramref name="lastZxidSeen"/>, SessionExpired when the session is gone or the password is wrong;
    /// null when this learner does not know the session yet (ask again after <see cref="ReadIndexAsync"/>).
    /// </summary>
    ServerSession? Reattach(SessionId sessionId, ReadOnlySpan<byte> password, Zxid lastZxidSeen);

    /// <summary>
    /// After a <see cref="Reattach"/>: waits until this member's leader has answered the claim the reattach made (the
    /// reply to the client waits for it, as ZooKeeper's REVALIDATE does), for a tick at most (a lost claim is repeated
    /// once the session is attached, and goes again with its first write). Never throws.
    /// </summary>
    ValueTask ClaimAnsweredAsync(SessionId sessionId, CancellationToken cancellationToken);

    /// <summary>Waits until a read on this member is linearizable; throws ConnectionLoss when it cannot be.</summary>
    ValueTask ReadIndexAsync(CancellationToken cancellationToken);
}
