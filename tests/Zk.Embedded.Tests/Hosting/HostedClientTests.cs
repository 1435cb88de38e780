using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Zk.Embedded.Api;
using Zk.Embedded.Hosting;

namespace Zk.Embedded.Tests.Hosting;

/// <summary>AddZooKeeperClient: a wire-client session in a generic host, against a peer's real client port.</summary>
public sealed class HostedClientTests
{
    [Fact]
    public async Task AddZooKeeperClient_injects_a_wire_session_that_is_closed_when_the_host_stops()
    {
        await using var peer = await ZkPeer.StartAsync(new ZkPeerOptions { ClientPort = 0 });
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddZooKeeperClient($"127.0.0.1:{peer.ClientEndPoint!.Port}");
        builder.Services.AddHealthChecks().AddZooKeeperClient();
        using var host = builder.Build();
        await host.StartAsync();

        var zk = host.Services.GetRequiredService<IZooKeeper>();
        Assert.IsType<Zk.Embedded.Wire.Client.ZkClient>(zk);
        await zk.CreateAsync("/over-the-wire", [], Acl.OpenUnsafe, CreateMode.Persistent);
        await using var local = await peer.ConnectAsync();
        Assert.NotNull(await local.ExistsAsync("/over-the-wire"));
        var health = host.Services.GetRequiredService<HealthCheckService>();
        Assert.Equal(HealthStatus.Healthy, (await health.CheckHealthAsync()).Status);
        Assert.Equal(2, peer.SessionCount);

        await host.StopAsync();
        Assert.Equal(SessionState.Closed, zk.State);
        await Support.Eventually.TrueAsync(() => peer.SessionCount == 1, "the client's session closed on the peer");
    }
}
