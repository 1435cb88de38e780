using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Zk.Embedded.Api;
using Zk.Embedded.Sessions;
using Zk.Embedded.Tree;
using Zk.Embedded.Watches;

using Zk.Embedded.Txns;

namespace Zk.Embedded.Processing;

/// <summary>A request waiting in the pipeline, with who it came from and who gets the reply.</summary>
/// <param name="AuthIds">
/// the identities it is checked with: its connection's when it arrived (ZooKeeper copies <c>cnxn.getAuthInfo()</c>
/// into each request); null for the session's own (in-process handles and the peer's system session).
/// </param>
/// <param name="Cxid">
/// the request's id within its session, which its txn carries (<see cref="Txn.Cxid"/>): the wire client's xid, an
/// in-process handle's <see cref="ServerSession.NextCxid"/>, 0 for createSession and the peer's own requests (ZooKeeper
/// submits expiry's closeSession and ContainerManager's deleteContainer with cxid 0).
/// </param>
internal sealed record PendingWrite(ServerSession Session, PipelineRequest Request, IReplyTarget? Target, IReadOnlyList<Id>? AuthIds = null, int Cxid = 0);

/// <summary>
/// Where committed txns are made durable before they apply (the seam the storage and consensus issues plug into).
/// The processor writes each batch in zxid order from one thread, and from another makes a batch durable with
/// <see cref="Sync"/> before it applies it: while one batch syncs the next is prepared and written, and one sync
/// may cover several batches (group commit).
/// </summary>
internal interface ITxnSink
{
    /// <summary>Takes a batch, in zxid order after every earlier one; it need not be durable yet.</summary>
    void Write(IReadOnlyList<Txn> txns);

    /// <summary>Returns once every txn written up to <paramref name="zxid"/> is durable.</summary>
    void Sync(long zxid);
}

/// <summary>
/// The write pipeline of a peer (ZooKeeper's prep, sync and final processors): take a batch of requests, turn each
/// into a txn against the state it will apply to and give it a zxid, hand the batch to the <see cref="ITxnSink"/>,
/// then publish each txn in order: fire its watches, publish its state, reply. In memory one loop does all of it;
/// with a sink, one loop prepares and writes and another syncs and publishes, each taking batches in order, so zxid
/// order, log order, apply order and reply order are the same.
/// </summary>
internal sealed class RequestProcessor : IAsyncDisposable
{
    /// <summary>Requests in one batch at most; bounds the work between two publishes and a storage batch.</summary>
    public const int MaxBatch = 1024;

    /// <summary>Queued requests at most; submitters wait beyond it, which is the peer's back-pressure.</summary>
    public const int QueueCapacity = 16 * 1024;

    /// <summary>Batches between preparing and publishing: one being prepared and written, one being synced and published.</summary>
    private const int BatchesInFlight = 2;

    private readonly Channel<PendingWrite> _queue = Channel.CreateBounded<PendingWrite>(
        new BoundedChannelOptions(QueueCapacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });

    private readonly TxnPreparer _preparer;
    private readonly WatchManager _watches;
    private readonly SessionTracker _sessions;
    private readonly ITxnSink? _sink;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly object _stopGate = new();
    private readonly TaskCompletionSource<Exception> _faulted = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TreeState _state;
    private TreeState _firingState;
    private Task? _loop;

    public RequestProcessor(TreeState initial, TxnBuilder builder, WatchManager watches, SessionTracker sessions, ITxnSink? sink, TimeProvider time, ILogger logger)
    {
        _state = _firingState = initial;
        _preparer = new TxnPreparer(initial, builder, time, logger);
        _watches = watches;
        _sessions = sessions;
        _sink = sink;
        _time = time;
        _logger = logger;
    }

    /// <summary>The newest applied state: what reads see.</summary>
    public TreeState State => Volatile.Read(ref _state);

    /// <summary>
    /// The state whose watches are firing or have fired: at or ahead of <see cref="State"/>. A reader that registered
    /// a watch compares against it to catch a change whose triggers ran before its registration.
    /// </summary>
    public TreeState FiringState => Volatile.Read(ref _firingState);

    /// <summary>Set when the loop died (typically the sink could not write or sync the log); no more writes are accepted.</summary>
    public Exception? Fault { get; private set; }

    /// <summary>Completes with <see cref="Fault"/> when the loop dies; never while the pipeline runs.</summary>
    public Task<Exception> Faulted => _faulted.Task;

