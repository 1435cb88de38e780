using Microsoft.Extensions.Logging;
using Zk.Embedded.Api;
using Zk.Embedded.Sessions;
using Zk.Embedded.Tree;
using Zk.Embedded.Txns;
using Zk.Embedded.Watches;

namespace Zk.Embedded.Processing;

/// <summary>
/// The last stage of the pipeline, which every peer runs, leader or follower (ZooKeeper's CommitProcessor and
/// FinalRequestProcessor): takes committed txns in zxid order, applies each to the published state (or reuses the
/// proposer's state for the same zxid), fires its watches, publishes the state, ends sessions, and answers the waiting
/// request it belongs to, found by (SessionId, Cxid). One thread at a time.
/// </summary>
internal sealed class Publisher
{
    private readonly WatchManager _watches;
    private readonly SessionTracker _sessions;
    private readonly ICommitStage _commit;
    private readonly ILogger _logger;
    private readonly WaitingRequests _waiting = new();
    private readonly List<WatchTrigger> _ownTriggers = new(16);
    private readonly Action<Waiting, Reply> _complete;
    private TreeState _state;
    private TreeState _firingState;

    public Publisher(TreeState initial, WatchManager watches, SessionTracker sessions, ICommitStage commit, ILogger logger)
    {
        _state = _firingState = initial;
        _watches = watches;
        _sessions = sessions;
        _commit = commit;
        _logger = logger;
        _complete = Complete;
    }

    /// <summary>The newest published state: what reads see.</summary>
    public TreeState State => Volatile.Read(ref _state);

    /// <summary>The state whose watches are firing or have fired: at or ahead of <see cref="State"/>.</summary>
    public TreeState FiringState => Volatile.Read(ref _firingState);

    /// <summary>Requests waiting for their outcome; on the publisher's thread (a follower: the driver's loop).</summary>
    internal int WaitingCount => _waiting.Count;

    /// <summary>A request whose outcome is to come: its txn (when <paramref name="step"/> has one) or its state's publishing.</summary>
    public void Expect(in Step step) => _waiting.Add(new Waiting(step.Write, step.Reply, step.Txn is not null));

    /// <summary>
    /// A request whose txn another peer will propose (a follower's forwarded write): answered when the committed txn
    /// with its session and cxid comes back through <see cref="Publish(Txn)"/>, with a reply built here.
    /// </summary>
    public void ExpectTxn(PendingWrite write) => _waiting.Add(new Waiting(write, default, HasTxn: true, Forwarded: true));

    /// <summary>
    /// Publishes a committed batch this peer proposed: registers its requests, then publishes each txn with the
    /// proposer's state and triggers for it (each checked to belong to the txn's zxid). With <paramref name="upTo"/>,
    /// only the txns up to it: a batch of which only a prefix committed before the commit stage failed (a leader that
    /// lost its quorum in the middle of it). The core has applied that prefix, so the tree must hold it; the requests
    /// behind it stay registered, for <see cref="FailWaiting"/>.
    /// </summary>
    public void PublishBatch(ProposedBatch batch, Zxid? upTo = null)
    {
        foreach (var step in batch.Steps)
        {
            Expect(step);
        }

        batch.Registered = true;
        AnswerWithoutTxn();
        foreach (var step in batch.Steps)
        {
            if (step.Txn is { } txn)
            {
                if (txn.Zxid > upTo)
                {
                    return;
                }

                Publish(txn, step.Reply.State, batch.Triggers, step.FirstTrigger, step.TriggerCount);
            }
        }
    }

    /// <summary>Publishes a committed txn this peer did not prepare (a follower's path): applied here to the published state.</summary>
    public void Publish(Txn txn) => Publish(txn, null, _ownTriggers, 0, 0);

    /// <summary>
    /// The leader's answer to a forwarded request that made no txn (an error, sync): given once the state the leader
    /// checked is published here and the session's earlier requests are answered. False when nothing waits for it.
    /// </summary>
    public bool Answer(SessionId sessionId, int cxid, Func<PipelineRequest, Reply> answer)
    {
        if (!_waiting.Resolve(sessionId, cxid, answer))
            return false;
        AnswerWithoutTxn();
        return true;
    }

    /// <summary>Answers every waiting request with ConnectionLoss: the pipeline stopped.</summary>
    public void FailWaiting() => _waiting.FailAll(ZkErrorCode.ConnectionLoss, State, _complete);

