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
    private readonly Lock _lock = new();
    private Task<ZkClient>? _client;

    internal ZooKeeperClientService(string connectString, Func<ZkClientOptions, ZkClientOptions>? configure, IServiceProvider services)
    {
        _connectString = connectString;
        var loggerFactory = services.GetService<ILoggerFactory>();
        var options = new ZkClientOptions { LoggerFactory = loggerFactory };
        _options = configure?.Invoke(options) ?? options;
        _logger = loggerFactory?.CreateLogger("Zk.Embedded.Hosting") ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
    }

    /// <summary>The connected client, or null before it connected.</summary>
    public IZooKeeper? Client => _client is { IsCompletedSuccessfully: true } connected ? connected.Result : null;

    /// <summary>The client, connecting on the first call (a failure to connect within ConnectTimeout throws ConnectionLoss).</summary>
    public Task<ZkClient> GetClientAsync()
    {
        lock (_lock)
        {
            return _client ??= ConnectAsync();
        }
    }

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
        Task<ZkClient>? client;
        lock (_lock)
        {
            client = _client;
            _client = Task.FromException<ZkClient>(new ObjectDisposedException(nameof(ZooKeeperClientService)));
        }

        try
        {
            if (client is not null)
            {
                await (await client.ConfigureAwait(false)).DisposeAsync().ConfigureAwait(false);
            }
        }
        catch (Exception)
        {
            // It never connected (or is already closed): nothing to close.
        }
    }
}
