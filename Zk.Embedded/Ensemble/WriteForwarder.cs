using Microsoft.Extensions.Logging;
using Zk.Embedded.Api;
using Zk.Embedded.Consensus;
using Zk.Embedded.Processing;
using Zk.Embedded.Sessions;

namespace Zk.Embedded.Ensemble;

/// <summary>
/// Where a write submitted on a member goes (<see cref="SubmitAsync"/>): into the leader's own pipeline, or, on a
/// learner, to the leader (ZooKeeper's FollowerRequestProcessor and Learner.request). There the follower's publisher
/// expects the txn by (SessionId, Cxid) and the request goes out as a REQUEST on the driver's loop; the leader's
/// driver hands it to its proposer with the original session and cxid. A request that makes a txn is answered on the
/// follower when that txn commits there; one that makes none (an error the leader's proposer decided, sync, a watch
/// change, a close of a closed session) is answered by a <see cref="ForwardedReply"/>, which the follower gives once
/// it has published the state the leader checked (per-session FIFO, as CommitProcessor). It sees its member through
/// <see cref="IConsensusView"/> and <see cref="IReplicaView"/>, which is how the deterministic simulator runs it.
/// </summary>
/// <remarks>
/// The leader sends that reply as its proposer decides it, ahead of the batch's proposals, so on the ordered channel
/// no later txn of the session overtakes it; the follower gives it once it has published the state the leader
/// checked. The transport may lose a message without closing the link (a full queue), and nothing resends client
/// traffic: the learner numbers its requests in a stream per leader, and once a tick while writes wait it asks the
/// leader whether they all arrived and how many replies it sent (<see cref="ForwardMark"/>); a gap either way fails
/// the waiting writes with ConnectionLoss at once, as a ZooKeeper follower whose leader link breaks does, instead of
/// after the answer bound.
/// </remarks>
internal sealed class WriteForwarder
{
    private readonly IConsensusView _driver;
    private readonly IReplicaView _tree;
    private readonly GlobalSessions _sessions;
    private readonly ILogger _logger;
    private readonly int _answerTicks;

    /// <summary>Forwarded writes in the order sent, with the tick each went out on; the driver's loop only.</summary>
    private readonly Queue<(long Tick, Tracked Target)> _inFlight = new();
    private long _tick;

    // A learner's stream of requests to its leader (the driver's loop only): 0 until the first write to that leader,
    // and again after a role change or a loss, so the next write starts a new one.
    private long _stream;
    private int _streamLeader;
    private long _sent;
    private long _repliesReceived;

    /// <summary>The leader's record of each learner's newest stream (the driver's loop only; cleared at a role change).</summary>
    private readonly Dictionary<int, InboundStream> _inbound = [];

    /// <param name="answerTicks">
    /// ticks a forwarded write may wait for its answer while the leader stays; past that its request or reply is taken
    /// as lost (the transport may lose messages and nothing resends client traffic) and the waiting writes fail.
    /// </param>
    public WriteForwarder(IConsensusView driver, IReplicaView tree, GlobalSessions sessions, int answerTicks, ILogger logger)
    {
        (_driver, _tree, _sessions, _answerTicks, _logger) = (driver, tree, sessions, answerTicks, logger);
        driver.TrafficReceived += OnTraffic;
        driver.PeerDisconnected += OnDisconnected;
        driver.RoleChanged += _ =>
        {
            _stream = 0;
            _inbound.Clear();
        };
    }

    /// <summary>
    /// A write submitted on this member: the leader takes it into its pipeline (unless its session is attached to
    /// another member: SessionMoved); a serving learner forwards it to the leader and answers its target when the
    /// outcome is published here; a member that does not serve fails it with ConnectionLoss.
    /// </summary>
    public ValueTask SubmitAsync(PendingWrite write, CancellationToken cancellationToken = default)
    {
        if (_tree.Writes is { } writes)
        {
            try
            {
                _sessions.CheckLocal(write);
            }
            catch (ZkException e)
            {
                var state = _tree.State;
                write.Target?.Complete(new Reply(e.Code, write.Request.ErrorPath, null, state.Zxid, state));
                return ValueTask.CompletedTask;
            }

            return writes.SubmitAsync(write, cancellationToken);
        }

        var status = _driver.Current;
        if (status is { IsServing: true, Leader: { } leader } && leader != _driver.Id)
            return ForwardAsync(write, leader);
        return ValueTask.FromException(new ZkException(ZkErrorCode.ConnectionLoss, write.Request.ErrorPath,
            $"Server {_driver.Id} is {status.State} and serves no clients: it has no established leader."));
    }