    /// <summary>
    /// Publishes one txn. It is committed by now, so its state is published whatever happens; an exception while firing
    /// a watch, ending a session or completing the reply is logged and publishing goes on (one bad watcher or reply
    /// target must not stop every other session's writes). A broken invariant throws before anything changes.
    /// </summary>
    private void Publish(Txn txn, TreeState? prepared, List<WatchTrigger> triggers, int firstTrigger, int triggerCount)
    {
        var before = _state;
        CheckPublishable(txn, before);
        var next = prepared;
        if (next is null || next.Zxid != txn.Zxid)
        {
            // Not prepared here (or not for this zxid): apply it, as every follower and every replay does.
            triggers = _ownTriggers;
            triggers.Clear();
            next = TxnApplier.Apply(before, txn, triggers);
            (firstTrigger, triggerCount) = (0, triggers.Count);
        }

        var answers = _waiting.TryTakeFor(txn, out var waiting);
        var session = answers ? waiting.Write.Session : _sessions.TryGet(txn.SessionId, out var known) ? known : null;
        var closing = txn.Op is CloseSessionTxn;
        // A close its client did not ask for is an expiry (the leader's, or ours): that client hears nothing more.
        var expired = closing && !(answers && waiting.Write.Request is CloseSessionRequest { Expired: false });
        if (expired && session is not null)
        {
            _watches.RemoveSession(session);
        }

        Volatile.Write(ref _firingState, next);
        for (var i = 0; i < triggerCount; i++)
        {
            try
            {
                _watches.Trigger(triggers[firstTrigger + i], txn.Zxid);
            }
            catch (Exception e)
            {
                Log.PublishFailed(_logger, e, "firing watches", txn.Zxid, txn.SessionId);
            }
        }

        Volatile.Write(ref _state, next);
        Telemetry.TxnsCommitted.Add(1);
        if (closing)
        {
            EndSession(session, txn, expired);
        }

        if (answers)
        {
            var reply = waiting.Reply.Zxid == txn.Zxid && ReferenceEquals(waiting.Reply.State, next)
                ? waiting.Reply
                : new Reply(ZkErrorCode.Ok, null, TxnResults.Of(txn, before, next), txn.Zxid, next);
            Complete(waiting, reply);
        }

        AnswerWithoutTxn();
    }

    /// <summary>The seam's invariants: zxids strictly increase at publish and apply, and only what is committed is published.</summary>
    private void CheckPublishable(Txn txn, TreeState before)
    {
        if (txn.Zxid <= before.Zxid)
        {
            throw new TxnInvariantException(
                $"Txn {txn.Zxid} does not follow the published state at {before.Zxid}: zxids must strictly increase where txns are applied and published.");
        }

        var committed = _commit.CommittedZxid;
        if (txn.Zxid > committed)
        {
            throw new TxnInvariantException(
                $"Txn {txn.Zxid} was to be published, but only txns up to {committed} are committed: a reply must never go out before its txn is durable.");
        }
    }

    private void EndSession(ServerSession? session, Txn txn, bool expired)
    {
        try
        {
            // A client that closes hears its own ephemerals go before the close reply, as ZooKeeper sends those
            // notifications on the connection before it answers closeSession; then its watches go.
            if (session is not null)
            {
                _watches.RemoveSession(session);
            }

            _sessions.Remove(txn.SessionId);
            Log.SessionClosed(_logger, txn.SessionId);
            session?.Sink?.OnSessionEnded(expired ? KeeperState.Expired : KeeperState.Closed);
        }
        catch (Exception e)
        {
            Log.PublishFailed(_logger, e, "ending the session", txn.Zxid, txn.SessionId);
        }
    }

    /// <summary>Answers the requests without a txn whose state is published and whose session's earlier requests are answered.</summary>
    private void AnswerWithoutTxn()
    {
        var published = _state.Zxid;
        while (_waiting.TryTakeAnswered(published, out var waiting))
        {
            var reply = waiting.Reply;
            if (reply.State is null)
            {
                reply = reply with { State = _state }; // the leader's answer to a forwarded request: our state at its zxid
            }

            if (!reply.IsError && waiting.Write.Request is AddWatchRequest or RemoveWatchesRequest)
            {
                reply = ApplyWatchRequest(waiting.Write, reply);
            }

            Complete(waiting, reply);
        }
    }

    private void Complete(Waiting waiting, Reply reply)
    {
        try
        {
            waiting.Write.Target?.Complete(reply);
        }
        catch (Exception e)
        {
            Log.PublishFailed(_logger, e, "completing the reply", reply.Zxid, waiting.Write.Session.SessionId);
        }
    }

    /// <summary>A persistent watch added or watches removed at this point of the write order; a failure answers MarshallingError.</summary>
    private Reply ApplyWatchRequest(PendingWrite write, Reply reply)
    {
        try
        {
            switch (write.Request)
            {
                case AddWatchRequest add:
                    _watches.AddPersistent(write.Session, add.Path, add.Mode);
                    break;
                case RemoveWatchesRequest remove when !_watches.Remove(write.Session, remove.Path, remove.Type, remove.CheckOnly):
                    return reply with { Error = ZkErrorCode.NoWatcher, ErrorPath = remove.Path };
            }

            return reply;
        }
        catch (Exception e)
        {
            Log.PublishFailed(_logger, e, "changing watches", reply.Zxid, write.Session.SessionId);
            return reply with { Error = ZkErrorCode.MarshallingError, ErrorPath = write.Request.ErrorPath };
        }
    }
}
