using System.Threading.Tasks.Sources;
using Microsoft.Extensions.Logging;
using Zk.Embedded.Api;
using Zk.Embedded.Processing;
using Zk.Embedded.Sessions;
using Zk.Embedded.Tree;

namespace Zk.Embedded.InProcess;

/// <summary>
/// Where one pipeline request's reply goes, in the session's order. The pipeline completes it; the outbox delivers
/// it. Reads the session issues while this write is outstanding wait here as followers, so they run against the
/// exact state after it (per-session FIFO without blocking anyone).
/// </summary>
internal abstract class OrderedReply(SessionOutbox outbox) : IReplyTarget
{
    /// <summary>Reads issued after this write, run in order as its reply is queued. Guarded by the outbox lock.</summary>
    public List<DeferredRead>? Followers { get; set; }

    /// <summary>Called by the pipeline: the reply joins the session's ordered outbox.</summary>
    public void Complete(in Reply reply) => outbox.EnqueueReply(this, reply);

    /// <summary>Hands the reply on (to an awaiter, or onto a connection). Called by the outbox, in order.</summary>
    public abstract void Deliver(in Reply reply);
}

/// <summary>A reply slot awaited by in-process code: completed once, awaited once.</summary>
internal sealed class ReplySlot(SessionOutbox outbox) : OrderedReply(outbox), IValueTaskSource<Reply>
{
    private ManualResetValueTaskSourceCore<Reply> _core;

    public ValueTask<Reply> AsValueTask() => new(this, _core.Version);

    public override void Deliver(in Reply reply) => _core.SetResult(reply);

    public Reply GetResult(short token) => _core.GetResult(token);

    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}

/// <summary>
/// A read answered in the session's order: run against a given state, its reply delivered in turn, to an awaiter
/// (<see cref="Task"/>) or to <paramref name="onDelivered"/> when one is given (a wire connection writing the reply).
/// </summary>
internal sealed class DeferredRead(Func<TreeState, ReadOutcome>? execute, Action<Reply>? onDelivered = null)
{
    private readonly TaskCompletionSource<Reply>? _done = onDelivered is null ? new(TaskCreationOptions.None) : null;

    public Task<Reply> Task => _done?.Task ?? throw new InvalidOperationException("This read delivers to a callback.");

    /// <summary>
    /// Runs the read against <paramref name="state"/>. It may run on the pipeline's publishing thread (behind a write),
    /// so an exception never leaves here: the read is answered MarshallingError, as ZooKeeper's FinalRequestProcessor
    /// answers a request that throws, and the peer goes on. Arguments are checked before a read is queued; this is the
    /// net under a bug, not the way bad input is refused.
    /// </summary>
    public ReadOutcome RunNow(TreeState state, ILogger? logger)
    {
        try
        {
            return (execute ?? throw new InvalidOperationException("An answered read does not run again."))(state);
        }
        catch (Exception e)
        {
            if (logger is not null)
            {
                Log.ReadFailed(logger, e);
            }

            return new ReadOutcome(new Reply(ZkErrorCode.MarshallingError, null, null, state.Zxid, state), null);
        }
    }

    public void Deliver(in Reply reply)
    {
        if (onDelivered is not null)
        {
            onDelivered(reply);
        }
        else
        {
            _done!.SetResult(reply);
        }
    }
}