    public void Start()
    {
        Log.PipelineStarted(_logger, _preparer.LastZxid);
        _loop = Task.Factory.StartNew(RunAsync, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap();
    }

    /// <summary>Queues a request; waits while the queue is full. Fails with ConnectionLoss once the pipeline has stopped.</summary>
    public ValueTask SubmitAsync(PendingWrite write, CancellationToken cancellationToken = default)
    {
        if (_queue.Writer.TryWrite(write))
        {
            return ValueTask.CompletedTask;
        }

        return SubmitSlowAsync(write, cancellationToken);
    }

    /// <summary>Queues a request of the peer's own (expiry, container clean-up) without waiting for room.</summary>
    public void Post(PendingWrite write)
    {
        if (!_queue.Writer.TryWrite(write))
        {
            _ = PostSlowAsync(write);
        }
    }

    private async Task PostSlowAsync(PendingWrite write)
    {
        try
        {
            await _queue.Writer.WriteAsync(write).ConfigureAwait(false);
        }
        catch (ChannelClosedException)
        {
            // The peer is stopping: its own housekeeping request is moot.
        }
    }

    private async ValueTask SubmitSlowAsync(PendingWrite write, CancellationToken cancellationToken)
    {
        try
        {
            await _queue.Writer.WriteAsync(write, cancellationToken).ConfigureAwait(false);
        }
        catch (ChannelClosedException)
        {
            var why = Fault is { } fault ? $"The peer stopped serving writes: {fault.Message}" : "The peer is stopping and accepts no more requests.";
            throw new ZkException(ZkErrorCode.ConnectionLoss, write.Request.ErrorPath, why);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        if (_loop is not null)
        {
            await _loop.ConfigureAwait(false);
        }

        Log.PipelineStopped(_logger, _preparer.LastZxid);
    }

    private async Task RunAsync()
    {
        if (_sink is null)
        {
            await RunInMemoryAsync().ConfigureAwait(false);
        }
        else
        {
            await RunDurableAsync().ConfigureAwait(false);
        }
    }

    /// <summary>No sink: prepare and publish each batch on this one loop (no hand-off: the fastest path in memory).</summary>
    private async Task RunInMemoryAsync()
    {
        var batch = new Batch();
        var reader = _queue.Reader;
        try
        {
            while (await reader.WaitToReadAsync().ConfigureAwait(false))
            {
                Fill(batch, reader);
                PublishAll(batch);
                batch.Clear();
            }
        }
        catch (Exception e)
        {
            Stop(e, batch);
        }
    }

    /// <summary>
    /// With a sink: this loop prepares and writes batch N+1 while a publisher makes batch N durable and then
    /// publishes it, so an fsync stalls neither preparing nor writing, and a sync that starts after N+1 is written
    /// covers both (ZooKeeper's PrepRequestProcessor and SyncRequestProcessor run apart the same way). Two batches
    /// circulate, which bounds the work in flight.
    /// </summary>
    private async Task RunDurableAsync()
    {
        var free = Channel.CreateBounded<Batch>(BatchesInFlight);
        var full = Channel.CreateBounded<Batch>(BatchesInFlight);
        for (var i = 0; i < BatchesInFlight; i++)
        {
            free.Writer.TryWrite(new Batch());
        }

        var publisher = Task.Run(() => PublishLoopAsync(full.Reader, free.Writer));
        var reader = _queue.Reader;
        Batch? preparing = null;
        try
        {
            while (await reader.WaitToReadAsync().ConfigureAwait(false))
            {
                preparing = await free.Reader.ReadAsync().ConfigureAwait(false);
                Fill(preparing, reader);
                if (preparing.Txns.Count > 0)
                {
                    _sink!.Write(preparing.Txns);
                }

                await full.Writer.WriteAsync(preparing).ConfigureAwait(false);
                preparing = null;
            }
        }
        catch (Exception e)
        {
            Stop(e, preparing);
        }
        finally
        {
            full.Writer.TryComplete();
            await publisher.ConfigureAwait(false);
        }
    }

    private async Task PublishLoopAsync(ChannelReader<Batch> full, ChannelWriter<Batch> free)
    {
        Batch? current = null;
        try
        {
            await foreach (var batch in full.ReadAllAsync().ConfigureAwait(false))
            {
                current = batch;
                if (batch.Txns.Count > 0)
                {
                    _sink!.Sync(batch.Txns[^1].Zxid);
                }

                PublishAll(batch);
                batch.Clear();
                current = null;
                free.TryWrite(batch);
            }
        }
        catch (Exception e)
        {
            Stop(e, current);
            // Batches prepared behind the failed one were never made durable: they fail too.
            while (full.TryRead(out var pending))
            {
                FailAll(pending.Writes, pending.Published);
            }

            free.TryComplete(e);
        }
    }

    /// <summary>Takes what is queued (up to <see cref="MaxBatch"/>) and prepares it against the speculative state.</summary>
    private void Fill(Batch batch, ChannelReader<PendingWrite> reader)
    {
        while (batch.Writes.Count < MaxBatch && reader.TryRead(out var write))
        {
            batch.Writes.Add(write);
        }

        Telemetry.BatchSize.Record(batch.Writes.Count);
        foreach (var write in batch.Writes)
        {
            batch.Steps.Add(_preparer.Prepare(write, batch.Triggers, batch.Txns));
        }
    }

    private void PublishAll(Batch batch)
    {
        for (batch.Published = 0; batch.Published < batch.Steps.Count; batch.Published++)
        {
            Publish(batch.Steps[batch.Published], batch.Triggers);
        }
    }

    /// <summary>The pipeline cannot go on: no more writes are taken, and those not answered fail with ConnectionLoss.</summary>
    private void Stop(Exception e, Batch? batch)
    {
        lock (_stopGate)
        {
            Fault ??= e;
            Log.PipelineFailed(_logger, e);
            _faulted.TrySetResult(Fault);
            _queue.Writer.TryComplete(e);
            if (batch is not null)
            {
                FailAll(batch.Writes, batch.Published);
            }

            while (_queue.Reader.TryRead(out var write))
            {
                write.Target?.Complete(new Reply(ZkErrorCode.ConnectionLoss, write.Request.ErrorPath, null, State.Zxid, State));
            }
        }
    }

    /// <summary>One batch on its way from preparing to publishing; reused.</summary>
    private sealed class Batch
    {
        public List<PendingWrite> Writes { get; } = new(64);

        public List<Step> Steps { get; } = new(64);

        public List<Txn> Txns { get; } = new(64);

        public List<WatchTrigger> Triggers { get; } = new(128);

        /// <summary>How many steps have been published (answered) so far.</summary>
        public int Published { get; set; }

        public void Clear()
        {
            Writes.Clear();
            Steps.Clear();
            Txns.Clear();
            Triggers.Clear();
            Published = 0;
        }
    }

    private void FailAll(List<PendingWrite> batch, int published)
    {
        var state = State;
        for (var i = published; i < batch.Count; i++)
        {
            batch[i].Target?.Complete(new Reply(ZkErrorCode.ConnectionLoss, batch[i].Request.ErrorPath, null, state.Zxid, state));
        }
    }

    /// <summary>
    /// Publishes one step. The txn is durable by now, so its state is published whatever happens; an exception while
    /// firing a watch, ending a session or completing the reply is logged and the loop goes on (one bad watcher or
    /// reply target must not stop every other session's writes).
    /// </summary>
    private void Publish(in Step step, List<WatchTrigger> triggers)
    {
        var reply = step.Reply;
        if (step.Txn is { } txn)
        {
            PublishTxn(step, txn, triggers);
        }
        else if (!reply.IsError)
        {
            reply = ApplyWatchRequest(step.Write, reply);
        }

        try
        {
            step.Write.Target?.Complete(reply);
        }
        catch (Exception e)
        {
            Log.PublishFailed(_logger, e, "completing the reply", reply.Zxid, step.Write.Session.SessionId);
        }
    }

    private void PublishTxn(in Step step, Txn txn, List<WatchTrigger> triggers)
    {
        var session = step.Write.Session;
        var closing = txn.Op is CloseSessionTxn;
        var expired = closing && step.Write.Request is CloseSessionRequest { Expired: true };
        if (expired)
        {
            // An expired session has no client listening (ZooKeeper has closed its connection): it hears nothing more.
            _watches.RemoveSession(session);
        }

        Volatile.Write(ref _firingState, step.Reply.State);
        for (var i = 0; i < step.TriggerCount; i++)
        {
            try
            {
                _watches.Trigger(triggers[step.FirstTrigger + i], txn.Zxid);
            }
            catch (Exception e)
            {
                Log.PublishFailed(_logger, e, "firing watches", txn.Zxid, session.SessionId);
            }
        }

        Volatile.Write(ref _state, step.Reply.State);
        Telemetry.TxnsCommitted.Add(1);
        if (closing)
        {
            try
            {
                // A client that closes hears its own ephemerals go before the close reply, as ZooKeeper sends those
                // notifications on the connection before it answers closeSession; then its watches go.
                _watches.RemoveSession(session);
                _sessions.Remove(session.SessionId);
                Log.SessionClosed(_logger, session.SessionId);
                session.Sink?.OnSessionEnded(expired ? KeeperState.Expired : KeeperState.Closed);
            }
            catch (Exception e)
            {
                Log.PublishFailed(_logger, e, "ending the session", txn.Zxid, session.SessionId);
            }
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
