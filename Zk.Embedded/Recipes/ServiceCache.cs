using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Zk.Embedded.Api;

namespace Zk.Embedded.Recipes;

/// <summary>
/// The instances of one service, kept current by a child watch on <c>basePath/name</c> (set again on each load and
/// after each reconnect), with round-robin, random and least-recently-used picks to spread load over them.
/// </summary>
/// <remarks>
/// Guarantees: after <see cref="StartAsync(IZooKeeper, string, string, CancellationToken)"/> returns, <see cref="Instances"/> is the registered set as read then;
/// each later registration or departure the session hears is followed by a reload and a <see cref="Changed"/> event.
/// Not guaranteed: that a picked instance is still alive (it may have died since the last reload); callers retry
/// on another pick.
/// </remarks>
public sealed class ServiceCache : IAsyncDisposable
{
    private readonly ChildrenCache _children;
    private readonly ILogger _logger;
    private volatile IReadOnlyList<ServiceInstance> _instances = [];
    private int _next = -1;

    // Instance id -> the pick count when it was last picked; guarded by itself. Ids that left are forgotten at reload.
    private readonly Dictionary<string, long> _lastPicked = new(StringComparer.Ordinal);
    private long _picks;
    private Dictionary<string, int> _unreadable = new(StringComparer.Ordinal); // name → data version logged; reload loop only

    private ServiceCache(IZooKeeper zk, string folder, ILogger logger)
    {
        _logger = logger;
        _children = new ChildrenCache(zk, folder, logger);
        _children.Changed += OnChildren;
    }

    /// <summary>The service's folder, <c>basePath/name</c>.</summary>
    public string Folder => _children.Folder;

    /// <summary>The instances as last loaded, ordered by id.</summary>
    public IReadOnlyList<ServiceInstance> Instances => _instances;

    /// <summary>Raised after a reload changed the set of instances (or one's registration); on a background thread.</summary>
    public event Action<IReadOnlyList<ServiceInstance>>? Changed;

    /// <summary>Loads the service's instances and starts watching them.</summary>
    public static ValueTask<ServiceCache> StartAsync(IZooKeeper zk, string basePath, string serviceName, CancellationToken cancellationToken = default) =>
        StartAsync(zk, basePath, serviceName, null, cancellationToken);

    /// <summary>Loads the service's instances and starts watching them; failing and recovering reloads are logged to <paramref name="logger"/>.</summary>
    public static async ValueTask<ServiceCache> StartAsync(IZooKeeper zk, string basePath, string serviceName, ILogger? logger, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(zk);
        var folder = ZkPaths.Validate(ZkPaths.Join(ZkPaths.Validate(basePath, nameof(basePath)), serviceName), nameof(serviceName));
        var cache = new ServiceCache(zk, folder, logger ?? NullLogger.Instance);
        await ZkPaths.CreateAllAsync(zk, cache.Folder, CreateMode.Persistent, cancellationToken).ConfigureAwait(false);
        await cache._children.StartAsync(cancellationToken).ConfigureAwait(false);
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

    /// <summary>
    /// The instance picked longest ago (one never picked first, so a newly registered instance gets the next request),
    /// or null when there is none. Ties go to the lowest id.
    /// </summary>
    public ServiceInstance? PickLeastRecentlyUsed()
    {
        var instances = _instances;
        lock (_lastPicked)
        {
            ServiceInstance? oldest = null;
            var oldestPick = long.MaxValue;
            foreach (var instance in instances)
            {
                var pick = _lastPicked.GetValueOrDefault(instance.Id);
                if (pick < oldestPick)
                {
                    oldest = instance;
                    oldestPick = pick;
                }
            }

            if (oldest is not null)
                _lastPicked[oldest.Id] = ++_picks;
            return oldest;
        }
    }

    /// <summary>Stops watching.</summary>
    public ValueTask DisposeAsync() => _children.StopAsync();

    private void OnChildren(IReadOnlyList<CachedChild> children)
    {
        var instances = new List<ServiceInstance>(children.Count);
        var unreadable = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var child in children)
        {
            if (ServiceInstance.FromJson(child.Data.Data.Span) is { } instance)
            {
                instances.Add(instance);
                continue;
            }

            // Once per child and version: every reload (any instance coming or going) would repeat it otherwise.
            var version = child.Data.Stat.Version;
            if (!_unreadable.TryGetValue(child.Name, out var logged) || logged != version)
                Log.InstanceUnreadable(_logger, Folder, child.Name);
            unreadable[child.Name] = version;
        }

        _unreadable = unreadable;

        _instances = instances;
        lock (_lastPicked)
        {
            foreach (var gone in _lastPicked.Keys.Where(id => !instances.Exists(i => i.Id == id)).ToList())
                _lastPicked.Remove(gone);
        }

        Changed?.Invoke(instances);
    }
}
