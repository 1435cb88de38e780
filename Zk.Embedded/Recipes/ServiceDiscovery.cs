using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Zk.Embedded.Api;

namespace Zk.Embedded.Recipes;

/// <summary>
/// Service discovery: instances register as ephemeral znodes <c>basePath/name/id</c> holding their
/// <see cref="ServiceInstance"/> as JSON; clients keep a <see cref="ServiceCache"/> of a service's instances and pick
/// one to spread load. An instance whose process dies disappears from every view once its session expires.
/// </summary>
/// <remarks>A registration lives as long as its session: after the session expires, register again on a new one.</remarks>
public static class ServiceDiscovery
{
    /// <summary>Registers <paramref name="instance"/> under <paramref name="basePath"/>; dispose the result to unregister.</summary>
    /// <exception cref="ZkException">NodeExists when an instance with this id is registered already.</exception>
    public static ValueTask<ServiceRegistration> RegisterAsync(this IZooKeeper zk, string basePath, ServiceInstance instance, CancellationToken cancellationToken = default) =>
        RegisterAsync(zk, basePath, instance, null, cancellationToken);

    /// <summary>
    /// Registers <paramref name="instance"/> under <paramref name="basePath"/>; dispose the result to unregister. A
    /// registration that cannot be deleted on dispose is logged to <paramref name="logger"/>.
    /// </summary>
    /// <exception cref="ZkException">NodeExists when an instance with this id is registered already.</exception>
    public static async ValueTask<ServiceRegistration> RegisterAsync(this IZooKeeper zk, string basePath, ServiceInstance instance, ILogger? logger, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(zk);
        ArgumentNullException.ThrowIfNull(instance);
        var folder = ZkPaths.Join(ZkPaths.Validate(basePath, nameof(basePath)), instance.Name);
        var path = ZkPaths.Validate(ZkPaths.Join(folder, instance.Id), nameof(instance));
        var data = (instance with { RegistrationTimeUtc = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() }).ToJson();
        await EphemeralNode.CreateAsync(zk, path, data, cancellationToken).ConfigureAwait(false);
        return new ServiceRegistration(zk, path, logger ?? NullLogger.Instance);
    }
}

/// <summary>A registered instance; disposing it deletes its znode.</summary>
public sealed class ServiceRegistration : IAsyncDisposable
{
    private readonly IZooKeeper _zk;
    private readonly ILogger _logger;
    private int _disposed;

    internal ServiceRegistration(IZooKeeper zk, string path, ILogger logger)
    {
        _zk = zk;
        _logger = logger;
        Path = path;
    }

    /// <summary>The instance's znode.</summary>
    public string Path { get; }

    /// <summary>Unregisters: deletes the znode, riding out a lost connection.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            await SequentialContender.DeleteQuietlyAsync(_zk, Path, _logger).ConfigureAwait(false);
        }
    }
}
