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
/// A client that attaches its session to a learner makes the learner claim it (<see cref="SessionClaim"/>, ZooKeeper's
/// REVALIDATE), repeated every tick until the leader answers (the transport may lose the claim) and sent again ahead of
/// each write of the session forwarded meanwhile (<see cref="UnansweredClaim"/>); the client's connect is answered
/// once the leader has answered the claim, a tick at most (<see cref="ClaimAnswered"/>). Each attachment's
/// claim has an id of its own, and the leader keeps the claims it let go when another member's took the session, so a
/// late repeat of an old claim (sent before its client moved on, delivered after the new member's) never takes the
/// session back; a claimant told its claim was let go claims again only if its client is still there.
/// Ticks and traffic run on the driver's loop; the tracker and the owner table are safe from any thread.
/// </summary>
internal sealed class GlobalSessions
{
    private readonly IConsensusView _driver;
    private readonly IReplicaView _tree;
    private readonly SessionTracker _tracker;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<SessionId, Owner> _owners = new();
    private readonly ConcurrentDictionary<(SessionId Session, int Member, long Claim), long> _letGo = new();   // the leader's: claims another member's replaced, and the tick they were
    private readonly ConcurrentDictionary<SessionId, Claim> _claims = new();   // a learner's: sessions clients attached here
    private readonly HashSet<SessionId> _claimedAgainThisTick = [];   // on the driver's loop: see OnClaimAnswer and TellLetGo
    private long _lastClaimId;
    private long _ticks;   // the loop's
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
        var owner = _owners.GetOrAdd(sessionId, new Owner(from, Claim: 0)).Member;
        return owner != from ? owner : null;
    }

    /// <summary>Sessions whose owner the leader knows (tests: closed sessions must not stay).</summary>
    internal int OwnerCount => _owners.Count;

    /// <summary>On the leader: the session a forwarded request runs as (known, adopted from the tree, or being created).</summary>
    public ServerSession ForRequest(SessionId sessionId, PipelineRequest request, int from)
    {
        if (request is CreateSessionRequest)
            _owners[sessionId] = new Owner(from, Claim: 0);
        var timeout = request is CreateSessionRequest create ? create.TimeoutMillis : 0;
        var session = Adopt(sessionId, timeout) ?? new ServerSession(sessionId, _tracker.PasswordFor(sessionId), timeout, []);
        _tracker.Touch(session);
        return session;
    }

    /// <summary>A write submitted on this member while it leads: the session must not have moved to another member.</summary>
    public void CheckLocal(PendingWrite write)
    {
        if (write.Request is CreateSessionRequest)
            _owners[write.Session.SessionId] = new Owner(_driver.Id, Claim: 0);
        else if (!write.Session.IsSystem && MovedFrom(write.Session.SessionId, _driver.Id) is { } owner)
            throw new ZkException(ZkErrorCode.SessionMoved, write.Request.ErrorPath,
                $"Session {write.Session.SessionId} moved to server {owner}: write through the server it is attached to.");
    }

    /// <summary>
    /// A client reattaches its session here (ZooKeeper's reconnect with a session id and password). Refused with
    /// ConnectionLoss when this member does not serve or is behind what the client has seen, as ZooKeeper's
    /// "Refusing session request ... client must try another server"; SessionExpired when the session is gone or the
    /// password is wrong. The leader learns the move, so writes through the old member fail with SessionMoved.
    /// Null on a learner that does not know the session (with the right password): its createSession may not have
    /// reached this member yet, and a client that has seen only its connect answered names no zxid to refuse on. The
    /// caller brings this member up to its leader's commit point (a read index) and asks again, where ZooKeeper's
    /// learner asks its leader (REVALIDATE); only the leader, whose tracker holds every live session, answers
    /// SessionExpired for an unknown one at once.
    /// </summary>
    public ServerSession? Reattach(SessionId sessionId, ReadOnlySpan<byte> password, Zxid lastZxidSeen)
    {
        var status = _driver.Current;
        if (!status.IsServing || status.Leader is not { } leader)
            throw new ZkException(ZkErrorCode.ConnectionLoss, null, $"Server {_driver.Id} is {status.State} and serves no clients now.");
        var zxid = _tree.State.Zxid;
        if (lastZxidSeen > zxid)
            throw new ZkException(ZkErrorCode.ConnectionLoss, null,
                $"Refusing session request for client as it has seen zxid {lastZxidSeen} our last zxid is {zxid} client must try another server");
        var passwordMatches = _tracker.PasswordMatches(sessionId, password);
        var known = passwordMatches ? Adopt(sessionId, 0) : null;
        if (known is null && passwordMatches && leader != _driver.Id)
            return null;
        if (known is not { IsClosing: false } session)
            throw new ZkException(ZkErrorCode.SessionExpired, null, $"Session {sessionId} has expired or its password does not match.");
        _tracker.Touch(session);
        if (leader == _driver.Id)
        {
            if (TakeOver(sessionId, leader, NextId()) is { } replaced)
                _driver.Run(() => TellLetGo(sessionId, replaced));
        }
        else
        {
            // Claimed at once, and again every tick until the leader answers (ReportActivity): the transport may lose
            // the claim, and a leader that never learnt the move would refuse every write of the session through this
            // member with SessionMoved (the simulator's scenarios found it: seed 639).
            var claim = new Claim(NextId(), Held: false, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
            if (_claims.TryGetValue(sessionId, out var earlier))
                earlier.Answered?.TrySetResult();   // that attachment's wait need not go on: this claim replaces it
            _claims[sessionId] = claim;
            _driver.Run(() => _driver.SendTraffic(leader, new SessionClaim(sessionId, claim.Id)));
        }

        return session;
    }

    /// <summary>On the leader: a learner's report of session activity.</summary>
    public void OnActivity(SessionActivity activity)
    {
        if (_tree.Writes is null)
            return;
        var span = activity.SessionIds.Span;
        for (var i = 0; i + 8 <= span.Length; i += 8)
            TouchKnown(new SessionId(BinaryPrimitives.ReadInt64LittleEndian(span[i..])));
    }

    /// <summary>On the leader: a session a learner heard from gets a fresh deadline (tracked, or adopted from the tree).</summary>
    private void TouchKnown(SessionId sessionId)
    {
        if (Adopt(sessionId, 0) is { } session)
            _tracker.Touch(session);
    }

    /// <summary>
    /// On the leader, on the driver's loop: a learner claims a session its client attached to. A claim this leader let
    /// go when another member's replaced it is a late repeat and changes nothing; any other takes the session over.
    /// Either way the claimant hears which it was.
    /// </summary>
    public void OnClaim(int from, SessionClaim claim)
    {
        if (_tree.Writes is null)
            return;
        var held = !_letGo.ContainsKey((claim.SessionId, from, claim.ClaimId));
        if (held)
        {
            TouchKnown(claim.SessionId);
            if (TakeOver(claim.SessionId, from, claim.ClaimId) is { } replaced)
                TellLetGo(claim.SessionId, replaced);
        }

        _driver.SendTraffic(from, new SessionClaimAck(claim.SessionId, claim.ClaimId, held));
    }

    /// <summary>
    /// Tells a learner its claim was replaced: a claim that reached this leader late (its client had moved on before
    /// it ever arrived) can take a session from the member the client is on now, and that member must claim again.
    /// When that member is this leader, another member holds the session now (a reattach here that replaced this
    /// leader's own earlier claim leaves nothing to take back) and the session's connection is still open here, it takes the session back
    /// itself, once a tick at most, as a learner does (<see cref="OnClaimAnswer"/>): until then every write of the
    /// client here failed with SessionMoved, and with no claim of its own to repeat, for as long as the client stayed.
    /// </summary>
    private void TellLetGo(SessionId sessionId, Owner replaced)
    {
        if (replaced.Member != _driver.Id)
            _driver.SendTraffic(replaced.Member, new SessionClaimAck(sessionId, replaced.Claim, Held: false));
        else if (_owners.TryGetValue(sessionId, out var now) && now.Member != _driver.Id
            && _tracker.TryGet(sessionId, out var session) && session.Sink is not null && _claimedAgainThisTick.Add(sessionId)
            && TakeOver(sessionId, _driver.Id, NextId()) is { } learner && learner.Member != _driver.Id)
            _driver.SendTraffic(learner.Member, new SessionClaimAck(sessionId, learner.Claim, Held: false));
    }

    /// <summary>
    /// On a learner, on the driver's loop: the leader's answer to a claim. Held: no more repeats. Let go (a later
    /// claim of another member took the session): claimed afresh if the client is still attached here, else
    /// forgotten. The first time in a tick the new claim goes at once, not at the next tick: until the leader has it,
    /// every write of the client through this member fails with SessionMoved, which clients do not retry (kazoo failed
    /// a create so across a leader's SIGKILL, tickTime 500). Later ones wait for the tick, so two members that both
    /// hold a connection of the session take turns once a tick, as before, instead of as fast as the links go.
    /// </summary>
    public void OnClaimAnswer(SessionClaimAck answer)
    {
        if (!_claims.TryGetValue(answer.SessionId, out var claim) || claim.Id != answer.ClaimId)
            return;   // an answer to an earlier claim of a later attachment here
        claim.Answered?.TrySetResult();
        if (answer.Held)
            _claims.TryUpdate(answer.SessionId, claim with { Held = true }, claim);
        else if (_tracker.TryGet(answer.SessionId, out var session) && session.Sink is not null)
        {
            var again = new Claim(NextId(), Held: false);
            if (_claims.TryUpdate(answer.SessionId, again, claim) && _driver.Current.Leader is { } leader && leader != _driver.Id
                && _claimedAgainThisTick.Add(answer.SessionId))
                _driver.SendTraffic(leader, new SessionClaim(answer.SessionId, again.Id));
        }
        else
            _claims.TryRemove(new KeyValuePair<SessionId, Claim>(answer.SessionId, claim));
    }

    /// <summary>
    /// Makes <paramref name="member"/> the session's owner under <paramref name="claim"/>; the claim it replaces is let
    /// go, so a late repeat of it is ignored, and returned, so its member can be told. Any thread (the leader's own
    /// reattach runs on its connection's).
    /// </summary>
    private Owner? TakeOver(SessionId sessionId, int member, long claim)
    {
        var owner = new Owner(member, claim);
        Owner? replaced = null;
        _owners.AddOrUpdate(sessionId, owner, (_, previous) =>
        {
            replaced = previous != owner && previous.Claim != 0 ? previous : null;
            if (replaced is { } letGo)
                _letGo[(sessionId, letGo.Member, letGo.Claim)] = Volatile.Read(ref _ticks);
            return owner;
        });
        return replaced;
    }

    /// <summary>
    /// An id this member never gave before, even across a restart (the clock has moved on by then): its claims' ids
    /// (the leader compares claims of one member for equality only) and the write forwarder's request streams (the
    /// leader takes a larger one for a newer stream, <see cref="WriteForwarder"/>). The simulator's clock keeps it
    /// deterministic.
    /// </summary>
    internal long NextId()
    {
        var now = _time.GetUtcNow().UtcTicks;
        while (true)
        {
            var last = Volatile.Read(ref _lastClaimId);
            var next = Math.Max(last + 1, now);
            if (Interlocked.CompareExchange(ref _lastClaimId, next, last) == last)
                return next;
        }
    }

    /// <summary>
    /// On a learner: this member's claim of <paramref name="sessionId"/> the leader has not answered yet, to send again
    /// with a write of the session (<see cref="WriteForwarder"/>); null when there is none.
    /// </summary>
    public SessionClaim? UnansweredClaim(SessionId sessionId) =>
        _claims.TryGetValue(sessionId, out var claim) && !claim.Held ? new SessionClaim(sessionId, claim.Id) : null;

    /// <summary>
    /// On a learner: completes once the leader has answered the claim the session's last reattach here made (held, or
    /// let go to a later claim), or once there is nothing to wait for (no claim, this member leads or lost its leader,
    /// the session ended). A reattach holds its connect reply on it, as ZooKeeper's REVALIDATE does, so the client's
    /// first write cannot reach the leader before the move (<see cref="EnsembleMember.ClaimAnsweredAsync"/>).
    /// </summary>
    public Task ClaimAnswered(SessionId sessionId) =>
        _claims.TryGetValue(sessionId, out var claim) && claim.Answered is { } answered ? answered.Task : Task.CompletedTask;

    /// <summary>Every tick, on the driver's loop: the leader expires, a serving learner reports activity.</summary>
    public void OnTick()
    {
        var status = _driver.Current;
        Volatile.Write(ref _ticks, _ticks + 1);
        _claimedAgainThisTick.Clear();
        if (_tree.Writes is { } writes)
        {
            AdoptAll();
            ForgetOldLetGo();
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
        foreach (var session in _tracker.Sessions)
        {
            if (!session.IsSystem && session.LastHeardTimestamp >= since)
                touched.Add(session.SessionId);
        }

        if (touched.Count > 0)
            _driver.SendTraffic(leader, new SessionActivity(Pack(touched)));
        // Claims the leader has not answered are repeated while their client is attached here (its connection open).
        foreach (var (id, claim) in _claims)
        {
            if (!_tracker.TryGet(id, out var session))
            {
                if (_claims.TryRemove(id, out var ended))   // closed or expired
                    ended.Answered?.TrySetResult();
            }
            else if (!claim.Held && session.Sink is not null)
                _driver.SendTraffic(leader, new SessionClaim(id, claim.Id));
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
        // Whoever leads next learns the sessions attached here afresh: every claim is repeated to it. A reattach waiting
        // for its leader's answer waits no more: that leader may never give it.
        foreach (var (id, claim) in _claims)
        {
            claim.Answered?.TrySetResult();
            _claims.TryUpdate(id, claim with { Held = false }, claim);
        }
        if (change is not { State: ServerState.Leading, Phase: ZabPhase.Broadcast })
            return;
        // A new leader does not know when sessions were last heard from: each gets its full timeout from now
        // (ZooKeeper's leader re-adds every session with a fresh deadline), and owners are learnt again.
        _owners.Clear();
        _letGo.Clear();
        _claims.Clear();
        _adoptedThrough = null;
        AdoptAll();
        foreach (var session in _tracker.Sessions)
            _tracker.Touch(session);
    }

    /// <summary>Ticks a let-go claim is remembered: a late repeat comes from a member's link within a few ticks of the move.</summary>
    internal const int LetGoTicks = 1_000;

    /// <summary>
    /// Forgets let-go claims older than <see cref="LetGoTicks"/>, so a session that moves often does not grow the set
    /// for its lifetime. A repeat later than that (held in a link's queue through a long partition) takes the session
    /// for one tick at most: the member the client is on is told and claims it again.
    /// </summary>
    private void ForgetOldLetGo()
    {
        foreach (var (key, tick) in _letGo)
        {
            if (_ticks - tick > LetGoTicks)
                _letGo.TryRemove(key, out _);
        }
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

        foreach (var key in _letGo.Keys)
        {
            if (!state.Sessions.ContainsKey(key.Session) && !_tracker.TryGet(key.Session, out _))
                _letGo.TryRemove(key, out _);
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

    /// <summary>The member a session is attached to, and the claim that attached it there (0: created or first written through it).</summary>
    private readonly record struct Owner(int Member, long Claim);

    /// <summary>
    /// A learner's claim of a session attached here, whether the leader has answered it held, and what the reattach that
    /// made it waits on (completed by the leader's answer, either way).
    /// </summary>
    private readonly record struct Claim(long Id, bool Held, TaskCompletionSource? Answered = null);
}
