using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Zk.Embedded.Api;

namespace Zk.Embedded.Recipes;

/// <summary>
/// Leader election among processes, on any <see cref="IZooKeeper"/> session: Curator's <c>LeaderLatch</c> protocol
/// (protected ephemeral-sequential <c>latch-</c> nodes under the latch path, the lowest leads, each watches only
/// the one before it). The participant id is the node's data, as in Curator.
/// </summary>
/// <remarks>
/// <para>Guarantees: at most one participant whose session is connected holds a term; when the leader's process dies,
/// its session expires or closes, or it disposes its latch, the next participant in line is elected. Each term
/// carries a fencing token that grows from leader to leader.</para>
/// <para>A term ends as soon as the connection is lost (Curator's standard error policy: SUSPENDED ends
/// leadership), since another participant may be elected once the session timeout passes; it starts again with the
/// same node and token if the session survives. When the session ends, the latch stops (<see cref="IsStopped"/>):
/// start a new latch on a new session.</para>
/// <para>Not guaranteed: that an old leader stops acting before a new one starts (a paused process notices late);
/// guard shared resources with <see cref="LeadershipTerm.FencingToken"/>.</para>
/// </remarks>
public sealed class LeaderLatch : IAsyncDisposable
{
    /// <summary>Curator's latch node name (<c>LeaderLatch.LOCK_NAME</c>).</summary>
    internal const string LatchName = "latch-";

    private readonly IZooKeeper _zk;
    private readonly SequentialContender _contender;
    private readonly byte[] _participantData;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly object _gate = new();
    private LeadershipTerm? _term;
    private TaskCompletionSource<LeadershipTerm> _elected = NewElection();
    private Task _loop = Task.CompletedTask;

    private LeaderLatch(IZooKeeper zk, string latchPath, string participantId, TimeProvider time, ILogger logger)
    {
        _zk = zk;
        _logger = logger;
        LatchPath = latchPath;
        ParticipantId = participantId;
        _participantData = Encoding.UTF8.GetBytes(participantId);
        _time = time;
        _contender = new SequentialContender(zk, latchPath, LatchName, maxLeases: 1, logger);
    }

    /// <summary>The latch's path.</summary>
    public string LatchPath { get; }

    /// <summary>This participant's id, stored as its node's data.</summary>
    public string ParticipantId { get; }

    /// <summary>The current term, or null while this participant does not lead.</summary>
    public LeadershipTerm? CurrentTerm
    {
        get
        {
            lock (_gate)
            {
                return _term;
            }
        }
    }

    /// <summary>True while this participant leads.</summary>
    public bool HasLeadership => CurrentTerm is not null;

    /// <summary>True once the latch stopped contending: disposed, or its session ended.</summary>
    public bool IsStopped => _loop.IsCompleted;

    /// <summary>Why the latch stopped on its own (its session ended); null otherwise.</summary>
    public Exception? StopReason { get; private set; }

    /// <summary>Raised when this participant becomes leader, on a background thread, before <see cref="WaitForLeadershipAsync"/> returns that term; handlers must not block.</summary>
    public event Action<LeadershipTerm>? Elected;

    /// <summary>Raised when a term ends (after <see cref="LeadershipTerm.Ended"/> is canceled); handlers must not block.</summary>
    public event Action<LeadershipTerm>? Defeated;

    /// <summary>Starts contending for leadership of <paramref name="latchPath"/>; subscribe to the events before or read <see cref="CurrentTerm"/>.</summary>
    public static LeaderLatch Start(IZooKeeper zk, string latchPath, string? participantId = null) => Start(zk, latchPath, participantId, TimeProvider.System, null);

    /// <summary>
    /// Starts contending for leadership of <paramref name="latchPath"/>, logging each term's start and end (with its
    /// fencing token), a lost connection or node, and the latch stopping to <paramref name="logger"/>.
    /// </summary>
    public static LeaderLatch Start(IZooKeeper zk, string latchPath, string? participantId, ILogger? logger) => Start(zk, latchPath, participantId, TimeProvider.System, logger);