    /// <summary>Sends <paramref name="write"/> to the leader; its target hears the outcome (ConnectionLoss if the leader goes).</summary>
    private ValueTask ForwardAsync(PendingWrite write, int leader)
    {
        byte[] body;
        try
        {
            body = ForwardCodec.EncodeRequest(write.Request, write.AuthIds ?? write.Session.AuthIds);
        }
        catch (ArgumentException e)
        {
            return ValueTask.FromException(new ZkException(ZkErrorCode.Unimplemented, write.Request.ErrorPath, e.Message));
        }

        if (!_driver.Run(() => Send(write, leader, body)))
            return ValueTask.FromException(Lost(write, "the peer is stopping"));
        return ValueTask.CompletedTask;
    }

    private void Send(PendingWrite write, int leader, byte[] body)
    {
        var status = _driver.Current;
        if (!status.IsServing || status.Leader != leader || _tree.Writes is not null)
        {
            Fail(write, $"server {leader} no longer leads this member's epoch");
            return;
        }

        // A claim the leader has not answered goes again just ahead of the write, in the same frame to the leader (both
        // lost or both delivered, in order): a lost claim no longer fails the client's writes with SessionMoved until
        // its repeat at the next tick (the simulator's remaining SessionMoved were all that). ZooKeeper's learner holds
        // the reconnect until the leader answers its REVALIDATE, over a link that never loses a message.
        if (_sessions.UnansweredClaim(write.Session.SessionId) is { } claim)
            _driver.SendTraffic(leader, claim);
        if (_stream == 0 || _streamLeader != leader)
            (_stream, _streamLeader, _sent, _repliesReceived) = (_sessions.NextId(), leader, 0, 0);
        // Expected only once queued: a txn is applied on this same loop, so it cannot commit in between.
        if (!_driver.SendTraffic(leader, new ForwardedRequest(write.Session.SessionId, write.Cxid, body, _stream, _sent + 1)))
        {
            Fail(write, $"the transport refused the request to server {leader} (its queue is full)");
            return;
        }

        _sent++;

        var tracked = new Tracked(write.Target);
        _inFlight.Enqueue((_tick, tracked));
        _tree.Follower.ExpectTxn(write with { Target = tracked });
    }

    /// <summary>
    /// Every tick, on the driver's loop: a forwarded write unanswered for longer than the answer bound means a request
    /// or reply was lost on a link that did not drop (ZooKeeper's TCP would have resent it, or closed and made the
    /// follower give up its pending requests): every waiting write fails with ConnectionLoss, as on a lost connection.
    /// </summary>
    public void OnTick()
    {
        _tick++;
        while (_inFlight.TryPeek(out var head) && head.Target.Answered)
            _inFlight.Dequeue();
        if (_inFlight.Count == 0)
            return;
        if (_tick - _inFlight.Peek().Tick <= _answerTicks)
        {
            if (_stream != 0 && _driver.Current is { IsServing: true, Leader: { } leader } && leader == _streamLeader)
                _driver.SendTraffic(leader, new ForwardMark(_stream, _sent));
            return;
        }

        Log.ForwardsUnanswered(_logger, _driver.Id, _answerTicks, _tree.Follower.WaitingCount);
        FailAllWaiting("unanswered");
    }

    /// <summary>
    /// Fails every forwarded write still waiting here with ConnectionLoss, counted by <paramref name="reason"/>; what
    /// was lost is behind them, so the next write starts a new stream.
    /// </summary>
    private void FailAllWaiting(string reason)
    {
        Telemetry.ForwardsFailed.Add(_tree.Follower.WaitingCount, new KeyValuePair<string, object?>("reason", reason));
        _stream = 0;
        _inFlight.Clear();
        _tree.Follower.FailWaiting();
    }

