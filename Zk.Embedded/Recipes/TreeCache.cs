using System.Collections.Frozen;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Zk.Embedded.Api;

namespace Zk.Embedded.Recipes;

/// <summary>What happened to one node of a <see cref="TreeCache"/>.</summary>
public enum TreeChange
{
    /// <summary>The node appeared (or was there at the initial load).</summary>
    Added,

    /// <summary>The node's data changed (or it was deleted and created again).</summary>
    Updated,

    /// <summary>The node is gone.</summary>
    Removed,
}

/// <summary>One change a <see cref="TreeCache"/> saw.</summary>
/// <param name="Change">Added, updated or removed.</param>
/// <param name="Path">The node's full path.</param>
/// <param name="Data">Its data and stat after the change; for <see cref="TreeChange.Removed"/>, as last cached.</param>
public readonly record struct TreeCacheEvent(TreeChange Change, string Path, DataResult Data);

/// <summary>
/// A local copy of a subtree (Curator's <c>TreeCache</c>/<c>CuratorCache</c>): every node under the root, with its
/// data, kept current by a persistent recursive watch where the server has addWatch (ZooKeeper 3.6+ and this peer),
/// else one-shot data and child watches on every node, set again on each load.
/// </summary>
/// <remarks>
/// <para>Subscribe to <see cref="Changed"/> and <see cref="Initialized"/>, then call <see cref="StartAsync"/>: the
/// initial load raises <see cref="TreeChange.Added"/> for every node (parents first), then <see cref="Initialized"/>.
/// Each later change the session hears is followed by a reload of the subtree and one event per node that came, went
/// or changed (removals deepest first). It reloads after every reconnect, so changes made while disconnected are seen.</para>
/// <para>Not guaranteed: an event per intermediate version (two quick writes may show as one); a current view while
/// disconnected. A reload reads the whole subtree: the cache is meant for configuration-sized trees. The cache never
/// writes; it stops (keeping its last view) when its session ends.</para>
/// </remarks>
public sealed class TreeCache : IAsyncDisposable
{
    private readonly IZooKeeper _zk;
    private readonly CancellationTokenSource _stop = new();
    private readonly RefreshLoop _refresh;
    private readonly Watcher _watcher;
    private readonly ILogger _logger;
    private bool _persistent;
    private bool _initialized;
    private volatile FrozenDictionary<string, DataResult> _nodes = FrozenDictionary<string, DataResult>.Empty;

    /// <summary>A cache of the subtree at <paramref name="path"/>; nothing is read until <see cref="StartAsync"/>.</summary>
    public TreeCache(IZooKeeper zk, string path)
        : this(zk, path, null)
    {
    }

    /// <summary>A cache of the subtree at <paramref name="path"/> that logs failing and recovering reloads to <paramref name="logger"/>.</summary>
    public TreeCache(IZooKeeper zk, string path, ILogger? logger)
    {
        ArgumentNullException.ThrowIfNull(zk);
        _zk = zk;
        Path = ZkPaths.Validate(path, nameof(path));
        _logger = logger ?? NullLogger.Instance;
        _refresh = new RefreshLoop(LoadAsync, Path, _logger, _stop.Token);
        _watcher = _refresh.OnWatch;
    }

    /// <summary>The subtree's root.</summary>
    public string Path { get; }

    /// <summary>Every cached node (the root included, when it exists) by full path.</summary>
    public IReadOnlyDictionary<string, DataResult> Nodes => _nodes;

    /// <summary>Whether the cache watches with a persistent recursive watch (false: one-shot watches, a server before 3.6).</summary>
    public bool UsesPersistentWatch => _persistent;

    /// <summary>Raised for each node that came, went or changed, on a background thread; handlers must not block.</summary>
    public event Action<TreeCacheEvent>? Changed;

    /// <summary>Raised once, after the initial load's events.</summary>
    public event Action? Initialized;

