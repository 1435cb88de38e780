using System.Buffers.Binary;
using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Zk.Embedded.Api;
using Zk.Embedded.Consensus;
using Zk.Embedded.Processing;
using Zk.Embedded.Sessions;

namespace Zk.Embedded.Ensemble;

/// <summary>
/// Sessions as an ensemble has them (ZooKeeper's LeaderSessionTracker and LearnerSessionTracker): created and closed by
/// txns committed through the leader, so every member's tree holds every session; learners report the sessions their
/// clients were heard from to the leader every tick (ZooKeeper piggybacks them on PING); only the leader expires a
/// session (a closeSession txn), and a new leader starts every session's timeout afresh. The leader remembers which
/// member each session is attached to, and refuses a write that comes through another with SessionMoved.
/// Ticks and traffic run on the driver's loop; the tracker and the owner table are safe from any thread.
/// </summary>
internal sealed class GlobalSessions
{
    private readonly IConsensusView _driver;
    private readonly IReplicaView _tree;
    private readonly SessionTracker _tracker;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<SessionId, int> _owners = new();
    private readonly ConcurrentDictionary<SessionId, byte> _reattachedHere = new();   // a learner's: sessions clients moved here
    private long _lastReport;
    private Zxid? _adoptedThrough;   // the tree zxid AdoptAll last scanned; the loop's

    public GlobalSessions(IConsensusView driver, IReplicaView tree, SessionTracker tracker, TimeProvider time, ILogger logger)
    {
        (_driver, _tree, _tracker, _time, _logger) = (driver, tree, tracker, time, logger);
        _lastReport = time.GetTimestamp();
        driver.RoleChanged += OnRoleChanged;
    }

    /// <summary>
    /// The member a session is attached to, when the leader knows it and it is not <paramref name="from"/>. A session
    /// with no known owner (a new leader has not heard of it yet) is claimed by <paramref name="from"/>, as ZooKeeper's
    /// <c>SessionTrackerImpl.checkSession</c> sets a null owner to the server of the first request it checks.
    /// </summary>
    public int? MovedFrom(SessionId sessionId, int from)
    {
        var owner = _owners.GetOrAdd(sessionId, from);
        return owner != from ? owner : null;
    }

    /// <summary>Sessions whose owner the leader knows (tests: closed sessions must not stay).</summary>
    internal int OwnerCount => _owners.Count;

    /// <summary>On the leader: the session a forwarded request runs as (known, adopted from the tree, or being created).</summary>
    public ServerSession ForRequest(SessionId sessionId, PipelineRequest request, int from)
    {
        if (request is CreateSessionRequest)
            _owners[sessionId] = from;
        var timeout = request is CreateSessionRequest create ? create.TimeoutMillis : 0;
        var session = Adopt(sessionId, timeout) ?? new ServerSession(sessionId, _tracker.PasswordFor(sessionId), timeout, []);
        _tracker.Touch(session);
        return session;
    }

    /// <summary>A write submitted on this member while it leads: the session must not have moved to another member.</summary>
    public void CheckLocal(PendingWrite write)
    {
        if (write.Request is CreateSessionRequest)
            _owners[write.Session.SessionId] = _driver.Id;
        else if (!write.Session.IsSystem && MovedFrom(write.Session.SessionId, _driver.Id) is { } owner)
            throw new ZkException(ZkErrorCode.SessionMoved, write.Request.ErrorPath,
                $"Session {write.Session.SessionId} moved to server {owner}: write through the server it is attached to.");
    }

    /// <summary>
    /// A client reattaches its session here (ZooKeeper's reconnect with a session id and password). Refused with
    /// ConnectionLoss when this member does not serve or is behind what the client has seen, as ZooKeeper's
    /// "Refusing session request ... client must try another server"; SessionExpired when the session is gone or the
    /// password is wrong. The leader learns the move, so writes through the old member fail with SessionMoved.
    /// </summary>
    public ServerSession Reattach(SessionId sessionId, ReadOnlySpan<byte> password, Zxid lastZxidSeen)
    {
        var status = _driver.Current;
        if (!status.IsServing || status.Leader is not { } leader)
            throw new ZkException(ZkErrorCode.ConnectionLoss, null, $"Server {_driver.Id} is {status.State} and serves no clients now.");
        var zxid = _tree.State.Zxid;
        if (lastZxidSeen > zxid)
            throw new ZkException(ZkErrorCode.ConnectionLoss, null,
                $"Refusing session request for client as it has seen zxid {lastZxidSeen} our last zxid is {zxid} client must try another server");
        if (Adopt(sessionId, 0) is not { IsClosing: false } session || !_tracker.PasswordMatches(sessionId, password))
            throw new ZkException(ZkErrorCode.SessionExpired, null, $"Session {sessionId} has expired or its password does not match.");
        _tracker.Touch(session);
        if (leader == _driver.Id)
        {
            _owners[sessionId] = leader;
        }
        else
        {
            // Told at once, and again with every report while its client is active here (ReportActivity): the
            // transport may lose this notice, and a leader that never learnt the move would refuse every write of
            // the session through this member with SessionMoved (the simulator's scenarios found it: seed 639).
            _reattachedHere[sessionId] = 0;
            var ids = Pack([sessionId]);
            _driver.Run(() => _driver.SendTraffic(leader, new SessionActivity(ids, Attached: true)));
        }

        return session;
    }

