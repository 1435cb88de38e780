using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Zk.Embedded.Api;
using Zk.Embedded.Sessions;
using Zk.Embedded.Tree;
using Zk.Embedded.Watches;

namespace Zk.Embedded.Processing;

/// <summary>A request waiting in the pipeline, with who it came from and who gets the reply.</summary>
internal sealed record PendingWrite(ServerSession Session, PipelineRequest Request, IReplyTarget? Target);

/// <summary>
/// Where committed txns are made durable before they apply (the seam the storage and consensus issues plug into).
/// The processor hands it each batch in zxid order and applies the batch once the returned task completes.
/// </summary>
internal interface ITxnSink
{
    ValueTask CommitAsync(IReadOnlyList<Txn> txns, CancellationToken cancellationToken);
}

/// <summary>
/// The write pipeline of a peer (ZooKeeper's prep, sync and final processors in one ordered loop):
/// take a batch of requests, turn each into a txn against the state it will apply to and give it a zxid,
/// hand the batch to the <see cref="ITxnSink"/>, then publish each txn in order: fire its watches, publish its
/// state, reply. One thread does all of it, so zxid order, apply order and reply order are the same.
/// </summary>
internal sealed class RequestProcessor : IAsyncDisposable
{
    /// <summary>Requests in one batch at most; bounds the work between two publishes and a storage batch.</summary>
    public const int MaxBatch = 1024;

    /// <summary>Queued requests at most; submitters wait beyond it, which is the peer's back-pressure.</summary>
    public const int QueueCapacity = 16 * 1024;

    private readonly Channel<PendingWrite> _queue = Channel.CreateBounded<PendingWrite>(
        new BoundedChannelOptions(QueueCapacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });

    private readonly TxnBuilder _builder;
    private readonly WatchManager _watches;
    private readonly SessionTracker _sessions;
    private readonly ITxnSink? _sink;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private TreeState _state;
    private TreeState _firingState;
    private TreeState _speculative;
    private long _lastZxid;
    private Task? _loop;

    public RequestProcessor(TreeState initial, TxnBuilder builder, WatchManager watches, SessionTracker sessions, ITxnSink? sink, TimeProvider time, ILogger logger)
    {
        _state = _firingState = _speculative = initial;
        _lastZxid = initial.Zxid;
        _builder = builder;
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

    /// <summary>Set when the loop died; no more writes are accepted.</summary>
    public Exception? Fault { get; private set; }

    public void Start()
    {
        Log.PipelineStarted(_logger, _lastZxid);
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
            throw new ZkException(ZkErrorCode.ConnectionLoss, write.Request.ErrorPath, "The peer is stopping and accepts no more requests.");
        }
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        if (_loop is not null)
        {
            await _loop.ConfigureAwait(false);
        }

        _stopping.Dispose();
        Log.PipelineStopped(_logger, _lastZxid);
    }

