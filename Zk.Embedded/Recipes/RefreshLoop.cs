using Microsoft.Extensions.Logging;
using Zk.Embedded.Api;

namespace Zk.Embedded.Recipes;

/// <summary>
/// Runs a cache's reload whenever asked, one reload at a time: a request during a reload makes one more reload after
/// it, so the last reload always starts after the last change, and results never arrive out of order.
/// </summary>
internal sealed class RefreshLoop(Func<CancellationToken, Task> reload, string path, ILogger logger, CancellationToken stopping)
{
    private readonly object _gate = new();
    private bool _pending;
    private bool _runnerActive; // under _gate: a runner that has not yet decided to stop, so it will see _pending
    private Task _running = Task.CompletedTask;

    /// <summary>Test seam: runs after a runner decided to stop (nothing pending), before its task completes.</summary>
    internal Action? RunnerStopping { get; set; }

    /// <summary>The exception of the last reload that failed with something other than a stop; null after a good one.</summary>
    public Exception? LastError { get; private set; }

    /// <summary>A watcher for the cached nodes: every node event asks for a reload.</summary>
    public void OnWatch(WatchedEvent e)
    {
        if (e.Type != EventType.None)
        {
            _ = RequestAsync();
        }
    }

    /// <summary>A session-state handler: every reconnect asks for a reload, so changes made while disconnected are seen.</summary>
    public void OnSessionState(KeeperState state)
    {
        if (state == KeeperState.SyncConnected)
        {
            _ = RequestAsync();
        }
    }

    /// <summary>Asks for a reload; the returned task completes once a reload that started after this call has finished.</summary>
    public Task RequestAsync()
    {
        lock (_gate)
        {
            _pending = true;
            // Not _running.IsCompleted: a runner that has decided to stop is not complete yet, and would drop this request.
            if (!_runnerActive)
            {
                _runnerActive = true;
                _running = Task.Run(RunAsync);
            }

            return _running;
        }
    }

    private async Task RunAsync()
    {
        try
        {
            await RunPendingAsync().ConfigureAwait(false);
        }
        finally
        {
            RunnerStopping?.Invoke();
        }
    }

    /// <summary>Reloads while requests are pending; clears <see cref="_runnerActive"/> in the same step that finds none.</summary>
    private async Task RunPendingAsync()
    {
        while (true)
        {
            lock (_gate)
            {
                if (!_pending || stopping.IsCancellationRequested)
                {
                    _runnerActive = false;
                    return;
                }

                _pending = false;
            }

            try
            {
                await reload(stopping).ConfigureAwait(false);
                if (LastError is not null)
                {
                    LastError = null;
                    Log.CacheReloadRecovered(logger, path);
                }
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                // Stopped: the next turn of the loop sees it and ends the runner.
            }
            catch (Exception e)
            {
                // SessionExpired and the like: the cache keeps its last view; the next event or reconnect tries again.
                LastError = e;
                Log.CacheReloadFailed(logger, e, path);
            }
        }
    }
}