    /// <summary>Starts watching and loads the subtree; returns after the initial load.</summary>
    /// <exception cref="ZkException">what the initial load met (SessionExpired, NoAuth, ...); the cache is stopped then.</exception>
    public async ValueTask StartAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            await _zk.AddWatchAsync(Path, _watcher, AddWatchMode.PersistentRecursive, cancellationToken).ConfigureAwait(false);
            _persistent = true;
        }
        catch (ZkException e) when (e.Code == ZkErrorCode.Unimplemented)
        {
            // A server before 3.6: one-shot watches on every node, set again on every load.
        }

        _zk.StateChanged += _refresh.OnSessionState;
        await _refresh.RequestAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
        if (_refresh.LastError is { } error)
        {
            await DisposeAsync().ConfigureAwait(false);
            throw error;
        }
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
        if (_persistent)
        {
            try
            {
                await _zk.RemoveWatchesAsync(Path, _watcher, WatcherType.PersistentRecursive, local: _zk.State != SessionState.Connected).ConfigureAwait(false);
            }
            catch (ZkException e)
            {
                // The session is gone: nothing left to remove.
                Log.WatchLeftBehind(_logger, Path, e.Code);
            }
        }
    }

    private async Task LoadAsync(CancellationToken cancellationToken)
    {
        var loaded = new Dictionary<string, DataResult>(StringComparer.Ordinal);
        await LoadNodeAsync(Path, loaded, cancellationToken).ConfigureAwait(false);
        var previous = _nodes;
        _nodes = loaded.ToFrozenDictionary(StringComparer.Ordinal);
        foreach (var change in Diff(previous, loaded))
        {
            Changed?.Invoke(change);
        }

        if (!_initialized)
        {
            _initialized = true;
            Initialized?.Invoke();
        }
    }

    private async ValueTask LoadNodeAsync(string path, Dictionary<string, DataResult> loaded, CancellationToken cancellationToken)
    {
        var watcher = _persistent ? null : _watcher;
        try
        {
            // getData watches for a change or delete; on a missing node exists leaves a watch for its create.
            loaded[path] = await SessionRetry.RunAsync(_zk, (path, watcher), static (z, s, ct) => z.GetDataAsync(s.path, s.watcher, ct), cancellationToken, _logger).ConfigureAwait(false);
            var children = await SessionRetry.RunAsync(_zk, (path, watcher), static (z, s, ct) => z.GetChildrenAsync(s.path, s.watcher, ct), cancellationToken, _logger).ConfigureAwait(false);
            foreach (var child in children)
            {
                await LoadNodeAsync(ZkPaths.Join(path, child), loaded, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (ZkException e) when (e.Code == ZkErrorCode.NoNode)
        {
            loaded.Remove(path);
            if (path == Path && watcher is not null)
            {
                await SessionRetry.RunAsync(_zk, (path, watcher), static (z, s, ct) => z.ExistsAsync(s.path, s.watcher, ct), cancellationToken, _logger).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Added (parents first) and updated nodes, then removed ones (deepest first).</summary>
    internal static List<TreeCacheEvent> Diff(IReadOnlyDictionary<string, DataResult> before, IReadOnlyDictionary<string, DataResult> after)
    {
        var changes = new List<TreeCacheEvent>();
        foreach (var (path, data) in after.OrderBy(n => n.Key, StringComparer.Ordinal))
        {
            if (!before.TryGetValue(path, out var old))
            {
                changes.Add(new TreeCacheEvent(TreeChange.Added, path, data));
            }
            else if (old.Stat.Mzxid != data.Stat.Mzxid || old.Stat.Czxid != data.Stat.Czxid)
            {
                changes.Add(new TreeCacheEvent(TreeChange.Updated, path, data));
            }
        }

        foreach (var (path, data) in before.OrderByDescending(n => n.Key, StringComparer.Ordinal))
        {
            if (!after.ContainsKey(path))
            {
                changes.Add(new TreeCacheEvent(TreeChange.Removed, path, data));
            }
        }

        return changes;
    }
}
