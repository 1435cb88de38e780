using System.Buffers;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Zk.Embedded.Api;
using Zk.Embedded.Consensus;
using Zk.Embedded.Transport;

namespace Zk.Embedded.Ensemble;

/// <summary>
/// Runs one <see cref="ZabPeer"/> for a real peer (docs/consensus.md, "how a driver uses it"): ticks from a timer
/// every tickTime, transport messages decoded and stepped in, proposals from the leader's commit stage; after each
/// input it drains the core's <see cref="Ready"/> in <see cref="ReadyOrder"/>: sends the messages, applies a SNAP's
/// restore, hands the persist requests to its <see cref="StorageWorker"/>, applies the committed txns in zxid order,
/// answers read indexes and reports role changes. The
/// worker's "durable up to seq" comes back as an input like any other, so the loop never waits on a disk. Every touch
/// of the core happens on this one loop, so the core stays single-threaded as it requires; a storage fault stops it.
/// </summary>
/// <remarks>
/// The inbox is bounded where it can be: at most <see cref="MaxQueuedEvents"/> transport events wait in it; past that
/// the pump stops reading the transport, whose own bounded queues then drop (a loss the protocol repairs by resync).
/// Ticks, storage reports, proposals and waits are never dropped: each is bounded by its source (one timer, the
/// storage worker's bounded queue, the leader pipeline's bounded batches in flight, the callers).
/// </remarks>
internal sealed partial class ConsensusDriver : IConsensusView, IProposalSink, IReadyHandler, IAsyncDisposable
{
    /// <summary>Transport events queued for the loop at most (back-pressure to the transport beyond).</summary>
    public const int MaxQueuedEvents = 1024;

    private readonly Channel<Input> _inbox = Channel.CreateUnbounded<Input>(new UnboundedChannelOptions { SingleReader = true });
    private readonly ArrayBufferWriter<byte> _encoded = new(1024);
    private readonly SemaphoreSlim _eventSlots = new(MaxQueuedEvents, MaxQueuedEvents);
    private readonly CancellationTokenSource _stopping = new();
    private readonly List<(Func<bool> Done, TaskCompletionSource Tcs)> _waiters = [];
    private readonly Dictionary<long, TaskCompletionSource<Zxid>> _reads = [];   // loop only; the core bounds it
    private long _lastReadId;
    private readonly ZabPeer _core;
    private readonly IPeerTransport _transport;
    private readonly Outbox _outbox;
    private readonly List<ZabMessage> _received = [];
    private readonly TxnArena _arena = new();   // the loop's: received txn records (Consensus/TxnArena.cs says why)
    private readonly StorageWorker _storage;
    private readonly IReplicatedState _state;
    private readonly ILogger _logger;
    private readonly ITimer _timer;
    private readonly SnapTransfers _snaps;
    private readonly PeriodicSnapshots _periodic;
    private long _ticks;
    private readonly Task _pump;
    private readonly Task _loop;
    private volatile Status _status = new(ServerState.Looking, null, null, false, ZabPhase.Election, default);
    private System.Diagnostics.Activity? _election;   // the loop's; open from LOOKING until serving