/// <summary>
/// The ordered stream of everything a session is told: watch events, replies, and the session's end. The pipeline
/// puts events and replies in zxid order; reads join behind them. One delivery loop at a time drains it on the
/// thread pool, so watchers and continuations of one session run one after another, like the Java client's
/// event thread. A watch event therefore reaches its watchers before the reply of any later read that shows the change.
/// </summary>
/// <param name="drained">called by the delivery loop each time it has emptied the outbox (a connection flushes there).</param>
/// <param name="publishedState">the newest published state (what reads see).</param>
/// <param name="firingState">the state whose watches have fired (RequestProcessor.FiringState), for watch registration.</param>
/// <param name="strictOrder">
/// a reply counts as undelivered until it has been handed on, like an event. A connection needs this: its replies
/// must leave in request order, so no read may be answered while an earlier reply is still being written. An
/// in-process session does not: a read issued from a reply's continuation may run at once.
/// </param>
/// <param name="dispatch">
/// where the delivery loop runs: null for the thread pool; the deterministic simulator passes its own queue, so
/// replies and events reach the code under test in an order a seed reproduces (<see cref="PeerCore.Dispatch"/>).
/// </param>
internal sealed class SessionOutbox(
    Action<WatchedEvent, Watcher?> deliverEvent,
    Action<KeeperState> deliverEnd,
    Func<TreeState> publishedState,
    Func<TreeState> firingState,
    Action? drained = null,
    bool strictOrder = false,
    ILogger? logger = null,
    Action<Action>? dispatch = null)
{
    [ThreadStatic]
    private static SessionOutbox? t_deliveringEvent;

    private readonly object _gate = new();
    private readonly Queue<Item> _items = new();
    private int _undelivered;
    private bool _draining;
    private OrderedReply? _lastWrite;

    /// <summary>Reads the state whose watches have fired; a read registers its watch first, then calls this.</summary>
    public Func<TreeState> FiringState => firingState;

    /// <summary>True when nothing is queued or being delivered and no write awaits its reply: a read may answer at once.</summary>
    /// <remarks>
    /// The write is checked first: a write's reply is queued before the write stops being outstanding, so once the
    /// write is seen finished its reply is seen queued (or already delivered), and a read cannot overtake it.
    /// An event counts as undelivered until its watchers have returned, so a read on another thread cannot overtake a
    /// watcher that is still running; a read made by that watcher itself (on the delivering thread) does not wait for it.
    /// </remarks>
    public bool IsIdle => Volatile.Read(ref _lastWrite) is null && Volatile.Read(ref _undelivered) == (t_deliveringEvent == this ? 1 : 0);

    /// <summary>Makes a reply slot for a write and records it as the write later reads must wait for.</summary>
    public ReplySlot BeginWrite() => BeginWrite(new ReplySlot(this));

    /// <summary>Records <paramref name="reply"/> as the write later reads of this session must wait for.</summary>
    public T BeginWrite<T>(T reply)
        where T : OrderedReply
    {
        lock (_gate)
        {
            Volatile.Write(ref _lastWrite, reply);
        }

        return reply;
    }

    /// <summary>
    /// Answers a read in order. With a write outstanding, the read runs right after that write's reply, against the
    /// state the write produced. Otherwise it runs now against the newest state, read under the lock so it includes
    /// every write whose reply is queued (registering its watches before its reply is queued), and its reply is
    /// delivered after what is already queued.
    /// </summary>
    public Task<Reply> EnqueueRead(Func<TreeState, ReadOutcome> execute)
    {
        var read = new DeferredRead(execute);
        EnqueueRead(read);
        return read.Task;
    }

    /// <summary>As <see cref="EnqueueRead(Func{TreeState, ReadOutcome})"/>, for a read that delivers to a callback.</summary>
    public void EnqueueRead(DeferredRead read)
    {
        lock (_gate)
        {
            if (_lastWrite is { } write)
            {
                (write.Followers ??= []).Add(read);
                return;
            }

            EnqueueOutcome(read, read.RunNow(publishedState(), logger));
        }
    }

    /// <summary>Call with the lock held. The reply takes its place first; then its watch may fire behind it.</summary>
    private void EnqueueOutcome(DeferredRead read, in ReadOutcome outcome)
    {
        Enqueue(new Item(ItemKind.ReadReply, null, outcome.Reply, null, read, default, null, outcome.Watch));
        outcome.Watch?.RegisterServer(firingState);
    }

    /// <summary>
    /// Queues a write's reply, then runs the reads that waited for it, right here: against the state the write
    /// produced, and (called by the pipeline as it publishes that write) before any later txn fires its watches.
    /// So a watch such a read sets is in place for the very next change, as in ZooKeeper, where a session's
    /// requests are served in order.
    /// </summary>
    public void EnqueueReply(OrderedReply slot, in Reply reply)
    {
        lock (_gate)
        {
            Enqueue(new Item(ItemKind.Reply, slot, reply, null, null, default));
            if (_lastWrite == slot)
            {
                Volatile.Write(ref _lastWrite, null);
            }

            if (slot.Followers is { } followers)
            {
                slot.Followers = null;
                foreach (var read in followers)
                {
                    // A write lost with the connection to its peer or leader (ConnectionLoss: the member stopped serving,
                    // or the forwarded write's answer never came) takes the reads behind it along, as the requests
                    // behind it on a closed ZooKeeper connection fail: answered here, they would come from a member
                    // that may no longer serve.
                    EnqueueOutcome(read, reply.Error == ZkErrorCode.ConnectionLoss
                        ? new ReadOutcome(new Reply(ZkErrorCode.ConnectionLoss, null, null, reply.Zxid, reply.State), null)
                        : read.RunNow(reply.State, logger));
                }
            }
        }
    }

    /// <summary>Queues an event for the watchers it materializes to, or only for <paramref name="only"/> (watch-removed notices).</summary>
    public void EnqueueEvent(WatchedEvent watchedEvent, Watcher? only)
    {
        lock (_gate)
        {
            Enqueue(new Item(ItemKind.Event, null, default, watchedEvent, null, default, only));
        }
    }

    /// <summary>Queues a read answered already, to be delivered after what is queued.</summary>
    public Task<Reply> EnqueueAnswered(in ReadOutcome outcome)
    {
        var read = new DeferredRead(null);
        EnqueueAnswered(read, outcome);
        return read.Task;
    }

    /// <summary>As <see cref="EnqueueAnswered(in ReadOutcome)"/>, for a read that delivers to a callback.</summary>
    public void EnqueueAnswered(DeferredRead read, in ReadOutcome outcome)
    {
        lock (_gate)
        {
            EnqueueOutcome(read, outcome);
        }
    }

    public void EnqueueEnd(KeeperState state)
    {
        lock (_gate)
        {
            Enqueue(new Item(ItemKind.End, null, default, null, null, state));
        }
    }

    /// <summary>Call with the lock held.</summary>
    private void Enqueue(Item item)
    {
        _items.Enqueue(item);
        Interlocked.Increment(ref _undelivered);
        if (!_draining)
        {
            _draining = true;
            if (dispatch is null)
                ThreadPool.UnsafeQueueUserWorkItem(static outbox => outbox.Drain(), this, preferLocal: false);
            else
                dispatch(Drain);
        }
    }

    private void Drain()
    {
        var delivered = false;
        while (true)
        {
            Item item;
            lock (_gate)
            {
                if (!_items.TryDequeue(out item))
                {
                    if (drained is null || !delivered)
                    {
                        _draining = false;
                        return;
                    }
                }
            }

            if (item.Kind == ItemKind.None)
            {
                // Still the one draining: flush what was delivered, outside the lock (it may block on the network,
                // and others must still be able to queue), then look again.
                delivered = false;
                drained!();
                continue;
            }

            delivered = true;
            if (item.Kind is ItemKind.Event or ItemKind.End || strictOrder)
            {
                // An event (with strictOrder, any item) stays counted until handed on (see IsIdle): nobody reads past it.
                t_deliveringEvent = this;
                try
                {
                    Deliver(item);
                }
                finally
                {
                    t_deliveringEvent = null;
                    Interlocked.Decrement(ref _undelivered);
                }

                continue;
            }

            // A reply counts as delivered before its continuation runs: a read issued from there (a loop of awaits)
            // then finds the outbox idle and is answered at once, instead of queueing behind the reply delivering it.
            // Anything still queued keeps the outbox busy.
            Interlocked.Decrement(ref _undelivered);
            Deliver(item);
        }
    }

    private void Deliver(in Item item)
    {
        switch (item.Kind)
        {
            case ItemKind.Event:
                deliverEvent(item.Event!, item.Only);
                break;
            case ItemKind.End:
                deliverEnd(item.EndState);
                break;
            case ItemKind.Reply:
                item.Slot!.Deliver(item.Reply);
                break;
            case ItemKind.ReadReply:
                item.Watch?.RegisterClient();
                item.Read!.Deliver(item.Reply);
                break;
        }
    }

    private enum ItemKind
    {
        None,
        Event,
        Reply,
        ReadReply,
        End,
    }

    private readonly record struct Item(
        ItemKind Kind, OrderedReply? Slot, Reply Reply, WatchedEvent? Event, DeferredRead? Read, KeeperState EndState, Watcher? Only = null, PendingWatch? Watch = null);
}
