using System.Threading.Tasks.Sources;
using Zk.Embedded.Api;
using Zk.Embedded.Processing;
using Zk.Embedded.Tree;

namespace Zk.Embedded.Sessions;

/// <summary>
/// A request's reply slot: completed once by the pipeline (or by the outbox for reads) and awaited once.
/// Reads that the session issues while this write is outstanding wait here as followers, so they run against the
/// exact state after it (per-session FIFO without blocking anyone).
/// </summary>
internal sealed class ReplySlot : IReplyTarget, IValueTaskSource<Reply>
{
    private readonly SessionOutbox _outbox;
    private ManualResetValueTaskSourceCore<Reply> _core;

    public ReplySlot(SessionOutbox outbox)
    {
        _outbox = outbox;
    }

    /// <summary>Reads issued after this write, run in order as its reply is queued. Guarded by the outbox lock.</summary>
    public List<DeferredRead>? Followers { get; set; }

    public ValueTask<Reply> AsValueTask() => new(this, _core.Version);

    /// <summary>Called by the pipeline: the reply joins the session's ordered outbox.</summary>
    public void Complete(in Reply reply) => _outbox.EnqueueReply(this, reply);

    /// <summary>Hands the reply to the awaiter. Called by the outbox, in order.</summary>
    public void Deliver(in Reply reply) => _core.SetResult(reply);

    public Reply GetResult(short token) => _core.GetResult(token);

    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}

/// <summary>A read answered in the session's order: run against a given state, its reply delivered in turn.</summary>
internal sealed class DeferredRead(Func<TreeState, ReadOutcome>? execute)
{
    private readonly TaskCompletionSource<Reply> _done = new(TaskCreationOptions.None);

    public Task<Reply> Task => _done.Task;

    public ReadOutcome RunNow(TreeState state) =>
        (execute ?? throw new InvalidOperationException("An answered read does not run again."))(state);

    public void Deliver(in Reply reply) => _done.SetResult(reply);
}

/// <summary>
/// The ordered stream of everything a session is told: watch events, replies, and the session's end. The pipeline
/// puts events and replies in zxid order; reads join behind them. One delivery loop at a time drains it on the
/// thread pool, so watchers and continuations of one session run one after another, like the Java client's
/// event thread. A watch event therefore reaches its watchers before the reply of any later read that shows the change.
/// </summary>
internal sealed class SessionOutbox(Action<WatchedEvent, Watcher?> deliverEvent, Action<KeeperState> deliverEnd, Func<TreeState> firingState)
{
    private readonly object _gate = new();
    private readonly Queue<Item> _items = new();
    private int _undelivered;
    private bool _draining;
    private ReplySlot? _lastWrite;

    /// <summary>True when nothing is queued or being delivered and no write awaits its reply: a read may answer at once.</summary>
    public bool IsIdle => Volatile.Read(ref _undelivered) == 0 && Volatile.Read(ref _lastWrite) is null;

    /// <summary>Makes a reply slot for a write and records it as the write later reads must wait for.</summary>
    public ReplySlot BeginWrite()
    {
        var slot = new ReplySlot(this);
        lock (_gate)
        {
            Volatile.Write(ref _lastWrite, slot);
        }

        return slot;
    }

    /// <summary>
    /// Answers a read in order. With a write outstanding, the read runs right after that write's reply, against the
    /// state the write produced. Otherwise it runs now against <paramref name="newest"/> (registering its watches
    /// before its reply is queued) and its reply is delivered after what is already queued.
    /// </summary>
    public Task<Reply> EnqueueRead(Func<TreeState, ReadOutcome> execute, TreeState newest)
    {
        var read = new DeferredRead(execute);
        lock (_gate)
        {
            if (_lastWrite is { } write)
            {
                (write.Followers ??= []).Add(read);
                return read.Task;
            }

            EnqueueOutcome(read, read.RunNow(newest));
        }

        return read.Task;
    }

    /// <summary>Call with the lock held. The reply takes its place first; then its watch may fire behind it.</summary>
    private void EnqueueOutcome(DeferredRead read, in ReadOutcome outcome)
    {
        Enqueue(new Item(ItemKind.ReadReply, null, outcome.Reply, null, read, default, null, outcome.Watch));
        outcome.Watch?.RegisterServer(firingState());
    }

    /// <summary>
    /// Queues a write's reply, then runs the reads that waited for it, right here: against the state the write
    /// produced, and (called by the pipeline as it publishes that write) before any later txn fires its watches.
    /// So a watch such a read sets is in place for the very next change, as in ZooKeeper, where a session's
    /// requests are served in order.
    /// </summary>
    public void EnqueueReply(ReplySlot slot, in Reply reply)
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
                    EnqueueOutcome(read, read.RunNow(reply.State));
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
        lock (_gate)
        {
            EnqueueOutcome(read, outcome);
        }

        return read.Task;
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
            ThreadPool.UnsafeQueueUserWorkItem(static outbox => outbox.Drain(), this, preferLocal: false);
        }
    }

    private void Drain()
    {
        while (true)
        {
            Item item;
            lock (_gate)
            {
                if (!_items.TryDequeue(out item))
                {
                    _draining = false;
                    return;
                }
            }

            // The item counts as delivered before its watcher or continuation runs: a read issued from there (a
            // watcher re-reading, a loop of awaits) then finds the outbox idle and is answered at once, instead of
            // queueing behind the item that is delivering it. Anything still queued keeps the outbox busy.
            Interlocked.Decrement(ref _undelivered);
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
    }

    private enum ItemKind
    {
        Event,
        Reply,
        ReadReply,
        End,
    }

    private readonly record struct Item(
        ItemKind Kind, ReplySlot? Slot, Reply Reply, WatchedEvent? Event, DeferredRead? Read, KeeperState EndState, Watcher? Only = null, PendingWatch? Watch = null);
}