    /// <summary>
    /// The connection to the leader dropped: a request or reply in flight may be lost, and nothing resends it, so every
    /// forwarded write still waiting here fails with ConnectionLoss (its outcome is unknown; its txn may still commit),
    /// as a ZooKeeper follower whose leader socket closes drops its pending requests. The core stays with the leader
    /// if its own limits allow; later writes are forwarded afresh.
    /// </summary>
    private void OnDisconnected(int peer)
    {
        if (peer == _streamLeader)
            _stream = 0;   // what the link lost is failed here: the next write starts a stream with no gap in it
        if (_tree.Writes is not null || _driver.Current.Leader != peer || _tree.Follower.WaitingCount == 0)
            return;
        Log.ForwardsLost(_logger, _driver.Id, peer, _tree.Follower.WaitingCount);
        FailAllWaiting("disconnected");
    }

    private void OnTraffic(int from, ClientTraffic traffic)
    {
        try
        {
            switch (traffic)
            {
                case ForwardedRequest request:
                    OnRequest(from, request);
                    break;
                case ForwardedReply reply when _driver.Current.Leader == from:
                    if (reply.Stream == _stream && from == _streamLeader)
                        _repliesReceived++;
                    var answer = ForwardCodec.DecodeReply(reply.Body);
                    _tree.Follower.Answer(reply.SessionId, reply.Cxid, answer.ToReply);
                    break;
                case SessionActivity activity:
                    _sessions.OnActivity(activity);
                    break;
                case SessionClaim claim:
                    _sessions.OnClaim(from, claim);
                    break;
                case SessionClaimAck claimAnswer when _driver.Current.Leader == from:
                    _sessions.OnClaimAnswer(claimAnswer);
                    break;
                case ForwardMark mark:
                    OnMark(from, mark);
                    break;
                case ForwardMarkAck markAnswer when _driver.Current.Leader == from:
                    OnMarkAnswer(from, markAnswer);
                    break;
            }
        }
        catch (InvalidDataException e)
        {
            // Lost like an undecodable message; the learner's caller hears ConnectionLoss when the leader changes.
            Log.UndecodableTraffic(_logger, e, _driver.Id, from);
        }
    }

    /// <summary>
    /// The leader's side, on the driver's loop: a learner asks whether its stream's requests all arrived. Every request
    /// it sent before the question precedes it on the ordered link, so what is not here by now was lost; so was any
    /// reply this leader sent on the stream that the learner has not received by the time it reads the answer.
    /// </summary>
    private void OnMark(int from, ForwardMark mark)
    {
        if (_tree.Writes is null)
            return;   // not leading: the learner's answer bound, or its role change, deals with its writes
        var known = _inbound.TryGetValue(from, out var stream) && stream.Id == mark.Stream;
        var intact = known ? !stream!.Broken && stream.Received == mark.SentThrough : mark.SentThrough == 0;
        _driver.SendTraffic(from, new ForwardMarkAck(mark.Stream, mark.SentThrough, intact, known ? stream!.Replied : 0));
    }

    /// <summary>On a learner, on the driver's loop: the leader's answer to its mark; a gap fails the waiting writes.</summary>
    private void OnMarkAnswer(int from, ForwardMarkAck answer)
    {
        if (answer.Stream != _stream || from != _streamLeader || (answer.Intact && answer.Replied == _repliesReceived))
            return;
        Log.ForwardsLostOnLink(_logger, _driver.Id, from, answer.Intact ? "all arrived" : "lost", _repliesReceived, answer.Replied, _tree.Follower.WaitingCount);
        FailAllWaiting("link_gap");
    }

    /// <summary>Replies this leader sent on <paramref name="learner"/>'s newest request stream (tests; on the driver's loop).</summary>
    internal long RepliesSent(int learner) => _inbound.TryGetValue(learner, out var stream) ? stream.Replied : 0;