    /// <summary>On the leader: a learner's report of session activity (or of a session attached to it).</summary>
    public void OnActivity(int from, SessionActivity activity)
    {
        if (_tree.Writes is null)
            return;
        var span = activity.SessionIds.Span;
        for (var i = 0; i + 8 <= span.Length; i += 8)
        {
            var id = new SessionId(BinaryPrimitives.ReadInt64LittleEndian(span[i..]));
            if (Adopt(id, 0) is { } session)
                _tracker.Touch(session);
            if (activity.Attached)
                _owners[id] = from;
        }
    }

    /// <summary>Every tick, on the driver's loop: the leader expires, a serving learner reports activity.</summary>
    public void OnTick()
    {
        var status = _driver.Current;
        if (_tree.Writes is { } writes)
        {
            AdoptAll();
            foreach (var session in _tracker.TakeExpired())
            {
                if (!_tree.State.Sessions.ContainsKey(session.SessionId))
                {
                    _tracker.Remove(session.SessionId); // its createSession never committed: nothing to close
                    continue;
                }

                Log.SessionExpiring(_logger, session.SessionId, session.TimeoutMillis);
                writes.Post(new PendingWrite(session, new CloseSessionRequest(Expired: true), null));
            }
        }
        else if (status is { IsServing: true, Leader: { } leader })
        {
            ReportActivity(leader);
        }
    }

    private void ReportActivity(int leader)
    {
        var since = _lastReport;
        _lastReport = _time.GetTimestamp();
        var touched = new List<SessionId>();
        var attached = new List<SessionId>();
        foreach (var session in _tracker.Sessions)
        {
            if (!session.IsSystem && session.LastHeardTimestamp >= since)
                (_reattachedHere.ContainsKey(session.SessionId) && session.Sink is not null ? attached : touched).Add(session.SessionId);
        }

        if (touched.Count > 0)
            _driver.SendTraffic(leader, new SessionActivity(Pack(touched), Attached: false));
        // A session moved here, heard from since the last report and still attached (its connection open) has its
        // client here: this member is its owner. Only sessions moved here claim it, so a late report of a session
        // created here and moved away since never takes it back; a client that left closed its connection here, so
        // its next report does not either (one already on its way still can, until this member's next report).
        if (attached.Count > 0)
            _driver.SendTraffic(leader, new SessionActivity(Pack(attached), Attached: true));
        foreach (var id in _reattachedHere.Keys)
        {
            if (!_tracker.TryGet(id, out _))
                _reattachedHere.TryRemove(id, out _);   // closed or expired
        }
    }

    private void OnRoleChanged(RoleChange change)
    {
        // An expiry this member proposed is decided with the term that proposed it: committed (the publisher removed
        // the session from the tracker) or lost with that term's pipeline. So a session still here at a role change
        // is not being closed by us, and whoever leads next may expire it again; ZooKeeper's leader likewise builds its
        // session tracker afresh at every term. Kept marked, it would never expire here again and every reattach
        // here would be refused as expired (GlobalSessionTermTests).
        foreach (var session in _tracker.Sessions)
            session.ClearClosing();
        if (change is not { State: ServerState.Leading, Phase: ZabPhase.Broadcast })
            return;
        // A new leader does not know when sessions were last heard from: each gets its full timeout from now
        // (ZooKeeper's leader re-adds every session with a fresh deadline), and owners are learnt again.
        _owners.Clear();
        _adoptedThrough = null;
        AdoptAll();
        foreach (var session in _tracker.Sessions)
            _tracker.Touch(session);
    }

    /// <summary>
    /// Tracks every session of the tree (created through another member) so the leader can expire it: a scan whenever
    /// the tree moved since the last one. Comparing counts is not enough: the tracker also holds sessions whose
    /// createSession has not committed, which would hide as many of the tree's (never expired, ephemerals kept forever).
    /// </summary>
    private void AdoptAll()
    {
        var state = _tree.State;
        if (state.Zxid == _adoptedThrough)
            return;
        foreach (var id in state.Sessions.Keys)
            Adopt(id, 0);
        // Owners of sessions that closed (neither in the tree nor being created) would stay forever otherwise.
        foreach (var id in _owners.Keys)
        {
            if (!state.Sessions.ContainsKey(id) && !_tracker.TryGet(id, out _))
                _owners.TryRemove(id, out _);
        }

        _adoptedThrough = state.Zxid;
    }

    /// <summary>The tracked session, or one of the tree's added to the tracker (touched now); null if neither has it.</summary>
    private ServerSession? Adopt(SessionId sessionId, int timeoutMillis)
    {
        if (_tracker.TryGet(sessionId, out var known))
            return known;
        if (_tree.State.Sessions.TryGetValue(sessionId, out var entry))
            timeoutMillis = entry.TimeoutMillis;
        else if (timeoutMillis == 0)
            return null;
        var session = new ServerSession(sessionId, _tracker.PasswordFor(sessionId), timeoutMillis, SessionTracker.LocalIds);
        _tracker.Add(session);
        return session;
    }

    private static byte[] Pack(IReadOnlyList<SessionId> ids)
    {
        var bytes = new byte[ids.Count * 8];
        for (var i = 0; i < ids.Count; i++)
            BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(i * 8), ids[i].Value);
        return bytes;
    }
}