    public ConsensusDriver(ConsensusConfig config, IPeerTransport transport, IConsensusStore disk, IReplicatedState state,
        IConsensusRandom random, TimeProvider time, TimeSpan tickTime, ILogger logger, Action<ConsensusDriver>? attach = null,
        SnapshotSpool? spool = null, SnapshotPolicy? snapshots = null)
    {
        _transport = transport;
        _outbox = new Outbox(transport, TrafficLost);
        // A transfer that makes no progress for as long as the learner may take to sync is one it has given up on.
        _snaps = new SnapTransfers(transport, spool ?? new SnapshotSpool(disk.SpoolDirectory), config.MyId, 2L * config.InitLimit, logger);
        _state = state;
        _logger = logger;
        _core = new ZabPeer(config, disk.Load(), random, state);
        _storage = new StorageWorker(disk,
            seq => _inbox.Writer.TryWrite(new Input(InputKind.StorageDone, default, null, null) { Seq = seq }),
            fault => _inbox.Writer.TryWrite(new Input(InputKind.StorageFailed, default, null, null) { Fault = fault }));
        _periodic = new PeriodicSnapshots(snapshots ?? SnapshotPolicy.Default, state, _snaps.Spool, this, _storage.Enqueue, random, time, logger, disk.DurableAtOnce);
        attach?.Invoke(this); // before the loop runs: the first role change must find its handlers
        _loop = Task.Factory.StartNew(RunAsync, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap();
        _pump = Task.Run(PumpAsync);
        _timer = time.CreateTimer(static d => ((ConsensusDriver)d!)._inbox.Writer.TryWrite(Input.Tick), this, tickTime, tickTime);
    }

    /// <summary>The role and leadership as of the last step; read from any thread.</summary>
    public Status Current => _status;

    public int Id => _core.Id;

    /// <summary>Raised on the driver's loop for each role or phase change the core reports.</summary>
    public event Action<RoleChange>? RoleChanged;

    /// <summary>Raised on the driver's loop when a proposal cannot be made (no longer leader, or another zxid than expected).</summary>
    public event Action<Zxid, string>? ProposalRefused;

    /// <summary>
    /// Raised on the driver's loop for client traffic from another member (forwarded writes, replies, session
    /// activity): the core never sees it.
    /// </summary>
    public event Action<int, ClientTraffic>? TrafficReceived;

    /// <summary>
    /// Raised on the driver's loop when the transport reports the connection to a peer lost (a crash, a reset):
    /// whatever was in flight either way may be gone. The core has heard it first (a learner gives up that leader);
    /// client traffic, which nothing retransmits, must not wait for an answer that will never come.
    /// </summary>
    public event Action<int>? PeerDisconnected;

    /// <summary>Completes with the error that stopped the loop; never while it runs.</summary>
    public Task Completion => _loop;

    /// <summary>Queues txns for the core to propose, in zxid order; each must get exactly the zxid it carries.</summary>
    public void Propose(IReadOnlyList<ConsensusTxn> txns) => _inbox.Writer.TryWrite(new Input(InputKind.Propose, default, txns, null));

    /// <summary>Runs <paramref name="action"/> on the driver's loop, after the inputs queued before it; false once stopped.</summary>
    public bool Run(Action action) => _inbox.Writer.TryWrite(new Input(InputKind.Run, default, null, null, action));

    /// <summary>
    /// Sends client traffic to a member; on the driver's loop only (see <see cref="Run"/>), so it follows what the core
    /// sent before. False when the transport refused it (a full queue, a stopped transport): it will never arrive.
    /// </summary>
    public bool SendTraffic(int to, ClientTraffic message) => Send(to, message);

    /// <summary>
    /// A read index (docs/consensus.md, "Linearizable reads"): completes with the leader's commit point as of a quorum
    /// round started after this call, once this member has applied every txn up to it; fails with ConnectionLoss when
    /// this member does not serve, stops serving first, or hears no answer within the core's limit.
    /// </summary>
    public Task<Zxid> ReadIndexAsync()
    {
        var tcs = new TaskCompletionSource<Zxid>(TaskCreationOptions.RunContinuationsAsynchronously);
        var id = Interlocked.Increment(ref _lastReadId);
        if (!Run(() =>
            {
                _reads.Add(id, tcs);
                _core.ReadIndex(id);
            }))
        {
            tcs.TrySetException(ReadFailed("the member is stopping"));
        }
        return tcs.Task;
    }

    /// <summary>Completes once <paramref name="condition"/>, checked on the loop after each input, holds.</summary>
    public Task WaitUntilAsync(Func<bool> condition, CancellationToken cancellationToken = default)
    {
        var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_inbox.Writer.TryWrite(new Input(InputKind.Wait, default, null, (condition, tcs))))
            tcs.TrySetException(new ObjectDisposedException(nameof(ConsensusDriver)));
        return tcs.Task.WaitAsync(cancellationToken);
    }

