using Microsoft.Extensions.Logging;
using Zk.Embedded.Api;

namespace Zk.Embedded.Recipes;

/// <summary>
/// The children of one folder with their data, kept current by one-shot watches (a child watch on the folder and a
/// data watch on each child, set again on each load) and a reload after every reconnect. One reload at a time
/// (<see cref="RefreshLoop"/>); <see cref="Changed"/> only when a child came, went or changed its data.
/// </summary>
internal sealed class ChildrenCache
{
    private readonly IZooKeeper _zk;
    private readonly CancellationTokenSource _stop = new();
    private readonly RefreshLoop _refresh;
    private readonly Watcher _watcher;
    private readonly ILogger _logger;
    private volatile IReadOnlyList<CachedChild> _children = [];

    public ChildrenCache(IZooKeeper zk, string folder, ILogger logger)
    {
        _zk = zk;
        Folder = folder;
        _logger = logger;
        _refresh = new RefreshLoop(LoadAsync, folder, logger, _stop.Token);
        _watcher = _refresh.OnWatch;
    }

    public string Folder { get; }

    /// <summary>The children as last loaded, ordered by name (ordinal).</summary>
    public IReadOnlyList<CachedChild> Children => _children;

    /// <summary>Raised after a reload found a child added, removed or changed; on a background thread.</summary>
    public event Action<IReadOnlyList<CachedChild>>? Changed;

    /// <summary>Loads the children (the folder must exist) and starts watching; throws what the first load met.</summary>
    public async ValueTask StartAsync(CancellationToken cancellationToken)
    {
        _zk.StateChanged += _refresh.OnSessionState;
        await _refresh.RequestAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
        if (_refresh.LastError is { } error)
        {
            await StopAsync().ConfigureAwait(false);
            throw error;
        }
    }

    public async ValueTask StopAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        _zk.StateChanged -= _refresh.OnSessionState;
    }

    private async Task LoadAsync(CancellationToken cancellationToken)
    {
        var names = await SessionRetry.RunAsync(_zk, this, static (z, c, ct) => z.GetChildrenAsync(c.Folder, c._watcher, ct), cancellationToken, _logger).ConfigureAwait(false);
        var children = new List<CachedChild>(names.Count);
        foreach (var name in names.Order(StringComparer.Ordinal))
        {
            try
            {
                var data = await SessionRetry.RunAsync(_zk, (ZkPaths.Join(Folder, name), _watcher), static (z, s, ct) => z.GetDataAsync(s.Item1, s._watcher, ct), cancellationToken, _logger).ConfigureAwait(false);
                children.Add(new CachedChild(name, data));
            }
            catch (ZkException e) when (e.Code == ZkErrorCode.NoNode)
            {
                // Left between getChildren and getData; the child watch reports it.
            }
        }

        if (!children.SequenceEqual(_children, SameVersion.Instance))
        {
            _children = children;
            Changed?.Invoke(children);
        }
    }

    /// <summary>The same child at the same data version: name, czxid and mzxid match.</summary>
    private sealed class SameVersion : IEqualityComparer<CachedChild>
    {
        public static readonly SameVersion Instance = new();

        public bool Equals(CachedChild? x, CachedChild? y) =>
            x?.Name == y?.Name && x?.Data.Stat.Czxid == y?.Data.Stat.Czxid && x?.Data.Stat.Mzxid == y?.Data.Stat.Mzxid;

        public int GetHashCode(CachedChild obj) => obj.Name.GetHashCode(StringComparison.Ordinal);
    }
}

/// <summary>One child of a cached folder: its name (not the full path), data and stat as last loaded.</summary>
/// <param name="Name">The child's name within the folder.</param>
/// <param name="Data">Its data and stat.</param>
internal sealed record CachedChild(string Name, DataResult Data);
