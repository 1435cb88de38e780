using Zk.Embedded.Api;
using Zk.Embedded.Tests.Support;

namespace Zk.Embedded.Tests.Semantics;

/// <summary>Persistent, ephemeral and sequential creates (PrepRequestProcessor.pRequest2TxnCreate, DataTree.createNode).</summary>
public sealed class CreateModeTests
{
    [Fact]
    public async Task A_persistent_node_outlives_its_session()
    {
        await using var peer = await TestPeer.StartAsync();
        await using (var first = await peer.ConnectAsync())
        {
            await first.CreateAsync("/p", CreateMode.Persistent, [7]);
        }

        await using var second = await peer.ConnectAsync();
        var (data, stat) = await second.GetDataAsync("/p");
        Assert.Equal([7], data.ToArray());
        Assert.Equal(0, stat.EphemeralOwner);
    }

    [Fact]
    public async Task An_ephemeral_node_is_owned_by_its_session()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await zk.CreateAsync("/e", CreateMode.Ephemeral);
        Assert.Equal(zk.SessionId, (await zk.StatAsync("/e")).EphemeralOwner);
    }

    [Fact]
    public async Task Sequential_names_get_a_ten_digit_suffix_from_the_parent_counter()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await zk.CreateAsync("/q");
        Assert.Equal("/q/n-0000000000", await zk.CreateAsync("/q/n-", CreateMode.PersistentSequential));
        Assert.Equal("/q/m-0000000001", await zk.CreateAsync("/q/m-", CreateMode.EphemeralSequential));
        Assert.Equal("/q/n-0000000002", await zk.CreateAsync("/q/n-", CreateMode.PersistentSequential));
    }

    [Fact]
    public async Task The_sequence_counts_every_child_create_but_not_deletes()
    {
        // ZK-NOTES: after p-0, p-1, then x created and deleted, cversion reads 4, numChildren 2, next suffix 3.
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await zk.CreateAsync("/s");
        Assert.Equal("/s/p-0000000000", await zk.CreateAsync("/s/p-", CreateMode.PersistentSequential));
        Assert.Equal("/s/p-0000000001", await zk.CreateAsync("/s/p-", CreateMode.PersistentSequential));
        await zk.CreateAsync("/s/x");
        await zk.DeleteAsync("/s/x");
        var stat = await zk.StatAsync("/s");
        Assert.Equal(4, stat.Cversion);
        Assert.Equal(2, stat.NumChildren);
        Assert.Equal("/s/p-0000000003", await zk.CreateAsync("/s/p-", CreateMode.PersistentSequential));
    }

    [Fact]
    public async Task The_root_sequence_starts_at_zero_since_the_zookeeper_node_is_not_a_create()
    {
        // DataTree's constructor adds /zookeeper with root.addChild, leaving the root's create count at 0.
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        Assert.Equal("/r-0000000000", await zk.CreateAsync("/r-", CreateMode.PersistentSequential));
        Assert.Equal("/r-0000000001", await zk.CreateAsync("/r-", CreateMode.PersistentSequential));
    }

    [Fact]
    public async Task The_built_in_nodes_report_negative_cversions_as_ZooKeeper_does()
    {
        // DataNode.copyStat reports cversion * 2 - numChildren; the built-in children were never "created".
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        Assert.Equal(-1, (await zk.StatAsync("/")).Cversion);
        Assert.Equal(-2, (await zk.StatAsync("/zookeeper")).Cversion);
        await zk.CreateAsync("/x");
        var root = await zk.StatAsync("/");
        Assert.Equal(0, root.Cversion);
        Assert.Equal(2, root.NumChildren);
    }

    [Fact]
    public async Task Create_of_an_existing_node_fails_with_NodeExists()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await zk.CreateAsync("/a", CreateMode.Persistent, [1]);
        var e = await ZkTest.ThrowsAsync(ZkErrorCode.NodeExists, async () => await zk.CreateAsync("/a", CreateMode.Ephemeral, [2]));
        Assert.Equal("/a", e.Path);
        var (data, stat) = await zk.GetDataAsync("/a");
        Assert.Equal([1], data.ToArray());
        Assert.Equal(0, stat.EphemeralOwner);
    }

    [Theory]
    [InlineData(CreateMode.Persistent)]
    [InlineData(CreateMode.Ephemeral)]
    [InlineData(CreateMode.PersistentSequential)]
    [InlineData(CreateMode.EphemeralSequential)]
    [InlineData(CreateMode.Container)]
    public async Task Create_under_an_ephemeral_fails_with_NoChildrenForEphemerals(CreateMode mode)
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await zk.CreateAsync("/e", CreateMode.Ephemeral);
        await ZkTest.ThrowsAsync(ZkErrorCode.NoChildrenForEphemerals, async () => await zk.CreateAsync("/e/c", mode));
        Assert.Equal(0, (await zk.StatAsync("/e")).Cversion);
    }

    [Fact]
    public async Task Another_session_cannot_create_under_an_ephemeral_either()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var owner = await peer.ConnectAsync();
        await using var other = await peer.ConnectAsync();
        var path = await owner.CreateAsync("/e-", CreateMode.EphemeralSequential);
        await ZkTest.ThrowsAsync(ZkErrorCode.NoChildrenForEphemerals, async () => await other.CreateAsync(path + "/c"));
    }

    [Fact]
    public async Task Create_under_a_missing_parent_fails_with_NoNode_for_every_mode()
    {
        await using var peer = await TestPeer.StartAsync(o => o with { ExtendedTypesEnabled = true });
        await using var zk = await peer.ConnectAsync();
        foreach (var mode in new[] { CreateMode.Persistent, CreateMode.Ephemeral, CreateMode.PersistentSequential, CreateMode.EphemeralSequential, CreateMode.Container })
        {
            await ZkTest.ThrowsAsync(ZkErrorCode.NoNode, async () => await zk.CreateAsync("/none/c", mode));
        }

        await ZkTest.ThrowsAsync(ZkErrorCode.NoNode, async () => await zk.CreateAsync("/none/c", null, Acl.OpenUnsafe, CreateMode.PersistentWithTtl, 1000));
    }

    [Fact]
    public async Task Create_with_stat_returns_the_stat_the_node_then_has()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        var created = await zk.CreateWithStatAsync("/c-", [1, 2], Acl.OpenUnsafe, CreateMode.EphemeralSequential);
        Assert.Equal("/c-0000000000", created.Path);
        Assert.Equal(await zk.StatAsync(created.Path), created.Stat);
        Assert.Equal(2, created.Stat.DataLength);
        Assert.Equal(zk.SessionId, created.Stat.EphemeralOwner);
    }

    [Fact]
    public async Task Null_and_empty_data_both_read_back_as_empty()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await zk.CreateAsync("/null", CreateMode.Persistent, null);
        await zk.CreateAsync("/empty", CreateMode.Persistent, []);
        Assert.Equal(0, (await zk.GetDataAsync("/null")).Data.Length);
        Assert.Equal(0, (await zk.GetDataAsync("/empty")).Data.Length);
        Assert.Equal(0, (await zk.StatAsync("/null")).DataLength);
    }

    [Fact]
    public async Task Data_passed_in_is_copied()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        byte[] data = [1, 2, 3];
        await zk.CreateAsync("/copy", CreateMode.Persistent, data);
        data[0] = 9;
        Assert.Equal([1, 2, 3], (await zk.GetDataAsync("/copy")).Data.ToArray());
    }

    [Fact]
    public async Task A_create_mode_number_ZooKeeper_does_not_define_fails_with_BadArguments()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        // CreateMode.fromFlag throws BadArgumentsException for an unknown flag.
        await ZkTest.ThrowsAsync(ZkErrorCode.BadArguments, async () => await zk.CreateAsync("/bad", null, Acl.OpenUnsafe, (CreateMode)42));
        Assert.Null(await zk.ExistsAsync("/bad"));
        await ZkTest.AssertServesAsync(zk);
    }
}
