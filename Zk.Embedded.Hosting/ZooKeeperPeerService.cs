using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Zk.Embedded.Api;
using Zk.Embedded.Metrics;

namespace Zk.Embedded.Hosting;

/// <summary>
/// Runs the host's <see cref="ZkPeer"/>: starts it (and the Prometheus endpoint, when configured) with the host,
/// stops it with the host. Services that need the peer before the host has started get it started on first use,
/// once. Registered by <see cref="ZooKeeperServiceCollectionExtensions.AddZooKeeperPeer(Microsoft.Extensions.DependencyInjection.IServiceCollection, Action{ZooKeeperPeerHostOptions})"/>.
/// </summary>
public sealed class ZooKeeperPeerService : IHostedService, IAsyncDisposable
{
    private readonly ZooKeeperPeerHostOptions _options;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly StartOnce<ZkPeer> _peer = new(nameof(ZooKeeperPeerService));
    private readonly StartOnce<IZooKeeper> _session = new(nameof(ZooKeeperPeerService));
    private PrometheusMetricsServer? _metrics;

    /// <summary>Made by the container.</summary>
    public ZooKeeperPeerService(IOptions<ZooKeeperPeerHostOptions> options, ILoggerFactory loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Value;
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger("Zk.Embedded.Hosting");
    }

    /// <summary>The running peer, or null before it started.</summary>
    public ZkPeer? Peer => _peer.Value;

    /// <summary>Where the Prometheus endpoint listens (the actual port when 0 was asked for), or null for none.</summary>
    public System.Net.IPEndPoint? MetricsEndPoint => _metrics?.EndPoint;

    /// <summary>The peer, started on the first call (recovery from its dataDir included).</summary>
    public Task<ZkPeer> GetPeerAsync() => _peer.GetAsync(StartPeerAsync);

    /// <summary>The session the container hands out as <see cref="IZooKeeper"/>, opened on the first call.</summary>
    public Task<IZooKeeper> GetSessionAsync() => _session.GetAsync(OpenSessionAsync);

    async Task IHostedService.StartAsync(CancellationToken cancellationToken) => await GetPeerAsync().WaitAsync(cancellationToken).ConfigureAwait(false);

    async Task IHostedService.StopAsync(CancellationToken cancellationToken) => await DisposeAsync().ConfigureAwait(false);

    private async Task<ZkPeer> StartPeerAsync()
    {
        if (_options.Prometheus is { } prometheus)
        {
            _metrics = PrometheusMetricsServer.Start(prometheus, _loggerFactory);
        }

        var peer = await ZkPeer.StartAsync(_options.Peer, _loggerFactory).ConfigureAwait(false);
        Log.PeerStarted(_logger, peer.NodeCount, peer.LastZxid, peer.ClientEndPoint);
        _ = peer.Faulted.ContinueWith(
            static (fault, logger) => Log.PeerFaulted((ILogger)logger!, fault.Result),
            _logger,
            CancellationToken.None,
            TaskContinuationOptions.OnlyOnRanToCompletion,
            TaskScheduler.Default);
        return peer;
    }

    private async Task<IZooKeeper> OpenSessionAsync()
    {
        var peer = await GetPeerAsync().ConfigureAwait(false);
        return await peer.ConnectAsync(_options.Session).ConfigureAwait(false);
    }

    /// <summary>Closes the session it handed out, then the peer and the endpoint. Idempotent.</summary>
    public async ValueTask DisposeAsync()
    {
        // The session first: it lives on the peer.
        if (await _session.StopAsync().ConfigureAwait(false) is { } opened)
        {
            await opened.DisposeAsync().ConfigureAwait(false);
        }

        if (await _peer.StopAsync().ConfigureAwait(false) is { } started)
        {
            var zxid = started.LastZxid;
            await started.DisposeAsync().ConfigureAwait(false);
            Log.PeerStopped(_logger, zxid);
        }

        if (_metrics is not null)
        {
            await _metrics.DisposeAsync().ConfigureAwait(false);
        }
    }
}
