using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Zk.Embedded.Api;
using Zk.Embedded.Wire.Client;

namespace Zk.Embedded.Hosting;

/// <summary>Registers a ZooKeeper peer or a ZooKeeper client with a .NET host.</summary>
public static class ZooKeeperServiceCollectionExtensions
{
    /// <summary>
    /// Runs a <see cref="ZkPeer"/> as a hosted service, with options bound from <paramref name="section"/> (see
    /// <see cref="ZooKeeperPeerHostOptions"/> for its shape; a <c>ZooCfg</c> key reads a zoo.cfg). Registers
    /// <see cref="ZooKeeperPeerService"/>, the <see cref="ZkPeer"/> and an in-process <see cref="IZooKeeper"/> session.
    /// Resolving the peer or the session before the host has started starts the peer then.
    /// </summary>
    public static IServiceCollection AddZooKeeperPeer(this IServiceCollection services, IConfiguration section)
    {
        ArgumentNullException.ThrowIfNull(section);
        services.AddOptions<ZooKeeperPeerHostOptions>().Configure(options => Bind(options, section));
        return services.AddPeerServices();
    }

    /// <summary>Runs a <see cref="ZkPeer"/> as a hosted service, configured in code (<see cref="ZooKeeperPeerHostOptions.UseZooCfg"/> reads a zoo.cfg); see the overload that binds configuration.</summary>
    public static IServiceCollection AddZooKeeperPeer(this IServiceCollection services, Action<ZooKeeperPeerHostOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<ZooKeeperPeerHostOptions>().Configure(configure);
        return services.AddPeerServices();
    }

    /// <summary>
    /// Registers an <see cref="IZooKeeper"/> session over ZooKeeper's wire protocol (<see cref="ZkClient"/>) to
    /// <paramref name="connectString"/> (<c>host:port[,host:port...][/chroot]</c>), for this peer's client port or
    /// Apache ZooKeeper. It connects when the host starts (or on first use, if sooner) and closes when it stops.
    /// </summary>
    public static IServiceCollection AddZooKeeperClient(this IServiceCollection services, string connectString, Func<ZkClientOptions, ZkClientOptions>? configure = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectString);
        services.TryAddSingleton(sp => new ZooKeeperClientService(connectString, configure, sp));
        services.AddHostedService(sp => sp.GetRequiredService<ZooKeeperClientService>());
        services.Replace(ServiceDescriptor.Singleton<IZooKeeper>(sp => Wait(sp.GetRequiredService<ZooKeeperClientService>().GetClientAsync())));
        return services;
    }

    private static IServiceCollection AddPeerServices(this IServiceCollection services)
    {
        services.TryAddSingleton<ZooKeeperPeerService>();
        services.AddHostedService(sp => sp.GetRequiredService<ZooKeeperPeerService>());
        services.TryAddSingleton(sp => Wait(sp.GetRequiredService<ZooKeeperPeerService>().GetPeerAsync()));
        services.TryAddSingleton(sp => Wait(sp.GetRequiredService<ZooKeeperPeerService>().GetSessionAsync()));
        return services;
    }

    private static void Bind(ZooKeeperPeerHostOptions options, IConfiguration section)
    {
        if (section["ZooCfg"] is { Length: > 0 } path)
        {
            options.UseZooCfg(path);
        }

        // The binder sets init-only properties too; records are copied first so a shared default is never changed.
        var peer = options.Peer with { };
        section.GetSection("Peer").Bind(peer);
        options.Peer = peer;
        if (section.GetSection("Prometheus").Exists())
        {
            var prometheus = options.Prometheus ?? new Metrics.PrometheusMetricsOptions();
            prometheus = prometheus with { };
            section.GetSection("Prometheus").Bind(prometheus);
            options.Prometheus = prometheus;
        }

        var session = options.Session with { };
        section.GetSection("Session").Bind(session);
        options.Session = session;
    }

    /// <summary>
    /// A container factory is synchronous; the host has no synchronization context, so blocking here cannot deadlock.
    /// Prefer resolving after the host has started, when this returns at once.
    /// </summary>
    private static T Wait<T>(Task<T> task) => task.GetAwaiter().GetResult();
}