    private async Task RunAsync()
    {
        var batch = new List<PendingWrite>(64);
        var steps = new List<Step>(64);
        var txns = new List<Txn>(64);
        var triggers = new List<WatchTrigger>(128);
        var reader = _queue.Reader;
        var published = 0;
        try
        {
            while (await reader.WaitToReadAsync().ConfigureAwait(false))
            {
                while (batch.Count < MaxBatch && reader.TryRead(out var write))
                {
                    batch.Add(write);
                }

                Telemetry.BatchSize.Record(batch.Count);
                foreach (var write in batch)
                {
                    steps.Add(Prepare(write, triggers, txns));
                }

                if (_sink is not null && txns.Count > 0)
                {
                    await _sink.CommitAsync(txns, _stopping.Token).ConfigureAwait(false);
                }

                for (published = 0; published < steps.Count; published++)
                {
                    Publish(steps[published], triggers);
                }

                published = 0;
                batch.Clear();
                steps.Clear();
                txns.Clear();
                triggers.Clear();
            }
        }
        catch (Exception e)
        {
            Fault = e;
            Log.PipelineFailed(_logger, e);
            _queue.Writer.TryComplete(e);
            FailAll(batch, published);
            while (reader.TryRead(out var write))
            {
                write.Target?.Complete(new Reply(ZkErrorCode.ConnectionLoss, write.Request.ErrorPath, null, State.Zxid, State));
            }
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

    private Step Prepare(PendingWrite write, List<WatchTrigger> triggers, List<Txn> txns)
    {
        var state = _speculative;
        var time = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var zxid = _lastZxid + 1;
        var prepared = _builder.Prepare(state, write.Session, write.Request, zxid, time);
        if (prepared.Error != ZkErrorCode.Ok)
        {
            return new Step(write, null, 0, 0, new Reply(prepared.Error, write.Request.ErrorPath, prepared.MultiResults, state.Zxid, state));
        }

        if (prepared.Op is null)
        {
            var value = write.Request is SyncRequest sync ? sync.Path : (object?)prepared.MultiResults;
            return new Step(write, null, 0, 0, new Reply(ZkErrorCode.Ok, null, value, state.Zxid, state));
        }

        var txn = new Txn(zxid, write.Session.SessionId, time, prepared.Op);
        _lastZxid = zxid;
        txns.Add(txn);
        var firstTrigger = triggers.Count;
        state = TxnApplier.Apply(state, txn, triggers);
        _speculative = state;
        var result = prepared.MultiResults ?? ResultOf(prepared.Op, state);
        return new Step(write, txn, firstTrigger, triggers.Count - firstTrigger, new Reply(ZkErrorCode.Ok, null, result, zxid, state));
    }

    private static object? ResultOf(TxnOp op, TreeState state) => op switch
    {
        CreateTxn create => new CreateResult(create.Path, state.Find(create.Path)!.ToStat()),
        SetDataTxn set => state.Find(set.Path)!.ToStat(),
        SetAclTxn setAcl => state.Find(setAcl.Path)!.ToStat(),
        _ => null,
    };

    private void Publish(in Step step, List<WatchTrigger> triggers)
    {
        var reply = step.Reply;
        var session = step.Write.Session;
        if (step.Txn is { } txn)
        {
            var closing = txn.Op is CloseSessionTxn;
            var expired = closing && step.Write.Request is CloseSessionRequest { Expired: true };
            if (expired)
            {
                // An expired session has no client listening (ZooKeeper has closed its connection): it hears nothing more.
                _watches.RemoveSession(session);
            }

            Volatile.Write(ref _firingState, reply.State);
            for (var i = 0; i < step.TriggerCount; i++)
            {
                _watches.Trigger(triggers[step.FirstTrigger + i], txn.Zxid);
            }

            Volatile.Write(ref _state, reply.State);
            Telemetry.TxnsCommitted.Add(1);
            if (closing)
            {
                // A client that closes hears its own ephemerals go before the close reply, as ZooKeeper sends those
                // notifications on the connection before it answers closeSession; then its watches go.
                _watches.RemoveSession(session);
                _sessions.Remove(session.SessionId);
                Log.SessionClosed(_logger, session.SessionId);
                session.Sink?.OnSessionEnded(expired ? KeeperState.Expired : KeeperState.Closed);
            }
        }
        else if (!reply.IsError)
        {
            switch (step.Write.Request)
            {
                case AddWatchRequest add:
                    _watches.AddPersistent(session, add.Path, add.Mode);
                    break;
                case RemoveWatchesRequest remove when !_watches.Remove(session, remove.Path, remove.Type, remove.CheckOnly):
                    reply = reply with { Error = ZkErrorCode.NoWatcher, ErrorPath = remove.Path };
                    break;
            }
        }

        step.Write.Target?.Complete(reply);
    }

    private readonly record struct Step(PendingWrite Write, Txn? Txn, int FirstTrigger, int TriggerCount, Reply Reply);
}
