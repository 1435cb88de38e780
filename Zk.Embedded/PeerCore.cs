using Microsoft.Extensions.Logging;
using Zk.Embedded.Api;
using Zk.Embedded.Processing;
using Zk.Embedded.Sessions;
using Zk.Embedded.Watches;

namespace Zk.Embedded;

/// <summary>The parts of a running peer that sessions use. Internal: users see <see cref="ZkPeer"/>.</summary>
internal sealed class PeerCore(RequestProcessor processor, WatchManager watches, SessionTracker sessions, TimeProvider time, ILogger logger, ZkPeerOptions options)
{
    public RequestProcessor Processor { get; } = processor;

    /// <summary>Where sessions, connections and the peer's timers submit writes (the local pipeline, standalone).</summary>
    public IWriteSubmitter Writes { get; } = processor;

    public WatchManager Watches { get; } = watches;

    public SessionTracker Sessions { get; } = sessions;

    public TimeProvider Time { get; } = time;

    public ILogger Logger { get; } = logger;

    public ZkPeerOptions Options { get; } = options;

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
    /// (ZooKeeper answers all three the same way, as an expired session).
    /// </summary>
    public ServerSession? FindForReattach(SessionId sessionId, ReadOnlySpan<byte> password)
    {
        if (!Sessions.TryGet(sessionId, out var session) || session.IsClosing || !Sessions.PasswordMatches(sessionId, password)
            || !Processor.State.Sessions.ContainsKey(sessionId))
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
