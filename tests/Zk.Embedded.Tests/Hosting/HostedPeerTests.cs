using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Zk.Embedded.Api;
using Zk.Embedded.Hosting;
using Zk.Embedded.Tests.Storage;
using Zk.Embedded.Tests.Support;
using Zk.Transport.InMemory;

namespace Zk.Embedded.Tests.Hosting;

/// <summary>AddZooKeeperPeer in a real generic host: options from configuration, the injected session, health, logging.</summary>
public sealed class HostedPeerTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    private static IHost Build(Dictionary<string, string?> settings, Action<IServiceCollection>? more = null)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Services.AddZooKeeperPeer(builder.Configuration.GetSection("ZooKeeper"));
        builder.Services.AddHealthChecks().AddZooKeeperPeer();
        more?.Invoke(builder.Services);
        return builder.Build();
    }

    private static async Task<HealthReport> HealthAsync(IHost host) =>
        await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();

    [Fact]
    public async Task A_hosted_peer_takes_its_options_from_the_configuration_section_and_serves_the_injected_session()
    {
        using var dir = new TempDirectory();
        using var host = Build(new()
        {
            ["ZooKeeper:Peer:DataDir"] = dir.Path,
            ["ZooKeeper:Peer:ClientPort"] = "0",
            ["ZooKeeper:Peer:TickTime"] = "00:00:00.500",
        });
        await host.StartAsync();

        var peer = host.Services.GetRequiredService<ZkPeer>();
        Assert.Equal(dir.Path, peer.Options.DataDir);
        Assert.Equal(TimeSpan.FromMilliseconds(500), peer.Options.TickTime);
        Assert.NotNull(peer.ClientEndPoint);
        var zk = host.Services.GetRequiredService<IZooKeeper>();
        await zk.CreateAsync("/hosted", "v"u8.ToArray(), Acl.OpenUnsafe, CreateMode.Persistent);
        Assert.NotNull(await (await peer.ConnectAsync()).ExistsAsync("/hosted"));

        var report = await HealthAsync(host);
        Assert.True(report.Status == HealthStatus.Healthy, $"expected Healthy, got {report.Status}: {report.Entries["zookeeper-peer"].Description}");

        await host.StopAsync();
        Assert.Equal(HealthStatus.Unhealthy, (await HealthAsync(host)).Status);
        Assert.NotEmpty(Directory.EnumerateFiles(dir.Path, "*", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task A_zoo_cfg_named_in_configuration_gives_the_peer_options_and_the_section_overrides_them()
    {
        using var dir = new TempDirectory();
        var cfg = dir.File("zoo.cfg");
        File.WriteAllText(cfg, $"tickTime=700\ndataDir={dir.Path}\nclientPort=0\nmaxClientCnxns=7\n");
        using var host = Build(new() { ["ZooKeeper:ZooCfg"] = cfg, ["ZooKeeper:Peer:MaxClientConnections"] = "9" });
        await host.StartAsync();

        var options = host.Services.GetRequiredService<ZkPeer>().Options;
        Assert.Equal(TimeSpan.FromMilliseconds(700), options.TickTime);
        Assert.Equal(dir.Path, options.DataDir);
        Assert.Equal(9, options.MaxClientConnections);
        await host.StopAsync();
    }

    [Fact]
    public async Task The_peer_logs_through_the_hosts_logger_factory()
    {
        var sink = new RecordingLoggerProvider();
        using var host = Build([], services => services.AddLogging(b => b.AddProvider(sink)));
        await host.StartAsync();
        await host.StopAsync();

        Assert.Contains(sink.Events, e => e == "HostedPeerStarted");
        Assert.Contains(sink.Events, e => e == "HostedPeerStopped");
    }

    [SkippableFact]
    public async Task The_health_check_turns_unhealthy_when_the_peer_stops_serving_writes()
    {
        using var disk = TmpfsMount.Create(8);
        using var host = Build(new() { ["ZooKeeper:Peer:DataDir"] = disk.Path });
        await host.StartAsync();
        var zk = host.Services.GetRequiredService<IZooKeeper>();
        Assert.Equal(HealthStatus.Healthy, (await HealthAsync(host)).Status);

        await FillTheDiskAsync(zk);
        await host.Services.GetRequiredService<ZkPeer>().Faulted.WaitAsync(Deadline);
        var report = await HealthAsync(host);
        Assert.Equal(HealthStatus.Unhealthy, report.Status);
        Assert.Contains("stopped serving writes", report.Entries["zookeeper-peer"].Description, StringComparison.Ordinal);
        await host.StopAsync();
    }

    [Fact]
    public async Task A_hosted_ensemble_member_is_unhealthy_until_it_is_in_a_quorum()
    {
        await using var network = new InMemoryNetwork();
        var member = new ZkPeerOptions
        {
            TickTime = TimeSpan.FromMilliseconds(50),
            Ensemble = new EnsembleOptions { Voters = [1, 2], Transport = network.Join(1) },
        };
        using var host = Build([], services => services.Configure<ZooKeeperPeerHostOptions>(o => o.Peer = member with { ServerId = 1 }));
        await host.StartAsync();
        var peer = host.Services.GetRequiredService<ZkPeer>();

        // Alone, one of two voters has no quorum: it looks for a leader for as long as it stays alone.
        var alone = (await HealthAsync(host)).Entries["zookeeper-peer"];
        Assert.True(alone.Status == HealthStatus.Unhealthy, $"expected Unhealthy without a quorum, got {alone.Status}: {alone.Description}");
        Assert.Contains("not in a quorum", alone.Description, StringComparison.Ordinal);
        Assert.Equal("Looking", alone.Data["mode"]);

        await using var other = await ZkPeer.StartAsync(member with { ServerId = 2, Ensemble = member.Ensemble! with { Transport = network.Join(2) } });
        await Eventually.TrueAsync(() => peer.IsServing && peer.Mode != PeerMode.Looking, "member 1 to join a quorum with member 2", Deadline);
        var joined = (await HealthAsync(host)).Entries["zookeeper-peer"];
        Assert.True(joined.Status == HealthStatus.Healthy, $"expected Healthy in a quorum, got {joined.Status}: {joined.Description}");
        Assert.Contains(joined.Data["mode"], new object[] { "Leader", "Follower" });

        await other.DisposeAsync();
        await Eventually.TrueAsync(() => !peer.IsServing, "member 1 to lose its quorum when member 2 stops", Deadline);
        Assert.Equal(HealthStatus.Unhealthy, (await HealthAsync(host)).Status);
        await host.StopAsync();
    }

    private static async Task FillTheDiskAsync(IZooKeeper zk)
    {
        for (var i = 0; i < 400; i++)
        {
            try
            {
                await zk.CreateAsync($"/n{i}", new byte[200_000], Acl.OpenUnsafe, CreateMode.Persistent);
            }
            catch (ZkException e) when (e.Code == ZkErrorCode.ConnectionLoss)
            {
                return;
            }
        }

        Assert.Fail("80 MB of znodes fit an 8 MB disk");
    }

    /// <summary>Keeps the event names logged through the host's factory.</summary>
    private sealed class RecordingLoggerProvider : ILoggerProvider
    {
        private readonly System.Collections.Concurrent.ConcurrentQueue<string> _events = new();

        public IEnumerable<string> Events => _events;

        public ILogger CreateLogger(string categoryName) => new Recorder(_events);

        public void Dispose()
        {
        }

        private sealed class Recorder(System.Collections.Concurrent.ConcurrentQueue<string> events) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                events.Enqueue(eventId.Name ?? "");
        }
    }
}
