using System.Collections.Concurrent;
using System.Security.Cryptography;
using Zk.Embedded.Api;

namespace Zk.Embedded.Sessions;

/// <summary>
/// Issues session ids and passwords, tracks when each session was last heard from, and reports the ones whose
/// timeout has passed. Expiry itself is a closeSession txn, issued by the owner of this tracker (the leader).
/// </summary>
internal sealed class SessionTracker
{
    private readonly ConcurrentDictionary<SessionId, ServerSession> _sessions = new();
    private readonly TimeProvider _time;
    private readonly byte[] _secret;
    private long _lastSessionId;

    /// <summary>
    /// The ensemble-wide secret passwords derive from. ZooKeeper fixes one (superSecret) for the same reason: any
    /// peer must be able to check a session's password when the session moves to it.
    /// </summary>
    public static byte[] EnsembleSecret { get; } = SHA256.HashData("Zk.Embedded session password v1"u8);

    /// <param name="serverId">goes into the top byte of every id, so peers never hand out the same one.</param>
    /// <param name="secret">shared by the ensemble: any peer can check a password (ZooKeeper's superSecret plays this role).</param>
    public SessionTracker(TimeProvider time, long serverId, byte[] secret)
    {
        _time = time;
        _secret = secret;
        _lastSessionId = SessionId.Initial(serverId, time.GetUtcNow().ToUnixTimeMilliseconds()).Value;
    }

    public int Count => _sessions.Count;

    public ICollection<ServerSession> Sessions => _sessions.Values;

    public SessionId NextSessionId() => new(Interlocked.Increment(ref _lastSessionId));

    /// <summary>The password of a session: derived from its id and the ensemble secret.</summary>
    public byte[] PasswordFor(SessionId sessionId)
    {
        Span<byte> input = stackalloc byte[8];
        BitConverter.TryWriteBytes(input, sessionId.Value);
        return HMACSHA256.HashData(_secret, input)[..16];
    }

    public bool PasswordMatches(SessionId sessionId, ReadOnlySpan<byte> password) =>
        CryptographicOperations.FixedTimeEquals(PasswordFor(sessionId), password);

    public void Add(ServerSession session)
    {
        session.Touch(_time.GetTimestamp());
        _sessions[session.SessionId] = session;
    }

    public bool TryGet(SessionId sessionId, out ServerSession session) => _sessions.TryGetValue(sessionId, out session!);

    public void Remove(SessionId sessionId) => _sessions.TryRemove(sessionId, out _);

    public void Touch(ServerSession session) => session.Touch(_time.GetTimestamp());

    /// <summary>Sessions not heard from within their timeout, marked closing so this reports each once.</summary>
    public List<ServerSession> TakeExpired()
    {
        var now = _time.GetTimestamp();
        var expired = new List<ServerSession>();
        foreach (var session in _sessions.Values)
        {
            if (session.IsSystem || session.IsClosing)
            {
                continue;
            }

            if (_time.GetElapsedTime(session.LastHeardTimestamp, now) > TimeSpan.FromMilliseconds(session.TimeoutMillis)
                && session.TryMarkClosing())
            {
                expired.Add(session);
            }
        }

        return expired;
    }

    /// <summary>Identities every session starts with: in-process sessions come from this host, like a loopback client.</summary>
    public static IReadOnlyList<Id> LocalIds { get; } = [new Id("ip", "127.0.0.1")];
}
