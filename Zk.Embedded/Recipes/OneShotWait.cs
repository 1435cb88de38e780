using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Zk.Embedded.Api;

namespace Zk.Embedded.Recipes;

/// <summary>
/// One wait on a one-shot watch: <see cref="Watcher"/> is passed to the read that sets the watch, and
/// <see cref="Fired"/> completes when it fires or the session's state changes (either way the caller looks again).
/// A waiter that gives up removes its watch, so the server does not keep it until the node changes.
/// </summary>
internal sealed class OneShotWait : IDisposable
{
    private readonly IZooKeeper _zk;
    private readonly TaskCompletionSource _fired = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ILogger _logger;

    public OneShotWait(IZooKeeper zk, ILogger? logger = null)
    {
        _zk = zk;
        _logger = logger ?? NullLogger.Instance;
        Watcher = _ => _fired.TrySetResult();
        _zk.StateChanged += OnState;
    }

    public Watcher Watcher { get; }

    public Task Fired => _fired.Task;

    public void Dispose() => _zk.StateChanged -= OnState;

    /// <summary>Waits until the watch fires; on cancellation the watch is removed before the exception goes on.</summary>
    public async ValueTask WaitAsync(string path, WatcherType type, CancellationToken cancellationToken)
    {
        try
        {
            await _fired.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            await RemoveQuietlyAsync(path, type).ConfigureAwait(false);
            throw;
        }
    }

    private async ValueTask RemoveQuietlyAsync(string path, WatcherType type)
    {
        try
        {
            await _zk.RemoveWatchesAsync(path, Watcher, type, local: _zk.State != SessionState.Connected).ConfigureAwait(false);
        }
        catch (ZkException e)
        {
            // Fired meanwhile, or the connection is gone: the watch goes with the event or the session.
            Log.WatchLeftBehind(_logger, path, e.Code);
        }
    }

    private void OnState(KeeperState state) => _fired.TrySetResult();
}
