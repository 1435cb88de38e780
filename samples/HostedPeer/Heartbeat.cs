using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Zk.Embedded.Api;

namespace Zk.Samples.HostedPeer;

/// <summary>The app's own work, on the injected session: an ephemeral member znode and a heartbeat every second.</summary>
internal sealed partial class Heartbeat(IZooKeeper zk, ILogger<Heartbeat> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (await zk.ExistsAsync("/hosted-peer", cancellationToken: stoppingToken) is null)
        {
            await zk.CreateAsync("/hosted-peer", [], Acl.OpenUnsafe, CreateMode.Persistent, cancellationToken: stoppingToken);
        }

        await zk.CreateAsync($"/hosted-peer/member-{Environment.ProcessId}", [], Acl.OpenUnsafe, CreateMode.Ephemeral, cancellationToken: stoppingToken);
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        var beats = 0;
        do
        {
            var stat = await zk.SetDataAsync("/hosted-peer", BitConverter.GetBytes(++beats), -1, stoppingToken);
            if (beats == 1 || beats % 60 == 0)
            {
                Beat(logger, beats, stat.Mzxid);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Heartbeat {Beats} written at zxid 0x{Zxid:x}")]
    private static partial void Beat(ILogger logger, int beats, long zxid);
}

/// <summary>Logs each health report (a web app would map a /health endpoint instead).</summary>
internal sealed partial class HealthLog(ILogger<HealthLog> logger) : IHealthCheckPublisher
{
    public Task PublishAsync(HealthReport report, CancellationToken cancellationToken)
    {
        foreach (var (name, entry) in report.Entries)
        {
            Health(logger, name, entry.Status, entry.Description);
        }

        return Task.CompletedTask;
    }

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "Health {Name}: {Status} ({Description})")]
    private static partial void Health(ILogger logger, string name, HealthStatus status, string? description);
}