    /// <summary>
    /// The leader's side, on the driver's loop: notes a forwarded request in its learner's stream (a number out of
    /// order means one was lost); null for a request of a stream older than the newest seen (not counted).
    /// </summary>
    private InboundStream? Receive(int from, ForwardedRequest forwarded)
    {
        if (forwarded.Stream == 0)
            return null;
        if (!_inbound.TryGetValue(from, out var stream) || forwarded.Stream > stream.Id)
            _inbound[from] = stream = new InboundStream(forwarded.Stream);
        else if (forwarded.Stream < stream.Id)
            return null;
        if (forwarded.Seq != stream.Received + 1)
            stream.Broken = true;
        stream.Received = Math.Max(stream.Received, forwarded.Seq);
        return stream;
    }

    /// <summary>The leader's side: into its pipeline with the learner's session and cxid, or refused at once.</summary>
    private void OnRequest(int from, ForwardedRequest forwarded)
    {
        var target = new RemoteReply(_driver, from, forwarded.SessionId, forwarded.Cxid, Receive(from, forwarded));
        if (_tree.Writes is not { } writes)
        {
            target.Send(new Reply(ZkErrorCode.ConnectionLoss, null, null, default, null!));
            return;
        }

        var (request, ids) = ForwardCodec.DecodeRequest(forwarded.Body);
        if (_sessions.MovedFrom(forwarded.SessionId, from) is { } owner)
        {
            // PrepRequestProcessor's checkSession: the session now belongs to another server.
            target.Send(new Reply(ZkErrorCode.SessionMoved, request.ErrorPath, null, default, null!));
            Log.SessionMoved(_logger, forwarded.SessionId, from, owner);
            return;
        }

        var session = _sessions.ForRequest(forwarded.SessionId, request, from);
        writes.Post(new PendingWrite(session, request, target, ids, forwarded.Cxid));
    }

    private void Fail(PendingWrite write, string reason)
    {
        var state = _tree.State;
        Log.ForwardFailed(_logger, write.Session.SessionId, write.Cxid, reason);
        write.Target?.Complete(new Reply(ZkErrorCode.ConnectionLoss, write.Request.ErrorPath, null, state.Zxid, state));
    }

    private static ZkException Lost(PendingWrite write, string reason) =>
        new(ZkErrorCode.ConnectionLoss, write.Request.ErrorPath, $"The write could not be forwarded: {reason}.");

    /// <summary>A forwarded write's reply target that notes it was answered, for the answer bound.</summary>
    private sealed class Tracked(IReplyTarget? target) : IReplyTarget
    {
        private volatile bool _answered;

        public bool Answered => _answered;

        public void Complete(in Reply reply)
        {
            _answered = true;
            target?.Complete(reply);
        }
    }

    /// <summary>
    /// On the leader: sends the answer of a forwarded request that made no txn back to its learner, as soon as the
    /// proposer decides it (<see cref="IRemoteReplyTarget"/>), or when the pipeline fails it otherwise (it stopped).
    /// Every answer without a txn is decided so; a success that comes to <see cref="Complete"/> is a txn's, which its
    /// COMMIT answers on the learner.
    /// </summary>
    private sealed class RemoteReply(IConsensusView driver, int learner, SessionId sessionId, int cxid, InboundStream? stream) : IRemoteReplyTarget
    {
        private volatile bool _sent;

        public void Decided(in Reply reply) => Send(reply);

        public void Complete(in Reply reply)
        {
            if (!_sent && reply.IsError)
                Send(reply);
        }

        public void Send(in Reply reply)
        {
            _sent = true;
            var body = ForwardCodec.EncodeReply(reply);
            // Numbered on the loop as it goes out, so a mark's answer counts exactly the replies ahead of it.
            driver.Run(() => driver.SendTraffic(learner, new ForwardedReply(sessionId, cxid, body, stream?.Id ?? 0, stream is null ? 0 : ++stream.Replied)));
        }
    }

    /// <summary>The leader's record of a learner's request stream: the newest number received, whether one was skipped, replies sent.</summary>
    private sealed class InboundStream(long id)
    {
        public long Id { get; } = id;
        public long Received { get; set; }
        public bool Broken { get; set; }
        public long Replied { get; set; }
    }
}