    internal static LeaderLatch Start(IZooKeeper zk, string latchPath, string? participantId, TimeProvider time, ILogger? logger)
    {
        ArgumentNullException.ThrowIfNull(zk);
        ZkPaths.Validate(latchPath, nameof(latchPath));
        var latch = new LeaderLatch(zk, latchPath, participantId ?? $"0x{zk.SessionId:x}", time, logger ?? NullLogger.Instance);
        latch._loop = Task.Run(latch.RunAsync);
        return latch;
    }

    /// <summary>Waits until this participant leads and returns the term (at once when it leads now).</summary>
    /// <exception cref="ObjectDisposedException">the latch stopped.</exception>
    public Task<LeadershipTerm> WaitForLeadershipAsync(CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            return _elected.Task.WaitAsync(cancellationToken);
        }
    }

    /// <summary>Stops contending: ends a current term and deletes this participant's node, so the next one is elected.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
    }

    private async Task RunAsync()
    {
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                var node = await _contender.AcquireAsync(_participantData, null, _stop.Token).ConfigureAwait(false);
                await LeadAsync(node!).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
            // Disposed.
        }
        catch (Exception e)
        {
            // The session ended (SessionExpired) or refused the latch (NoAuth, ...): nothing more to contend with.
            StopReason = e;
            Log.LatchStopped(_logger, e, ParticipantId, LatchPath);
        }
        finally
        {
            lock (_gate)
            {
                _elected.TrySetException(new ObjectDisposedException(nameof(LeaderLatch), StopReason?.Message ?? "the latch was disposed"));
            }
        }
    }

    /// <summary>Leads in terms while the node is held (a term per connected stretch); returns when the node is lost or the latch stops, its node deleted.</summary>
    private async Task LeadAsync(CreateResult node)
    {
        // The semaphore outlives the monitor: disposing the monitor raises its last state change.
        using var changed = new SemaphoreSlim(0);
        using var monitor = new HeldNodeMonitor(_zk, node, _time, _logger);
        monitor.StateChanged += _ => changed.Release();
        try
        {
            for (var state = monitor.State; state is not (HoldState.Lost or HoldState.Released); state = monitor.State)
            {
                if (state == HoldState.Held)
                {
                    BeginTerm(node);
                }

                await changed.WaitAsync(_stop.Token).ConfigureAwait(false);
                EndTerm();
            }
        }
        finally
        {
            EndTerm();
            await SequentialContender.DeleteQuietlyAsync(_zk, node.Path, _logger).ConfigureAwait(false);
        }

        if (SessionRetry.HasEnded(_zk.State))
        {
            throw new ZkException(ZkErrorCode.SessionExpired, node.Path, $"the latch's session ended ({_zk.State}): {monitor.LossReason}");
        }
    }

    private void BeginTerm(CreateResult node)
    {
        var term = new LeadershipTerm(node.Path, node.Stat.Czxid);
        // Logged before anyone waiting is woken: what the new leader's code logs next follows this line.
        Log.LeadershipGained(_logger, ParticipantId, LatchPath, term.NodePath, term.FencingToken);
        TaskCompletionSource<LeadershipTerm> election;
        lock (_gate)
        {
            _term = term;
            election = _elected;
        }

        // The handlers run before anyone waiting is woken, so code that subscribes once WaitForLeadershipAsync has
        // returned hears only later terms, not the one it was handed (which it heard a second time when the waiter's
        // continuation ran before this thread raised the event).
        try
        {
            Elected?.Invoke(term);
        }
        finally
        {
            election.TrySetResult(term);
        }
    }

    private void EndTerm()
    {
        LeadershipTerm? term;
        lock (_gate)
        {
            term = _term;
            _term = null;
            if (term is not null)
            {
                _elected = NewElection();
            }
        }

        if (term is not null)
        {
            term.End(_logger);
            Log.LeadershipEnded(_logger, ParticipantId, LatchPath, term.NodePath, term.FencingToken);
            Defeated?.Invoke(term);
        }
    }

    private static TaskCompletionSource<LeadershipTerm> NewElection() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
