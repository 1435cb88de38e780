using Microsoft.Extensions.Logging;
using Zk.Embedded.Api;

namespace Zk.Embedded.Recipes;

/// <summary>
/// Watches a node this process holds (a lock node, a latch node) and its session, and says when the hold is
/// suspended (connection lost) and when it is lost: the session expired or closed, the node deleted, or the
/// connection lost for a whole session timeout. The last is detected here, on the client's clock, without waiting
/// for a server to say so (Curator's LOST after the session timeout passes while SUSPENDED).
/// </summary>
internal sealed class HeldNodeMonitor : IDisposable
{
    private readonly IZooKeeper _zk;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly long _fencingToken;
    private readonly CancellationTokenSource _lost = new();
    private readonly Watcher _watcher;
    private readonly object _gate = new();
    private ITimer? _suspendedTimer;
    private HoldState _state = HoldState.Held;

    public HeldNodeMonitor(IZooKeeper zk, CreateResult node, TimeProvider time, ILogger logger)
    {
        _zk = zk;
        _time = time;
        _logger = logger;
        _fencingToken = node.Stat.Czxid;
        Path = node.Path;
        _watcher = OnNodeEvent;
        _zk.StateChanged += OnSessionState;
        if (SessionRetry.HasEnded(zk.State))
        {
            MoveTo(HoldState.Lost, $"the session ended ({zk.State})");
        }
        else if (zk.State == SessionState.Connecting)
        {
            OnSessionState(KeeperState.Disconnected);
        }

        Arm();
    }

    public string Path { get; }

    public HoldState State
    {
        get
        {
            lock (_gate)
            {
                return _state;
            }
        }
    }

    /// <summary>Why the hold was lost; null while it is not.</summary>
    public string? LossReason { get; private set; }

    /// <summary>Canceled when the hold is lost or released.</summary>
    public CancellationToken Ended => _lost.Token;

    /// <summary>Raised on each change of <see cref="State"/>, on the thread that saw it; handlers must not block.</summary>
    public event Action<HoldState>? StateChanged;

    /// <summary>Stops watching and marks the hold released (unless lost before).</summary>
    public void Dispose()
    {
        MoveTo(HoldState.Released, null);
        _zk.StateChanged -= OnSessionState;
    }

    private void Arm() => _ = ArmAsync();

    private async Task ArmAsync()
    {
        try
        {
            var stat = await SessionRetry.RunAsync(_zk, this, static (z, m, ct) => z.ExistsAsync(m.Path, m._watcher, ct), _lost.Token).ConfigureAwait(false);
            if (stat is null)
            {
                MoveTo(HoldState.Lost, $"{Path} was deleted");
            }
        }
        catch (OperationCanceledException)
        {
            // Ended meanwhile.
        }
        catch (ZkException e)
        {
            MoveTo(HoldState.Lost, $"watching {Path} failed: {e.Message}");
        }
    }

    private void OnNodeEvent(WatchedEvent e)
    {
        if (e.Type == EventType.NodeDeleted)
        {
            MoveTo(HoldState.Lost, $"{Path} was deleted");
        }
        else if (e.Type != EventType.None && !_lost.IsCancellationRequested)
        {
            Arm(); // A data change fired the one-shot watch: watch again.
        }
    }

    private void OnSessionState(KeeperState state)
    {
        switch (state)
        {
            case KeeperState.Disconnected:
                if (MoveTo(HoldState.Suspended, null))
                {
                    // The peer expires a silent session after its timeout; counted from now that is, if anything, late.
                    var timer = _time.CreateTimer(_ => MoveTo(HoldState.Lost, $"no contact with the ensemble for the session timeout ({_zk.SessionTimeout})"), null, _zk.SessionTimeout, Timeout.InfiniteTimeSpan);
                    SwapTimer(timer);
                }

                break;
            case KeeperState.SyncConnected or KeeperState.ConnectedReadOnly:
                if (MoveTo(HoldState.Held, null))
                {
                    SwapTimer(null);
                    Arm(); // The node may have been deleted while the connection was down.
                }

                break;
            case KeeperState.Expired or KeeperState.Closed or KeeperState.AuthFailed:
                MoveTo(HoldState.Lost, $"the session ended ({state})");
                break;
        }
    }

    private void SwapTimer(ITimer? timer)
    {
        ITimer? old;
        lock (_gate)
        {
            old = _suspendedTimer;
            _suspendedTimer = timer;
        }

        old?.Dispose();
    }

    /// <summary>Moves to <paramref name="next"/> unless the hold already ended; true when it moved.</summary>
    private bool MoveTo(HoldState next, string? reason)
    {
        HoldState previous;
        lock (_gate)
        {
            if (_state is HoldState.Lost or HoldState.Released || _state == next)
            {
                return false;
            }

            previous = _state;
            _state = next;
            if (next == HoldState.Lost)
            {
                LossReason = reason;
            }
        }

        if (next is HoldState.Lost or HoldState.Released)
        {
            SwapTimer(null);
            try
            {
                _lost.Cancel();
            }
            catch (AggregateException e)
            {
                // A callback registered on the token threw; the hold ended all the same, and the other callbacks ran.
                Log.CallbackFailed(_logger, e, Path);
            }
        }

        LogMove(next, previous, reason);
        StateChanged?.Invoke(next);
        return true;
    }

    private void LogMove(HoldState next, HoldState previous, string? reason)
    {
        switch (next)
        {
            case HoldState.Suspended:
                Log.HoldSuspended(_logger, Path, _fencingToken, _zk.SessionTimeout);
                break;
            case HoldState.Held when previous == HoldState.Suspended:
                Log.HoldResumed(_logger, Path, _fencingToken);
                break;
            case HoldState.Lost:
                Log.HoldLost(_logger, Path, _fencingToken, reason);
                break;
        }
    }
}
