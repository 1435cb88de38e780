using System.Text;
using Zk.Embedded.Api;
using Zk.Embedded.Recipes;
using Zk.Embedded.Tests.Interop;
using Zk.Embedded.Tests.Support;
using Zk.Embedded.Tests.Wire.Client;
using Zk.Embedded.Wire.Client;

namespace Zk.Embedded.Tests.Recipes;

/// <summary>The tree cache: initial load and its event, adds, updates and removes deep in the tree, both watch kinds, a reconnect.</summary>
public sealed class TreeCacheTests
{
    [Fact]
    public async Task An_in_process_cache_with_a_persistent_recursive_watch_follows_the_subtree()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await using var writer = await peer.ConnectAsync();
        Assert.True(await FollowsTreeAsync(zk, writer));
    }

    [Fact]
    public async Task Against_a_server_without_addWatch_one_shot_watches_follow_the_subtree()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await using var writer = await peer.ConnectAsync();
        Assert.False(await FollowsTreeAsync(FaultySession.WithoutAddWatch(zk), writer));
    }

    [SkippableFact]
    public async Task A_wire_client_cache_follows_the_subtree_on_Apache_ZooKeeper()
    {
        await using var server = await ApacheZooKeeper.StartAsync(TimeSpan.FromSeconds(60));
        await using var sessions = await SessionGroup.ConnectAsync(server, 2);
        var (zk, writer) = (sessions[0], sessions[1]);
        Assert.True(await FollowsTreeAsync(zk, writer));
    }

    [Fact]
    public async Task A_change_made_while_the_connection_was_down_is_seen_after_the_reconnect()
    {
        await using var peer = await ZkPeer.StartAsync(new ZkPeerOptions { ClientPort = 0, TickTime = TimeSpan.FromMilliseconds(500) });
        await using var proxy = new TcpProxy(peer.ClientEndPoint!);
        await using var zk = await ZkClient.ConnectAsync($"127.0.0.1:{proxy.Port}", new ZkClientOptions { SessionTimeout = TimeSpan.FromSeconds(10) });
        await using var writer = await peer.ConnectAsync();
        await writer.CreateAsync("/cfg", CreateMode.Persistent);
        await using var cache = new TreeCache(zk, "/cfg");
        var events = Record(cache);
        await cache.StartAsync();
        var states = new ValueRecorder<KeeperState>("session");
        zk.StateChanged += states.Add;

        proxy.Refusing = true;
        proxy.Cut();
        await states.WaitForAsync(s => s.Contains(KeeperState.Disconnected), "Disconnected");
        await writer.CreateAsync("/cfg/offline", data: "x"u8.ToArray());
        proxy.Refusing = false;

        await events.WaitForAsync(e => e.Contains("Added /cfg/offline=x"), "the node made while disconnected, after the reconnect");
    }

    /// <summary>Runs the shared scenario; returns whether the cache used a persistent watch.</summary>
    private static async Task<bool> FollowsTreeAsync(IZooKeeper zk, IZooKeeper writer)
    {
        await writer.CreateAsync("/app", CreateMode.Persistent);
        await writer.CreateAsync("/app/db", data: "host=a"u8.ToArray());
        await using var cache = new TreeCache(zk, "/app");
        var events = Record(cache);
        await cache.StartAsync();
        Assert.Equal(["Added /app=", "Added /app/db=host=a", "Initialized"], events.Values);

        await writer.CreateAsync("/app/db/replica", data: "r1"u8.ToArray());
        await events.WaitForAsync(e => e.Contains("Added /app/db/replica=r1"), "a grandchild added");
        await writer.SetDataAsync("/app/db", "host=b"u8.ToArray());
        await events.WaitForAsync(e => e.Contains("Updated /app/db=host=b"), "the child updated");
        await writer.DeleteAsync("/app/db/replica");
        await writer.DeleteAsync("/app/db");
        await events.WaitForAsync(e => e.Contains("Removed /app/db=host=b"), "the child removed");
        Assert.Equal(["/app"], cache.Nodes.Keys);
        var removals = events.Values.Where(e => e.StartsWith("Removed", StringComparison.Ordinal)).ToList();
        Assert.Equal(removals.Contains("Removed /app/db/replica=r1") ? ["Removed /app/db/replica=r1", "Removed /app/db=host=b"] : ["Removed /app/db=host=b"], removals);
        return cache.UsesPersistentWatch;
    }

    private static ValueRecorder<string> Record(TreeCache cache)
    {
        var events = new ValueRecorder<string>("tree events");
        cache.Changed += e => events.Add($"{e.Change} {e.Path}={Encoding.UTF8.GetString(e.Data.Data.Span)}"); // Removed: the data last cached
        cache.Initialized += () => events.Add("Initialized");
        return events;
    }
}
