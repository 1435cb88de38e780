using System.Collections.Concurrent;
using Zk.Embedded.Api;

namespace Zk.Embedded.Sessions;

/// <summary>Where a session's events and state changes go: the in-process session, or (later) a wire connection.</summary>
internal interface ISessionSink
{
    /// <summary>A watch fired. Called by the one thread that applies txns, in zxid order, before replies that show the change.</summary>
    void OnWatchEvent(WatchedEvent watchedEvent);

    /// <summary>The session ended (closed or expired).</summary>
    void OnSessionEnded(KeeperState state);

    /// <summary>The session was attached elsewhere (ZooKeeper closes the old connection of a session that moves).</summary>
    void OnDetached();

    /// <summary>
    /// The ensemble member this session is attached to stopped (false) or started again (true) serving clients.
    /// A wire connection has nothing to do: the member closes its connections and clients reconnect elsewhere.
    /// </summary>
    void OnServingChanged(bool serving)
    {
    }
}

/// <summary>
/// A session as the peer sees it: identity, negotiated timeout, authenticated ids, liveness, and the sink its
/// events go to. The replicated part (id and timeout) also lives in the tree state's session table.
/// </summary>
internal sealed class ServerSession
{
    private IReadOnlyList<Id> _authIds;
    private long _lastHeardTimestamp;
    private volatile bool _closing;
    private volatile ISessionSink? _sink;
    private int _lastCxid;

    public ServerSession(SessionId sessionId, byte[] password, int timeoutMillis, IReadOnlyList<Id> initialIds, bool isSystem = false)
    {
        SessionId = sessionId;
        Password = password;
        TimeoutMillis = timeoutMillis;
        _authIds = initialIds;
        IsSystem = isSystem;
    }

    public SessionId SessionId { get; }

    public byte[] Password { get; }

    public int TimeoutMillis { get; }

    /// <summary>The peer's own session (container and TTL clean-up): always valid, all ids.</summary>
    public bool IsSystem { get; }

    /// <summary>Set when a close or expiry is under way: new writes fail with SessionExpired.</summary>
    public bool IsClosing => _closing;

    /// <summary>
    /// The identities of the in-process handle attached (ip:127.0.0.1 and what its addAuth proved), or the system
    /// session's. Empty for a session served over the wire: there each request carries its connection's ids.
    /// Copy-on-write so readers need no lock.
    /// </summary>
    public IReadOnlyList<Id> AuthIds => Volatile.Read(ref _authIds);

    public ISessionSink? Sink
    {
        get => _sink;
        set => _sink = value;
    }

    /// <summary>Paths this session watches on the server side, so its watches can be dropped when it ends.</summary>
    public ConcurrentDictionary<string, byte> WatchedPaths { get; } = new(StringComparer.Ordinal);

    /// <summary>Timestamp (<see cref="TimeProvider.GetTimestamp"/>) of the last request or ping.</summary>
    public long LastHeardTimestamp => Interlocked.Read(ref _lastHeardTimestamp);

    public void Touch(long timestamp) => Interlocked.Exchange(ref _lastHeardTimestamp, timestamp);

    /// <summary>
    /// The cxid of an in-process handle's next request, as the Java client's xid counter gives them (from 1); a wire
    /// connection uses its client's xids instead. Only the order they are submitted in matters to the pipeline.
    /// </summary>
    public int NextCxid() => Interlocked.Increment(ref _lastCxid);

    /// <summary>The close or expiry under way was lost (its term ended before it committed): the session is live again.</summary>
    public void ClearClosing() => _closing = false;

    public bool TryMarkClosing()
    {
        lock (this)
        {
            if (_closing)
            {
                return false;
            }

            _closing = true;
            return true;
        }
    }

    /// <summary>Adds identities an addAuth proved (in-process handles; a wire connection keeps its own).</summary>
    public void AddAuthIds(IReadOnlyList<Id> ids)
    {
        lock (this)
        {
            Volatile.Write(ref _authIds, AuthIdentities.With(_authIds, ids));
        }
    }

    /// <summary>A new in-process handle attached: it starts from its own ids, as a new connection does.</summary>
    public void ResetAuthIds(IReadOnlyList<Id> ids) => Volatile.Write(ref _authIds, ids);
}