    /// <summary>The core, for conditions passed to <see cref="WaitUntilAsync"/> (read it only there).</summary>
    internal ZabPeer Core => _core;

    /// <summary>Transport events waiting in the inbox (tests: a flood stays within <see cref="MaxQueuedEvents"/>).</summary>
    internal int QueuedEvents => MaxQueuedEvents - _eventSlots.CurrentCount;

    private async Task PumpAsync()
    {
        await foreach (var e in _transport.Events.ReadAllAsync().ConfigureAwait(false))
        {
            try
            {
                await _eventSlots.WaitAsync(_stopping.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                e.Dispose(); // the loop stopped: nothing will read the rest
                return;
            }

            if (!_inbox.Writer.TryWrite(new Input(InputKind.Event, e, null, null)))
            {
                e.Dispose();
                _eventSlots.Release();
            }
        }
    }

    private async Task RunAsync()
    {
        var reader = _inbox.Reader;
        try
        {
            while (await reader.WaitToReadAsync().ConfigureAwait(false))
            {
                while (reader.TryRead(out var input))
                {
                    Handle(input);
                    Drain();
                    if (_snaps.Sending)
                    {
                        _outbox.FlushAll(); // what the core sent before a chunk goes before it
                        _snaps.Pump(_ticks);
                    }
                    _outbox.InputHandled();
                }

                _outbox.FlushAll();
                CheckWaiters();
            }
        }
        catch (Exception e)
        {
            _stopping.Cancel(); // the pump may wait for a slot nobody will free
            Log.DriverFailed(_logger, e, _core.Id);
            _status = new Status(ServerState.Looking, null, null, false, ZabPhase.Election, default);
            throw;
        }
        finally
        {
            foreach (var (_, tcs) in _waiters)
                tcs.TrySetCanceled();
            foreach (var tcs in _reads.Values)
                tcs.TrySetException(ReadFailed("the member stopped"));
            _reads.Clear();
        }
    }

    private void AnswerRead(ReadIndexResult read)
    {
        if (!_reads.Remove(read.Id, out var tcs))
            return;
        if (read.Index is { } index)
            tcs.TrySetResult(index);
        else
            tcs.TrySetException(ReadFailed($"it is {_core.State} and cannot confirm its leader with a quorum"));
    }

    private ZkException ReadFailed(string why) => LinearizableReadFailed(_core.Id, why);

    /// <summary>The ConnectionLoss a member's failed read index gives its client (the simulator's members give the same).</summary>
    internal static ZkException LinearizableReadFailed(int server, string why) =>
        new(ZkErrorCode.ConnectionLoss, null, $"Server {server} cannot serve a linearizable read: {why}. Retry, on another member if this persists.");

    private void Handle(in Input input)
    {
        switch (input.Kind)
        {
            case InputKind.Tick:
                _ticks++;
                _core.Tick();
                break;
            case InputKind.Event:
                _eventSlots.Release();
                using (input.Event)
                    Receive(input.Event);
                break;
            case InputKind.Propose:
                ProposeNow(input.Txns!);
                break;
            case InputKind.Wait:
                _waiters.Add(input.Waiter!.Value);
                break;
            case InputKind.StorageDone:
                _snaps.Durable(input.Seq);
                _core.StorageDone(input.Seq);
                break;
            case InputKind.StorageFailed:
                // A broken invariant or a failed write: the peer must stop rather than go on with a disk it cannot trust.
                throw new InvalidOperationException($"Peer {_core.Id} stopped: its consensus storage failed: {input.Fault!.Message}", input.Fault);
            case InputKind.Run:
                input.Action!();
                break;
        }
    }

    private void ProposeNow(IReadOnlyList<ConsensusTxn> txns)
    {
        if (ProposalIntake.ProposeAll(_core, txns) is var (zxid, reason))
        {
            // The core has ended its term if it still led (ProposeAll); the pipeline that sent the txn stops.
            Log.ProposalRefused(_logger, _core.Id, zxid, reason);
            ProposalRefused?.Invoke(zxid, reason);
        }

        // Once per batch: the core's proposals, log writes and messages for the whole batch go out together.
        Drain();
    }

    private void Drain()
    {
        while (_core.HasReady)
            ReadyOrder.HandOn(_core.TakeReady(), this);
        _status = CurrentStatus();
    }

    private Status CurrentStatus() => new(_core.State, _core.Leader, _core.EstablishedEpoch, _core.IsServing, _core.Phase, _core.LearnerCounts);

    void IReadyHandler.Send(int to, ZabMessage message) => Send(to, message);

    void IReadyHandler.Restore(ConsensusSnapshot snapshot) => _state.Restore(snapshot);

    void IReadyHandler.Persist(List<PersistRequest> requests)
    {
        // Off this loop: the worker reports each batch durable as a StorageDone input (the core waits for it before
        // any message that promises durability, such as an ACK).
        foreach (var request in requests)
        {
            if (request is InstallSnapshot { Snapshot.Body: SnapshotBody body })
                _snaps.Installing(request.Seq, body);
            if (request is InstallSnapshot or TruncateAfter)
                _periodic.HistoryRewritten();
            _storage.Enqueue(request);
        }

        // A store in memory was written just now, on this loop: durable at once, as the worker would report it.
        if (_storage.WritesInline && _storage.TakeWritten() is >= 0 and var written)
        {
            _snaps.Durable(written);
            _core.StorageDone(written);
        }
    }

    void IReadyHandler.Apply(List<ConsensusTxn> committed)
    {
        foreach (var txn in committed)
            _state.Apply(txn);
        _periodic.Applied(committed.Count);
    }

    void IReadyHandler.AnswerReads(List<ReadIndexResult> reads)
    {
        foreach (var read in reads)
            AnswerRead(read);
    }

    void IReadyHandler.RoleChanged(RoleChange change)
    {
        _status = CurrentStatus(); // what the handlers read is the state the whole output left
        Log.RoleChanged(_logger, _core.Id, change.State, change.Phase, change.Epoch, change.Reason);
        if (change.State == ServerState.Looking)
            _snaps.LeaderLost(change.Reason);
        TraceElection(change);
        RoleChanged?.Invoke(change);
    }

    private void CheckWaiters()
    {
        for (var i = _waiters.Count - 1; i >= 0; i--)
        {
            if (_waiters[i].Done())
            {
                _waiters[i].Tcs.TrySetResult();
                _waiters.RemoveAt(i);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _timer.DisposeAsync().ConfigureAwait(false);
        await _periodic.DisposeAsync().ConfigureAwait(false);
        await _transport.DisposeAsync().ConfigureAwait(false);
        _stopping.Cancel();
        await _pump.ConfigureAwait(false);
        _inbox.Writer.TryComplete();
        try
        {
            await _loop.ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Already logged as DriverFailed; disposal only has to stop it.
        }

        await _storage.DisposeAsync().ConfigureAwait(false);
        _snaps.Dispose();
        _stopping.Dispose();
        _eventSlots.Dispose();
        _election?.SetStatus(System.Diagnostics.ActivityStatusCode.Error, "stopped before an epoch was established");
        _election?.Dispose();
    }

    /// <summary>A peer's place as of the driver's last step.</summary>
    /// <param name="Learners">on a leader: its learners and the synced followers and observers (mntr's counts).</param>
    internal sealed record Status(ServerState State, int? Leader, uint? EstablishedEpoch, bool IsServing, ZabPhase Phase,
        (int Learners, int SyncedFollowers, int SyncedObservers) Learners);

    private enum InputKind { Tick, Event, Propose, Wait, StorageDone, StorageFailed, Run }

    private readonly record struct Input(InputKind Kind, TransportEvent Event, IReadOnlyList<ConsensusTxn>? Txns, (Func<bool>, TaskCompletionSource)? Waiter, Action? Action = null)
    {
        public static Input Tick => new(InputKind.Tick, default, null, null);

        public long Seq { get; init; }

        public Exception? Fault { get; init; }
    }
}
