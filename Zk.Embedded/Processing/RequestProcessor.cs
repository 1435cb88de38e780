using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Zk.Embedded.Api;
using Zk.Embedded.Sessions;
using Zk.Embedded.Tree;
using Zk.Embedded.Txns;
using Zk.Embedded.Watches;

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
/// The write pipeline of a peer, three stages behind one seam: the <see cref="Proposer"/> turns a batch of requests
/// into txns with zxids against the speculative state, the <see cref="ICommitStage"/> takes the batch and says when it
/// is committed (standalone: the durable log, or nothing in memory; in an ensemble: the consensus driver), and the
/// <see cref="Publisher"/> applies committed txns, fires watches, ends sessions and answers the waiting requests by
/// (SessionId, Cxid). This class owns the queue, the loops and the fault. With a stage that commits at once one loop
/// does everything; otherwise one loop proposes and hands the batch to the stage while another waits for it to commit
/// and publishes it, each taking batches in order, so zxid order, log order, apply order and reply order are the same.
/// </summary>
internal sealed class RequestProcessor : IPeerPipeline, IAsyncDisposable
{
    /// <summary>Requests in one batch at most; bounds the work between two publishes and a storage batch.</summary>
    public const int MaxBatch = 1024;

    /// <summary>Queued requests at most; submitters wait beyond it, which is the peer's back-pressure.</summary>
    public const int QueueCapacity = 16 * 1024;

    /// <summary>Batches between proposing and publishing: one being proposed and written, one being committed and published.</summary>
    private const int BatchesInFlight = 2;

    private readonly Channel<PendingWrite> _queue = Channel.CreateBounded<PendingWrite>(
        new BoundedChannelOptions(QueueCapacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });

    private readonly Proposer _proposer;
    private readonly ICommitStage _commit;
    private readonly Publisher _publisher;
    private readonly ILogger _logger;
    private readonly object _stopGate = new();
    private readonly TaskCompletionSource<Exception> _faulted = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task? _loop;

    public RequestProcessor(TreeState initial, TxnBuilder builder, WatchManager watches, SessionTracker sessions, ICommitStage? commit, TimeProvider time, ILogger logger, Zxid? proposeAfter = null)
    {
        _commit = commit ?? new ImmediateCommit(initial.Zxid);
        _proposer = new Proposer(initial, builder, time, logger, proposeAfter);
        _publisher = new Publisher(initial, watches, sessions, _commit, logger);
        _logger = logger;
    }

    /// <summary>The newest applied state: what reads see.</summary>
    public TreeState State => _publisher.State;

    /// <summary>
    /// The state whose watches are firing or have fired: at or ahead of <see cref="State"/>. A reader that registered
    /// a watch compares against it to catch a change whose triggers ran before its registration.
    /// </summary>
    public TreeState FiringState => _publisher.FiringState;

    /// <summary>Set when the loop died (the commit stage failed, or an invariant broke); no more writes are accepted.</summary>
    public Exception? Fault { get; private set; }

    /// <summary>Completes with <see cref="Fault"/> when the loop dies; never while the pipeline runs.</summary>
    public Task<Exception> Faulted => _faulted.Task;

    /// <summary>Why writes stopped (the loop died), or null while it runs.</summary>
    public string? NotServing => Fault is { } fault ? $"its pipeline stopped: {fault.Message}" : null;

    internal Publisher Publisher => _publisher;

    /// <summary>
    /// For a harness that runs everything on its own thread (the deterministic simulator, tests/Zk.Testing): the
    /// pipeline never starts its loops; the harness calls <see cref="RunPending"/> whenever a request was queued or
    /// the commit stage moved. Set before the first request; a stepped pipeline never calls <see cref="Start"/>.
    /// </summary>
    internal bool Stepped { get; init; }

    private readonly Queue<ProposedBatch> _steppedInFlight = new();
    private Task? _steppedHeadCommit;

