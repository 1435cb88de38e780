using Zk.Embedded.Api;
using Zk.Embedded.Tree;
using Zk.Embedded.Txns;

namespace Zk.Embedded.Processing;

/// <summary>A request waiting for its outcome: with a txn to come (<see cref="HasTxn"/>), or answered already by the proposer.</summary>
/// <param name="Reply">
/// the proposer's reply: for a txn, valid only for the txn of that zxid (<see cref="Reply.Zxid"/>); without a txn, the
/// final answer, given once the state it was checked against (<see cref="Reply.Zxid"/>) is published.
/// </param>
/// <param name="Forwarded">a follower's write another peer proposes: a txn of its session that does not match it answers nobody.</param>
internal readonly record struct Waiting(PendingWrite Write, Reply Reply, bool HasTxn, bool Forwarded = false);

/// <summary>
/// Requests waiting for their outcome, one FIFO per session, as ZooKeeper's CommitProcessor keeps them: a committed txn
/// answers the head of its session's FIFO, found by (SessionId, Cxid), whichever peer prepared it; a request that made
/// no txn (an error, sync, a watch change) is answered once the session's earlier requests are and the state it saw is
/// published. Touched by the publisher's thread only.
/// </summary>
internal sealed class WaitingRequests
{
    /// <summary>Empty FIFOs kept for reuse, at most: sessions with writes in flight at once, beyond which they are rare.</summary>
    private const int MaxSpare = 1024;

    private readonly Dictionary<SessionId, Queue<Waiting>> _bySession = [];
    private readonly Stack<Queue<Waiting>> _spare = new();

    /// <summary>
    /// The waiting requests without a txn, by session and the zxid of the state they saw, in the order they were
    /// proposed (so the zxids ascend).
    /// </summary>
    private readonly Queue<(SessionId SessionId, Zxid Zxid)> _withoutTxn = new();

    /// <summary>Requests waiting (tests).</summary>
    public int Count { get; private set; }

    public void Add(in Waiting waiting)
    {
        var sessionId = waiting.Write.Session.SessionId;
        if (!_bySession.TryGetValue(sessionId, out var fifo))
        {
            fifo = _spare.TryPop(out var spare) ? spare : new Queue<Waiting>();
            _bySession.Add(sessionId, fifo);
        }

        fifo.Enqueue(waiting);
        Count++;
        if (!waiting.HasTxn)
        {
            _withoutTxn.Enqueue((sessionId, waiting.Reply.Zxid));
        }
    }

    /// <summary>
    /// Takes the request the txn answers: the head of its session's FIFO, which must expect a txn with the txn's cxid.
    /// False when none of that session waits here (a txn of a session this peer does not serve).
    /// </summary>
    /// <exception cref="TxnInvariantException">the head is another request: replies would go to the wrong caller.</exception>
    public bool TryTakeFor(Txn txn, out Waiting waiting)
    {
        if (!_bySession.TryGetValue(txn.SessionId, out var fifo))
        {
            waiting = default;
            return false;
        }

        waiting = fifo.Peek();
        if (waiting.Forwarded && (!waiting.HasTxn || waiting.Write.Cxid != txn.Cxid))
        {
            // A forwarded write waits here (a follower): the txn is another of its session's, made by the leader (an
            // expiry, or a request through another peer after the session moved), which answers nobody here, as
            // ZooKeeper's CommitProcessor passes a committed request that matches no local one.
            waiting = default;
            return false;
        }

        if (!waiting.HasTxn || waiting.Write.Cxid != txn.Cxid)
        {
            throw new TxnInvariantException(
                $"Txn {txn.Zxid} of session {txn.SessionId} has cxid {txn.Cxid}, but the session's oldest waiting request is a {waiting.Write.Request.GetType().Name} " +
                $"with cxid {waiting.Write.Cxid}{(waiting.HasTxn ? "" : " that made no txn")}: replies would go to the wrong caller.");
        }

        Dequeue(txn.SessionId, fifo);
        return true;
    }

    /// <summary>Takes the oldest request without a txn if the state it saw is published (at or below <paramref name="publishedZxid"/>).</summary>
    /// <exception cref="TxnInvariantException">it is not at the head of its session (an earlier request is unanswered).</exception>
    public bool TryTakeAnswered(Zxid publishedZxid, out Waiting waiting)
    {
        if (!_withoutTxn.TryPeek(out var next) || next.Zxid > publishedZxid)
        {
            waiting = default;
            return false;
        }

        // Every earlier request of its session made a txn at or below next.Zxid (published, so answered) or is an
        // earlier one without a txn (answered before it): it must be at the head.
        var (sessionId, _) = next;
        var fifo = _bySession[sessionId];
        waiting = fifo.Peek();
        if (waiting.HasTxn && waiting.Forwarded)
        {
            // A forwarded write ahead of it is still unanswered (its txn comes, or the leader change fails it).
            waiting = default;
            return false;
        }

        if (waiting.HasTxn)
        {
            throw new TxnInvariantException(
                $"Session {sessionId}'s oldest waiting request (cxid {waiting.Write.Cxid}) still expects a txn at zxid {publishedZxid}, ahead of one answered without a txn.");
        }

        _withoutTxn.Dequeue();
        Dequeue(sessionId, fifo);
        return true;
    }

    /// <summary>
    /// The leader answered a forwarded request without a txn: it waits from now on for the state the leader checked
    /// it against (<see cref="Reply.Zxid"/>) to be published here, behind its session's earlier requests. False when
    /// no forwarded request of that session and cxid waits.
    /// </summary>
    public bool Resolve(SessionId sessionId, int cxid, Func<PipelineRequest, Reply> answer)
    {
        if (!_bySession.TryGetValue(sessionId, out var fifo))
            return false;
        var found = false;
        Zxid zxid = default;
        for (var i = fifo.Count; i > 0; i--)
        {
            var waiting = fifo.Dequeue();
            if (!found && waiting.HasTxn && waiting.Forwarded && waiting.Write.Cxid == cxid)
            {
                waiting = new Waiting(waiting.Write, answer(waiting.Write.Request), HasTxn: false, Forwarded: true);
                (found, zxid) = (true, waiting.Reply.Zxid);
            }

            fifo.Enqueue(waiting);
        }

        if (found)
        {
            _withoutTxn.Enqueue((sessionId, zxid));
        }

        return found;
    }

    /// <summary>Answers every waiting request with <paramref name="error"/> (the pipeline stopped).</summary>
    public void FailAll(ZkErrorCode error, TreeState state, Action<Waiting, Reply> complete)
    {
        foreach (var fifo in _bySession.Values)
        {
            while (fifo.TryDequeue(out var waiting))
            {
                complete(waiting, new Reply(error, waiting.Write.Request.ErrorPath, null, state.Zxid, state));
            }
        }

        _bySession.Clear();
        _withoutTxn.Clear();
        Count = 0;
    }

    private void Dequeue(SessionId sessionId, Queue<Waiting> fifo)
    {
        fifo.Dequeue();
        Count--;
        if (fifo.Count == 0)
        {
            _bySession.Remove(sessionId);
            if (_spare.Count < MaxSpare)
            {
                _spare.Push(fifo);
            }
        }
    }
}
