using Microsoft.Extensions.Logging;
using Zk.Embedded.Api;
using Zk.Embedded.Ensemble;
using Zk.Embedded.Processing;
using Zk.Embedded.Sessions;
using Zk.Embedded.Watches;

namespace Zk.Embedded;

/// <summary>The parts of a running peer that sessions use. Internal: users see <see cref="ZkPeer"/>.</summary>
internal sealed class PeerCore(IPeerPipeline pipeline, WatchManager watches, SessionTracker sessions, TimeProvider time, ILogger logger, ZkPeerOptions options,
    EnsembleMember? member = null)
{
    /// <summary>What orders the peer's writes and publishes its state: the standalone pipeline or the ensemble member.</summary>
    public IPeerPipeline Pipeline { get; } = pipeline;

    /// <summary>Where sessions, connections and the peer's timers submit writes (the pipeline, or the member that forwards them).</summary>
    public IWriteSubmitter Writes { get; } = pipeline;

    /// <summary>The ensemble member this peer is, or null when it runs standalone.</summary>
    public EnsembleMember? Member { get; } = member;

    public WatchManager Watches { get; } = watches;

    public SessionTracker Sessions { get; } = sessions;

    public TimeProvider Time { get; } = time;

    public ILogger Logger { get; } = logger;

    public ZkPeerOptions Options { get; } = options;

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
    /// <paramref name="lastZxidSeen"/> (the client must try another server).
    /// </summary>
    public ServerSession? FindForReattach(SessionId sessionId, ReadOnlySpan<byte> password, Zxid lastZxidSeen)
    {
        if (Member is { } member)
        {
            try
            {
                return member.Reattach(sessionId, password, lastZxidSeen);
            }
            catch (ZkException e) when (e.Code == ZkErrorCode.SessionExpired)
            {
                return null;
            }
        }

        if (!Sessions.TryGet(sessionId, out var session) || session.IsClosing || !Sessions.PasswordMatches(sessionId, password)
            || !Pipeline.State.Sessions.ContainsKey(sessionId))
        {
            return null;
        }

        return session;
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