    public void Start()
    {
        Log.PipelineStarted(_logger, _proposer.LastZxid);
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

    /// <summary>
    /// The staged loops' work done at once on the caller's thread (<see cref="Stepped"/>): publishes, in order, every
    /// batch whose txns have committed, then proposes queued requests while fewer than the loops' batches in flight
    /// wait. The same stages as <see cref="RunStagedAsync"/> and <see cref="PublishLoopAsync"/>; only the waiting is
    /// the harness's.
    /// </summary>
    internal void RunPending()
    {
        if (!Stepped)
            throw new InvalidOperationException("RunPending is for a stepped pipeline: this one runs its own loops.");
        try
        {
            while (Fault is null)
            {
                if (_steppedInFlight.TryPeek(out var head) && HeadCommitted(head))
                {
                    _publisher.PublishBatch(head);
                    _steppedInFlight.Dequeue();
                    continue;
                }

                if (_steppedInFlight.Count >= BatchesInFlight || !_queue.Reader.TryPeek(out _))
                    return;
                var batch = new ProposedBatch();
                _steppedInFlight.Enqueue(batch);   // before it is filled: a failure below fails its requests with the rest
                _proposer.Fill(batch, _queue.Reader, MaxBatch);
                Propose(batch);
            }
        }
        catch (Exception e)
        {
            Stop(e, null, publisherThread: true);
            FailSteppedInFlight();
        }
    }

    /// <summary>True once the batch's txns are committed; throws the commit stage's failure, as the publishing loop's wait does.</summary>
    private bool HeadCommitted(ProposedBatch head)
    {
        if (head.Txns.Count == 0)
            return true;
        _steppedHeadCommit ??= _commit.WaitCommittedAsync(head.Txns[^1].Zxid).AsTask();
        if (!_steppedHeadCommit.IsCompleted)
            return false;
        var committed = _steppedHeadCommit;
        _steppedHeadCommit = null;
        if (committed.IsFaulted)
        {
            PublishCommittedPrefix(head);
        }

        committed.GetAwaiter().GetResult();
        return true;
    }

    /// <summary>
    /// The commit stage failed while waiting for <paramref name="batch"/> (the leader lost its quorum): the txns of it
    /// that did commit are published all the same. The core counts them applied, so a tree without them would
    /// silently miss them once this member follows again (found by the deterministic simulator: a session created in
    /// the committed half of a batch was missing on its old leader at quiescence).
    /// </summary>
    private void PublishCommittedPrefix(ProposedBatch batch)
    {
        var committed = _commit.CommittedZxid;
        if (batch.Txns.Count > 0 && batch.Txns[0].Zxid <= committed)
        {
            _publisher.PublishBatch(batch, committed);
        }
    }

    private void FailSteppedInFlight()
    {
        while (_steppedInFlight.TryDequeue(out var pending))
        {
            FailUnregistered(pending);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Stepped)
        {
            // No loop to end: what is queued fails, and so does what waits for a commit that will never come.
            _queue.Writer.TryComplete();
            RunPending();
            if (Fault is null)
            {
                Stop(new ZkException(ZkErrorCode.ConnectionLoss, null, "The pipeline stopped."), null, publisherThread: true);
                FailSteppedInFlight();
            }

            Log.PipelineStopped(_logger, _proposer.LastZxid);
            return;
        }

        _queue.Writer.TryComplete();
        if (_loop is not null)
        {
            await _loop.ConfigureAwait(false);
        }

        Log.PipelineStopped(_logger, _proposer.LastZxid);
    }

    private async Task RunAsync()
    {
        if (_commit.CommitsAtOnce)
        {
            await RunAtOnceAsync().ConfigureAwait(false);
        }
        else
        {
            await RunStagedAsync().ConfigureAwait(false);
        }
    }

    /// <summary>A stage that commits at once: propose and publish each batch on this one loop (no hand-off: the fastest path in memory).</summary>
    private async Task RunAtOnceAsync()
    {
        var batch = new ProposedBatch();
        var reader = _queue.Reader;
        try
        {
            while (await reader.WaitToReadAsync().ConfigureAwait(false))
            {
                _proposer.Fill(batch, reader, MaxBatch);
                Propose(batch);
                using (Telemetry.StartCommit(batch.Txns.Count, batch.Txns.Count > 0 ? batch.Txns[0].Zxid : default, batch.Txns.Count > 0 ? batch.Txns[^1].Zxid : default))
                {
                    _publisher.PublishBatch(batch);
                }

                batch.Clear();
            }
        }
        catch (Exception e)
        {
            Stop(e, batch, publisherThread: true);
        }
    }

    /// <summary>
    /// Proposes a filled batch's txns; first, the answers it decided without a txn go to requests forwarded by learners
    /// (<see cref="IRemoteReplyTarget"/>): sent before the proposals, they reach each learner before the COMMIT of any
    /// later txn of their session, which the learner could otherwise not tell from a txn it has no request for.
    /// </summary>
    private void Propose(ProposedBatch batch)
    {
        foreach (var step in batch.Steps)
        {
            if (step.Txn is null && step.Write.Target is IRemoteReplyTarget remote)
                remote.Decided(step.Reply);
        }

        _commit.Propose(batch.Txns);
    }

    /// <summary>
    /// A stage that commits later: this loop proposes batch N+1 and hands it to the stage while the publishing loop
    /// waits for batch N to commit and publishes it, so an fsync (or a quorum round) stalls neither proposing nor
    /// writing, and a sync that starts after N+1 is written covers both (ZooKeeper's PrepRequestProcessor and
    /// SyncRequestProcessor run apart the same way). Two batches circulate, which bounds the work in flight.
    /// </summary>
    private async Task RunStagedAsync()
    {
        var free = Channel.CreateBounded<ProposedBatch>(BatchesInFlight);
        var full = Channel.CreateBounded<ProposedBatch>(BatchesInFlight);
        for (var i = 0; i < BatchesInFlight; i++)
        {
            free.Writer.TryWrite(new ProposedBatch());
        }

        var publisher = Task.Run(() => PublishLoopAsync(full.Reader, free.Writer));
        var reader = _queue.Reader;
        ProposedBatch? proposing = null;
        try
        {
            while (await reader.WaitToReadAsync().ConfigureAwait(false))
            {
                proposing = await free.Reader.ReadAsync().ConfigureAwait(false);
                _proposer.Fill(proposing, reader, MaxBatch);
                Propose(proposing);
                await full.Writer.WriteAsync(proposing).ConfigureAwait(false);
                proposing = null;
            }
        }
        catch (Exception e)
        {
            Stop(e, proposing, publisherThread: false);
        }
        finally
        {
            full.Writer.TryComplete();
            await publisher.ConfigureAwait(false);
        }
    }

    private async Task PublishLoopAsync(ChannelReader<ProposedBatch> full, ChannelWriter<ProposedBatch> free)
    {
        ProposedBatch? current = null;
        try
        {
            await foreach (var batch in full.ReadAllAsync().ConfigureAwait(false))
            {
                current = batch;
                using var commit = Telemetry.StartCommit(batch.Txns.Count, batch.Txns.Count > 0 ? batch.Txns[0].Zxid : default, batch.Txns.Count > 0 ? batch.Txns[^1].Zxid : default);
                if (batch.Txns.Count > 0)
                {
                    try
                    {
                        await _commit.WaitCommittedAsync(batch.Txns[^1].Zxid).ConfigureAwait(false);
                    }
                    catch
                    {
                        PublishCommittedPrefix(batch);
                        throw;
                    }
                }

                _publisher.PublishBatch(batch);
                batch.Clear();
                current = null;
                free.TryWrite(batch);
            }
        }
        catch (Exception e)
        {
            Stop(e, current, publisherThread: true);
            // Batches proposed behind the failed one were never committed: they fail too.
            while (full.TryRead(out var pending))
            {
                FailUnregistered(pending);
            }

            free.TryComplete(e);
        }
    }

    /// <summary>
    /// The pipeline cannot go on: no more writes are taken, and those not answered fail with ConnectionLoss. The
    /// waiting requests belong to the publisher's thread: only a stop on that thread answers them.
    /// </summary>
    private void Stop(Exception e, ProposedBatch? batch, bool publisherThread)
    {
        lock (_stopGate)
        {
            if (Fault is null)
            {
                Fault = e;
                // The commit stage ending (a leader's term is over) is how a term's pipeline normally stops.
                if (e is ZkException { Code: ZkErrorCode.ConnectionLoss })
                    Log.PipelineEnded(_logger, e.Message);
                else
                    Log.PipelineFailed(_logger, e);
            }
            _faulted.TrySetResult(Fault);
            _queue.Writer.TryComplete(e);
            if (publisherThread)
            {
                _publisher.FailWaiting();
            }

            if (batch is not null)
            {
                FailUnregistered(batch);
            }

            while (_queue.Reader.TryRead(out var write))
            {
                write.Target?.Complete(new Reply(ZkErrorCode.ConnectionLoss, write.Request.ErrorPath, null, State.Zxid, State));
            }
        }
    }

    /// <summary>Fails the requests of a batch the publisher has not taken (its waiting requests are answered by <see cref="Publisher.FailWaiting"/>).</summary>
    private void FailUnregistered(ProposedBatch batch)
    {
        if (batch.Registered)
        {
            return;
        }

        var state = State;
        foreach (var write in batch.Writes)
        {
            write.Target?.Complete(new Reply(ZkErrorCode.ConnectionLoss, write.Request.ErrorPath, null, state.Zxid, state));
        }
    }
}
