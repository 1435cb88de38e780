using Zk.Embedded.Api;

namespace Zk.Embedded.Recipes;

/// <summary>
/// The instances of one service, kept current by a child watch on <c>basePath/name</c> (set again on each load and
/// after each reconnect), with round-robin and random picks to spread load over them.
/// </summary>
/// <remarks>
/// Guarantees: after <see cref="StartAsync"/> returns, <see cref="Instances"/> is the registered set as read then;
/// each later registration or departure the session hears is followed by a reload and a <see cref="Changed"/> event.
/// Not guaranteed: that a picked instance is still alive (it may have died since the last reload); callers retry
/// on another pick.
/// </remarks>
public sealed class ServiceCache : IAsyncDisposable
{
    private readonly IZooKeeper _zk;
    private readonly CancellationTokenSource _stop = new();
    private readonly RefreshLoop _refresh;
    private readonly Watcher _watcher;
    private volatile IReadOnlyList<ServiceInstance> _instances = [];
    private int _next = -1;

    private ServiceCache(IZooKeeper zk, string folder)
    {
        _zk = zk;
        Folder = folder;
        _refresh = new RefreshLoop(LoadAsync, _stop.Token);
        _watcher = OnEvent;
    }

    /// <summary>The service's folder, <c>basePath/name</c>.</summary>
    public string Folder { get; }

    /// <summary>The instances as last loaded, ordered by id.</summary>
    public IReadOnlyList<ServiceInstance> Instances => _instances;

    /// <summary>Raised after a reload changed the set of instances; on a background thread.</summary>
    public event Action<IReadOnlyList<ServiceInstance>>? Changed;

    /// <summary>Loads the service's instances and starts watching them.</summary>
    public static async ValueTask<ServiceCache> StartAsync(IZooKeeper zk, string basePath, string serviceName, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(zk);
        var cache = new ServiceCache(zk, ZkPaths.Validate(ZkPaths.Join(ZkPaths.Validate(basePath, nameof(basePath)), serviceName), nameof(serviceName)));
        await ZkPaths.CreateAllAsync(zk, cache.Folder, CreateMode.Persistent, cancellationToken).ConfigureAwait(false);
        zk.StateChanged += cache.OnState;
        await cache._refresh.RequestAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
        if (cache._refresh.LastError is { } error)
        {
            await cache.DisposeAsync().ConfigureAwait(false);
            throw error;
        }

        return cache;
    }

    /// <summary>The next instance in turn, or null when there is none.</summary>
    public ServiceInstance? PickRoundRobin()
    {
        var instances = _instances;
        return instances.Count == 0 ? null : instances[(int)((uint)Interlocked.Increment(ref _next) % (uint)instances.Count)];
    }

    /// <summary>A random instance, or null when there is none.</summary>
    public ServiceInstance? PickRandom()
    {
        var instances = _instances;
        return instances.Count == 0 ? null : instances[Random.Shared.Next(instances.Count)];
    }

    /// <summary>Stops watching.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        _zk.StateChanged -= OnState;
    }

    private void OnEvent(WatchedEvent e)
    {
        if (e.Type != EventType.None)
        {
            _ = _refresh.RequestAsync();
        }
    }

    private void OnState(KeeperState state)
    {
        if (state == KeeperState.SyncConnected)
        {
            _ = _refresh.RequestAsync();
        }
    }

    private async Task LoadAsync(CancellationToken cancellationToken)
    {
        var children = await SessionRetry.RunAsync(_zk, this, static (z, c, ct) => z.GetChildrenAsync(c.Folder, c._watcher, ct), cancellationToken).ConfigureAwait(false);
        var instances = new List<ServiceInstance>(children.Count);
        foreach (var child in children.Order(StringComparer.Ordinal))
        {
            try
            {
                var data = await SessionRetry.RunAsync(_zk, ZkPaths.Join(Folder, child), static (z, p, ct) => z.GetDataAsync(p, null, ct), cancellationToken).ConfigureAwait(false);
                if (ServiceInstance.FromJson(data.Data.Span) is { } instance)
                {
                    instances.Add(instance);
                }
            }
            catch (ZkException e) when (e.Code == ZkErrorCode.NoNode)
            {
                // Left between getChildren and getData; the child watch reports it.
            }
        }

        if (!instances.SequenceEqual(_instances, InstanceIdentity.Instance))
        {
            _instances = instances;
            Changed?.Invoke(instances);
        }
    }

    /// <summary>Instances are the same registration when name, id and registration time match (records compare the payload map by reference).</summary>
    private sealed class InstanceIdentity : IEqualityComparer<ServiceInstance>
    {
        public static readonly InstanceIdentity Instance = new();

        public bool Equals(ServiceInstance? x, ServiceInstance? y) =>
            x?.Id == y?.Id && x?.Name == y?.Name && x?.RegistrationTimeUtc == y?.RegistrationTimeUtc;

        public int GetHashCode(ServiceInstance obj) => obj.Id.GetHashCode(StringComparison.Ordinal);
    }
}
