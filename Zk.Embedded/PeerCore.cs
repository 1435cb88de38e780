using Microsoft.Extensions.Logging;
using Zk.Embedded.Api;
using Zk.Embedded.Ensemble;
using Zk.Embedded.InProcess;
using Zk.Embedded.Processing;
using Zk.Embedded.Sessions;
using Zk.Embedded.Watches;

namespace Zk.Embedded;

/// <summary>The parts of a running peer that sessions use. Internal: users see <see cref="ZkPeer"/>.</summary>
internal sealed class PeerCore(IPeerPipeline pipeline, WatchManager watches, SessionTracker sessions, TimeProvider time, ILogger logger, ZkPeerOptions options,
    EnsembleMember? member = null)
{
    private bool _stopped;   // Stopped() was called: nothing tells the sessions anything any more

    /// <summary>What orders the peer's writes and publishes its state: the standalone pipeline or the ensemble member.</summary>
    public IPeerPipeline Pipeline { get; } = pipeline;

    /// <summary>Where sessions, connections and the peer's timers submit writes (the pipeline, or the member that forwards them).</summary>
    public IWriteSubmitter Writes { get; } = pipeline;

    /// <summary>The ensemble member this peer is, or null when it runs standalone.</summary>
    public EnsembleMember? Member { get; } = member;

    /// <summary>
    /// Reattaches and linearizable reads across the ensemble: the member's, or the simulator's for its simulated
    /// members; null when the peer runs standalone (its sessions are all here, and every read is linearizable).
    /// </summary>
    public IEnsembleSessions? Ensemble { get; init; } = member;

    public WatchManager Watches { get; } = watches;

    public SessionTracker Sessions { get; } = sessions;

    public TimeProvider Time { get; } = time;

    public ILogger Logger { get; } = logger;

    public ZkPeerOptions Options { get; } = options;

    /// <summary>
    /// Where in-process sessions deliver their replies and watch events: null for the thread pool. The deterministic
    /// simulator runs them on its own one thread, in an order a seed reproduces.
    /// </summary>
    public Action<Action>? Dispatch { get; init; }

    /// <summary>This peer's place now: standalone, or its role in its ensemble (Looking while it has no established leader).</summary>
    public PeerMode Mode => Member is not { } member ? PeerMode.Standalone : ModeOf(member.Status);

    /// <summary>The mode a member's driver status means.</summary>
    public static PeerMode ModeOf(ConsensusDriver.Status status) => !status.IsServing ? PeerMode.Looking : status.State switch
    {
        Consensus.ServerState.Leading => PeerMode.Leader,
        Consensus.ServerState.Observing => PeerMode.Observer,
        _ => PeerMode.Follower,
    };

    /// <summary>The largest znode data (jute.maxbuffer).</summary>
    public int MaxDataBytes => Options.MaxDataBytes;

    /// <summary>Clamps a requested timeout to [minSessionTimeout, maxSessionTimeout], in ms, as ZooKeeper negotiates it.</summary>
    public int NegotiateTimeout(TimeSpan requested) =>
        (int)Math.Clamp(requested.TotalMilliseconds, Options.EffectiveMinSessionTimeout.TotalMilliseconds, Options.EffectiveMaxSessionTimeout.TotalMilliseconds);

    /// <summary>A new session's server side, tracked from now on (its createSession txn is the caller's to submit).</summary>
    public ServerSession NewSession(int timeoutMillis, IReadOnlyList<Api.Id> initialIds)
    {
        var id = Sessions.NextSessionId();
        var session = new ServerSession(id, Sessions.PasswordFor(id), timeoutMillis, initialIds);
        Sessions.Add(session);
        return session;
    }

    /// <summary>
    /// A live session that may be re-attached with this password, or null: unknown, closing, or wrong password
    /// (ZooKeeper answers all three the same way, as an expired session). An ensemble member may hold a session a
    /// client created on another member; it throws ConnectionLoss when it serves no clients or has not yet seen
    /// <paramref name="lastZxidSeen"/> (the client must try another server). A learner that does not know the session
    /// first catches up with its leader's commit point (a read index): a client that created its session on another
    /// member and has seen nothing since its connect names no zxid this one could refuse on, yet must not be told its
    /// live session expired (ZooKeeper's learner asks its leader, REVALIDATE). A read index that cannot be had is a
    /// ConnectionLoss.
    /// </summary>
    public async ValueTask<ServerSession?> FindForReattachAsync(SessionId sessionId, ReadOnlyMemory<byte> password, Zxid lastZxidSeen, CancellationToken cancellationToken)
    {
        if (Ensemble is { } ensemble)
        {
            try
            {
                if (ensemble.Reattach(sessionId, password.Span, lastZxidSeen) is { } known)
                    return known;
                await ensemble.ReadIndexAsync(cancellationToken).ConfigureAwait(false);
                return ensemble.Reattach(sessionId, password.Span, lastZxidSeen);
            }
            catch (ZkException e) when (e.Code == ZkErrorCode.SessionExpired)
            {
                return null;
            }
        }

        if (!Sessions.TryGet(sessionId, out var session) || session.IsClosing || !Sessions.PasswordMatches(sessionId, password.Span)
            || !Pipeline.State.Sessions.ContainsKey(sessionId))
        {
            return null;
        }

        return session;
    }

    /// <summary>
    /// After <see cref="FindForReattachAsync"/> found the session: an ensemble member's reply waits until its leader has
    /// answered the move (<see cref="IEnsembleSessions.ClaimAnsweredAsync"/>); a standalone peer's at once.
    /// </summary>
    public ValueTask ClaimAnsweredAsync(SessionId sessionId, CancellationToken cancellationToken) =>
        Ensemble is { } ensemble ? ensemble.ClaimAnsweredAsync(sessionId, cancellationToken) : default;

    /// <summary>
    /// Opens an in-process session (a createSession txn), or re-attaches a live one when
    /// <see cref="ZkSessionOptions.SessionId"/> is set: <see cref="ZkPeer.ConnectAsync"/>, and the deterministic
    /// simulator's sessions on its members.
    /// </summary>
    public async ValueTask<IZooKeeper> ConnectAsync(ZkSessionOptions options, CancellationToken cancellationToken)
    {
        if (options.SessionId is { } existingId)
            return await ReattachAsync(new SessionId(existingId), options, cancellationToken).ConfigureAwait(false);

        var server = NewSession(NegotiateTimeout(options.SessionTimeout), SessionTracker.LocalIds);
        var session = new InProcessSession(this, server, options.DefaultWatcher);
        try
        {
            await session.OpenAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            Sessions.Remove(server.SessionId);
            throw;
        }

        AttachHandle(server, session);
        return session;
    }

    /// <summary>
    /// Attaches a new in-process handle. A peer that stopped while the session was being created or found (its last
    /// txns publish as it stops) no longer tells its sessions anything: the handle hears Disconnected at once instead
    /// of staying connected to a peer that answers nothing (found by the deterministic simulator: a watch-driven
    /// reader connected as its member crashed and read nothing for ever after).
    /// </summary>
    private void AttachHandle(ServerSession server, InProcessSession session)
    {
        Attach(server, session);
        session.MarkConnected();
        Interlocked.MemoryBarrier();   // against Stopped: one of the two sees the other (both telling the handle is harmless)
        if (Volatile.Read(ref _stopped))
            ((ISessionSink)session).OnSessionEnded(KeeperState.Disconnected);
    }

    private async ValueTask<InProcessSession> ReattachAsync(SessionId sessionId, ZkSessionOptions options, CancellationToken cancellationToken)
    {
        var server = await FindForReattachAsync(sessionId, options.SessionPassword, new Zxid(options.LastZxidSeen), cancellationToken).ConfigureAwait(false)
            ?? throw new ZkException(ZkErrorCode.SessionExpired, null, $"Session {sessionId} is not live here, or the password does not match.");
        await ClaimAnsweredAsync(sessionId, cancellationToken).ConfigureAwait(false);
        if (Pipeline.NotServing is { } notServing)
            throw new ZkException(ZkErrorCode.ConnectionLoss, null, $"Session {sessionId} cannot be attached here now: {notServing}.");
        var session = new InProcessSession(this, server, options.DefaultWatcher);
        // A new handle starts with only its own ip id, as a new connection does; its client adds its auth again.
        server.ResetAuthIds(SessionTracker.LocalIds);
        AttachHandle(server, session);
        return session;
    }

    /// <summary>This member started (true) or stopped (false) serving clients: every session attached here hears it.</summary>
    public void ServingChanged(bool serving)
    {
        foreach (var session in Sessions.Sessions)
            session.Sink?.OnServingChanged(serving);
    }

    /// <summary>The peer stopped (or its process died): its sessions' handles hear Disconnected and fail from then on.</summary>
    public void Stopped()
    {
        Volatile.Write(ref _stopped, true);
        Interlocked.MemoryBarrier();
        foreach (var session in Sessions.Sessions)
            session.Sink?.OnSessionEnded(KeeperState.Disconnected);
    }

    /// <summary>Points the session at a new attachment; the previous one (another connection or handle) is told to let go.</summary>
    public void Attach(ServerSession session, ISessionSink sink)
    {
        var previous = session.Sink;
        session.Sink = sink;
        if (previous is not null && !ReferenceEquals(previous, sink))
        {
            previous.OnDetached();
        }

        Sessions.Touch(session);
    }

}
