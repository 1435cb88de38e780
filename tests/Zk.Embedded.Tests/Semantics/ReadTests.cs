using Zk.Embedded.Api;
using Zk.Embedded.Tests.Support;

namespace Zk.Embedded.Tests.Semantics;

/// <summary>Reads: exists, getChildren(2), getAllChildrenNumber, getEphemerals, sync (FinalRequestProcessor).</summary>
public sealed class ReadTests
{
    [Fact]
    public async Task Exists_on_a_missing_node_returns_null()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        Assert.Null(await zk.ExistsAsync("/none"));
        Assert.Null(await zk.ExistsAsync("/none/deeper"));
    }

    [Fact]
    public async Task Get_children_lists_names_not_paths()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await zk.CreateAsync("/p");
        await zk.CreateAsync("/p/b");
        await zk.CreateAsync("/p/a");
        await zk.CreateAsync("/p/a/deep");
        Assert.Equal(["a", "b"], (await zk.GetChildrenAsync("/p")).Order());
        Assert.Empty(await zk.GetChildrenAsync("/p/b"));
    }

    [Fact]
    public async Task Get_children_with_stat_returns_the_parent_stat()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await zk.CreateAsync("/p", CreateMode.Persistent, [1, 2]);
        await zk.CreateAsync("/p/a");
        var (children, stat) = await zk.GetChildrenWithStatAsync("/p");
        Assert.Equal(["a"], children);
        Assert.Equal(1, stat.NumChildren);
        Assert.Equal(2, stat.DataLength);
        Assert.Equal(await zk.StatAsync("/p"), stat);
    }

    [Fact]
    public async Task Get_children_of_a_missing_node_fails_with_NoNode()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        Assert.Equal("/none", (await ZkTest.ThrowsAsync(ZkErrorCode.NoNode, async () => await zk.GetChildrenAsync("/none"))).Path);
        await ZkTest.ThrowsAsync(ZkErrorCode.NoNode, async () => await zk.GetChildrenWithStatAsync("/none"));
    }

    [Fact]
    public async Task All_children_number_counts_every_descendant()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await zk.CreateAsync("/a");
        await zk.CreateAsync("/a/b");
        await zk.CreateAsync("/a/b/c");
        await zk.CreateAsync("/a/d");
        await zk.CreateAsync("/ab");
        Assert.Equal(3, await zk.GetAllChildrenNumberAsync("/a"));
        Assert.Equal(1, await zk.GetAllChildrenNumberAsync("/a/b"));
        Assert.Equal(0, await zk.GetAllChildrenNumberAsync("/a/d"));
        // DataTree.getAllChildrenNumber("/"): every node but the root, /zookeeper and its two children included.
        Assert.Equal(8, await zk.GetAllChildrenNumberAsync("/"));
        Assert.Equal(2, await zk.GetAllChildrenNumberAsync("/zookeeper"));
    }

    [Fact]
    public async Task All_children_number_of_a_missing_node_fails_with_NoNode()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await ZkTest.ThrowsAsync(ZkErrorCode.NoNode, async () => await zk.GetAllChildrenNumberAsync("/none"));
    }

    [Fact]
    public async Task Get_ephemerals_lists_only_this_session_nodes()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var mine = await peer.ConnectAsync();
        await using var theirs = await peer.ConnectAsync();
        await mine.CreateAsync("/p");
        await mine.CreateAsync("/p/e1", CreateMode.Ephemeral);
        await mine.CreateAsync("/top", CreateMode.Ephemeral);
        await theirs.CreateAsync("/p/e2", CreateMode.Ephemeral);
        Assert.Equal(["/p/e1", "/top"], (await mine.GetEphemeralsAsync()).Order());
        Assert.Equal(["/p/e1", "/top"], (await mine.GetEphemeralsAsync("/")).Order());
        Assert.Equal(["/p/e2"], await theirs.GetEphemeralsAsync());
    }

    [Fact]
    public async Task Get_ephemerals_filters_by_a_plain_string_prefix()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await zk.CreateAsync("/app");
        await zk.CreateAsync("/app/e", CreateMode.Ephemeral);
        await zk.CreateAsync("/apple", CreateMode.Ephemeral);
        await zk.CreateAsync("/b", CreateMode.Ephemeral);
        // FinalRequestProcessor: path.startsWith(prefixPath), so /app matches /apple too.
        Assert.Equal(["/app/e", "/apple"], (await zk.GetEphemeralsAsync("/app")).Order());
        Assert.Equal(["/app/e"], await zk.GetEphemeralsAsync("/app/e"));
        // ZooKeeper.getEphemerals validates the prefix as a path.
        await ZkTest.ThrowsAsync(ZkErrorCode.BadArguments, async () => await zk.GetEphemeralsAsync("/app/"));
        Assert.Empty(await zk.GetEphemeralsAsync("/c"));
    }

    [Fact]
    public async Task Get_ephemerals_forgets_deleted_nodes()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await zk.CreateAsync("/e", CreateMode.Ephemeral);
        await zk.DeleteAsync("/e");
        Assert.Empty(await zk.GetEphemeralsAsync());
    }

    [Fact]
    public async Task Sync_completes_and_later_reads_see_other_sessions_writes()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var writer = await peer.ConnectAsync();
        await using var reader = await peer.ConnectAsync();
        await writer.CreateAsync("/s", CreateMode.Persistent, [1]);
        await reader.SyncAsync("/s");
        Assert.Equal([1], (await reader.GetDataAsync("/s")).Data.ToArray());
        // ZooKeeper does not check that the synced path exists.
        await reader.SyncAsync("/none");
    }

    [Fact]
    public async Task Reads_of_one_session_complete_in_the_order_issued()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await zk.CreateAsync("/o", CreateMode.Persistent, [0]);
        var set = zk.SetDataAsync("/o", [1]).AsTask();
        var read = zk.GetDataAsync("/o").AsTask();
        await Task.WhenAll(set, read);
        Assert.Equal([1], (await read).Data.ToArray());
    }
}
