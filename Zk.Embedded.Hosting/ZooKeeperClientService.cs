using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Zk.Embedded.Api;
using Zk.Embedded.Wire.Client;

namespace Zk.Embedded.Hosting;

/// <summary>
/// The host's wire-client session (<see cref="ZkClient"/>): connected when the host starts, or on first use if sooner,
/// closed when it stops. Registered by <see cref="ZooKeeperServiceCollectionExtensions.AddZooKeeperClient"/>.
/// </summary>
public sealed class ZooKeeperClientService : IHostedService, IAsyncDisposable
{
    private readonly string _connectString;
    private readonly ZkClientOptions _options;
    private readonly ILogger _logger;
    private readonly StartOnce<ZkClient> _client = new(nameof(ZooKeeperClientService));

    internal ZooKeeperClientService(string connectString, Func<ZkClientOptions, ZkClientOptions>? configure, IServiceProvider services)
    {
        _connectString = connectString;
        var loggerFactory = services.GetService<ILoggerFactory>();
        var options = new ZkClientOptions { LoggerFactory = loggerFactory };
        _options = configure?.Invoke(options) ?? options;
        _logger = loggerFactory?.CreateLogger("Zk.Embedded.Hosting") ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
    }

    /// <summary>The connected client, or null before it connected.</summary>
    public IZooKeeper? Client => _client.Value;

    /// <summary>The client, connecting on the first call (a failure to connect within ConnectTimeout throws ConnectionLoss).</summary>
    public Task<ZkClient> GetClientAsync() => _client.GetAsync(ConnectAsync);

    async Task IHostedService.StartAsync(CancellationToken cancellationToken) => await GetClientAsync().WaitAsync(cancellationToken).ConfigureAwait(false);

    async Task IHostedService.StopAsync(CancellationToken cancellationToken) => await DisposeAsync().ConfigureAwait(false);

    private async Task<ZkClient> ConnectAsync()
    {
        var client = await ZkClient.ConnectAsync(_connectString, _options).ConfigureAwait(false);
        Log.ClientConnected(_logger, _connectString, client.SessionId);
        return client;
    }

    /// <summary>Closes the session (closeSession to the server). Idempotent.</summary>
    public async ValueTask DisposeAsync()
    {
        if (await _client.StopAsync().ConfigureAwait(false) is not { } client)
        {
            return;
        }

        try
        {
            await client.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Already closed, or the server is gone: the session ends on its own when it times out.
        }
    }
}
