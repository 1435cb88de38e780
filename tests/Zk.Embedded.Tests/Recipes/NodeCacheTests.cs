using System.Text;
using Zk.Embedded.Api;
using Zk.Embedded.Recipes;
using Zk.Embedded.Tests.Interop;
using Zk.Embedded.Tests.Support;
using Zk.Embedded.Tests.Wire.Client;
using Zk.Embedded.Wire.Client;

namespace Zk.Embedded.Tests.Recipes;

/// <summary>The node cache: initial load, create, change and delete events, and a change made while disconnected.</summary>
public sealed class NodeCacheTests
{
    [Fact]
    public async Task An_in_process_cache_loads_the_node_and_follows_its_create_changes_and_delete()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await using var writer = await peer.ConnectAsync();
        await FollowsChangesAsync(zk, writer);
    }

    [SkippableFact]
    public async Task A_wire_client_cache_follows_changes_on_Apache_ZooKeeper()
    {
        await using var server = await ApacheZooKeeper.StartAsync(TimeSpan.FromSeconds(60));
        await using var sessions = await SessionGroup.ConnectAsync(server, 2);
        var (zk, writer) = (sessions[0], sessions[1]);
        await FollowsChangesAsync(zk, writer);
    }

    [Fact]
    public async Task A_change_made_while_the_connection_was_down_is_seen_after_the_reconnect()
    {
        await using var peer = await ZkPeer.StartAsync(new ZkPeerOptions { ClientPort = 0, TickTime = TimeSpan.FromMilliseconds(500) });
        await using var proxy = new TcpProxy(peer.ClientEndPoint!);
        await using var zk = await ZkClient.ConnectAsync($"127.0.0.1:{proxy.Port}", new ZkClientOptions { SessionTimeout = TimeSpan.FromSeconds(10) });
        await using var writer = await peer.ConnectAsync();
        await writer.CreateAsync("/config", data: "v1"u8.ToArray());
        await using var cache = await NodeCache.StartAsync(zk, "/config");
        var seen = Record(cache);
        var disconnected = new ValueRecorder<KeeperState>("session");
        zk.StateChanged += disconnected.Add;

        proxy.Refusing = true;
        proxy.Cut();
        await disconnected.WaitForAsync(states => states.Contains(KeeperState.Disconnected), "Disconnected");
        await writer.SetDataAsync("/config", "v2"u8.ToArray());
        Assert.Equal("v1", Text(cache.Current));
        proxy.Refusing = false;

        await seen.WaitForAsync(values => values.Contains("v2"), "v2 after the reconnect");
        Assert.Equal("v2", Text(cache.Current));
    }

    private static async Task FollowsChangesAsync(IZooKeeper zk, IZooKeeper writer)
    {
        await using var cache = await NodeCache.StartAsync(zk, "/app/config");
        Assert.Null(cache.Current);
        var seen = Record(cache);

        await writer.CreateAsync("/app", CreateMode.Persistent);
        await writer.CreateAsync("/app/config", data: "v1"u8.ToArray());
        await seen.WaitForAsync(values => values.Contains("v1"), "v1 once created");
        await writer.SetDataAsync("/app/config", "v2"u8.ToArray());
        await seen.WaitForAsync(values => values.Contains("v2"), "v2 once set");
        await writer.DeleteAsync("/app/config");
        await seen.WaitForAsync(values => values.Count > 0 && values[^1] == "(deleted)", "(deleted) last");
        Assert.Null(cache.Current);
        Assert.Equal(["v1", "v2", "(deleted)"], seen.Values.Distinct());
    }

    private static ValueRecorder<string> Record(NodeCache cache)
    {
        var seen = new ValueRecorder<string>("cache");
        cache.Changed += data => seen.Add(data is null ? "(deleted)" : Text(data));
        return seen;
    }

    private static string Text(DataResult? data) => data is { } d ? Encoding.UTF8.GetString(d.Data.Span) : "(deleted)";
}
