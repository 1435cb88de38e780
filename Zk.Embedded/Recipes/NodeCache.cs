using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Zk.Embedded.Api;

namespace Zk.Embedded.Recipes;

/// <summary>
/// A local copy of one znode's data, kept current by watches (Curator's <c>NodeCache</c>/<c>CuratorCache</c> for one
/// node): a persistent watch where the server has addWatch (ZooKeeper 3.6+ and this peer), one-shot watches set
/// again on each event otherwise. It reloads after every reconnect, so a change made while disconnected is seen.
/// </summary>
/// <remarks>
/// Guarantees: after <see cref="StartAsync(IZooKeeper, string, CancellationToken)"/> returns, <see cref="Current"/> holds the node as read then (null when
/// absent); every later change the session hears is followed by a reload and, when the data or existence changed, one
/// <see cref="Changed"/> event. Not guaranteed: an event per intermediate version (two quick writes may be seen as one),
/// or a current view while the connection is lost. The cache never creates or deletes the node.
/// </remarks>
public sealed class NodeCache : IAsyncDisposable
{
    private readonly IZooKeeper _zk;
    private readonly CancellationTokenSource _stop = new();
    private readonly RefreshLoop _refresh;
    private readonly Watcher _watcher;
    private readonly ILogger _logger;
    private bool _persistent;
    private volatile StrongBox<DataResult>? _current; // a box: readers see a whole DataResult, never a torn one

    private NodeCache(IZooKeeper zk, string path, ILogger logger)
    {
        _zk = zk;
        Path = path;
        _logger = logger;
        _refresh = new RefreshLoop(LoadAsync, path, logger, _stop.Token);
        _watcher = _refresh.OnWatch;
    }

    /// <summary>The cached node's path.</summary>
    public string Path { get; }

    /// <summary>The node's data and stat as last read; null when the node does not exist.</summary>
    public DataResult? Current => _current?.Value;

    /// <summary>Raised after a reload found the node changed, created or deleted (null then); on a background thread.</summary>
    public event Action<DataResult?>? Changed;

    /// <summary>Loads the node and starts watching it.</summary>
    public static ValueTask<NodeCache> StartAsync(IZooKeeper zk, string path, CancellationToken cancellationToken = default) =>
        StartAsync(zk, path, null, cancellationToken);

    /// <summary>Loads the node and starts watching it; failing and recovering reloads are logged to <paramref name="logger"/>.</summary>
    public static async ValueTask<NodeCache> StartAsync(IZooKeeper zk, string path, ILogger? logger, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(zk);
        var cache = new NodeCache(zk, ZkPaths.Validate(path, nameof(path)), logger ?? NullLogger.Instance);
        try
        {
            await zk.AddWatchAsync(path, cache._watcher, AddWatchMode.Persistent, cancellationToken).ConfigureAwait(false);
            cache._persistent = true;
        }
        catch (ZkException e) when (e.Code == ZkErrorCode.Unimplemented)
        {
            // A server before 3.6: one-shot watches, set again on every load.
        }

        zk.StateChanged += cache._refresh.OnSessionState;
        await cache._refresh.RequestAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
        if (cache._refresh.LastError is { } error)
        {
            await cache.DisposeAsync().ConfigureAwait(false);
            throw error;
        }

        return cache;
    }

    /// <summary>Stops watching; the persistent watch is removed from the server.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_stop.IsCancellationRequested)
        {
            return;
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        _zk.StateChanged -= _refresh.OnSessionState;
        try
        {
            await _zk.RemoveWatchesAsync(Path, _watcher, _persistent ? WatcherType.Persistent : WatcherType.Any, local: _zk.State != SessionState.Connected).ConfigureAwait(false);
        }
        catch (ZkException e)
        {
            // Already fired (one-shot) or the session is gone: nothing left to remove.
            Log.WatchLeftBehind(_logger, Path, e.Code);
        }
    }

    private async Task LoadAsync(CancellationToken cancellationToken)
    {
        var watcher = _persistent ? null : _watcher;
        DataResult? loaded = null;
        var stat = await SessionRetry.RunAsync(_zk, (Path, watcher), static (z, s, ct) => z.ExistsAsync(s.Path, s.watcher, ct), cancellationToken, _logger).ConfigureAwait(false);
        if (stat is not null)
        {
            try
            {
                loaded = await SessionRetry.RunAsync(_zk, (Path, watcher), static (z, s, ct) => z.GetDataAsync(s.Path, s.watcher, ct), cancellationToken, _logger).ConfigureAwait(false);
            }
            catch (ZkException e) when (e.Code == ZkErrorCode.NoNode)
            {
                // Deleted in between: the exists watch set above reports a re-create.
            }
        }

        var previous = Current;
        if (previous?.Stat.Mzxid == loaded?.Stat.Mzxid && previous?.Stat.Czxid == loaded?.Stat.Czxid)
        {
            return;
        }

        _current = loaded is { } value ? new StrongBox<DataResult>(value) : null;
        Changed?.Invoke(loaded);
    }
}
