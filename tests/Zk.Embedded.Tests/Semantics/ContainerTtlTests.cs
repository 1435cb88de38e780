using Zk.Embedded.Api;
using Zk.Embedded.Tests.Support;

namespace Zk.Embedded.Tests.Semantics;

/// <summary>Container and TTL nodes (ContainerManager.getCandidates, EphemeralType.validateTTL).</summary>
public sealed class ContainerTtlTests
{
    private static readonly TimeSpan CheckInterval = TimeSpan.FromMilliseconds(200);

    private static Task<TestPeer> StartAsync(bool extended = true) =>
        TestPeer.StartAsync(o => o with { ExtendedTypesEnabled = extended, ContainerCheckInterval = CheckInterval });

    /// <summary>Runs the periodic check, then waits until whatever it queued has been applied.</summary>
    private static async Task RunChecksAsync(TestPeer peer, IZooKeeper zk, TimeSpan span)
    {
        peer.Advance(span);
        // Timer callbacks run inside Advance and queue their deletes; a write queued after them completes after them.
        await zk.SyncAsync("/");
    }

    private static ValueTask<string> CreateTtlAsync(IZooKeeper zk, string path, long ttl, CreateMode mode = CreateMode.PersistentWithTtl) =>
        zk.CreateAsync(path, null, Acl.OpenUnsafe, mode, ttl);

    [Fact]
    public async Task A_container_reports_no_ephemeral_owner()
    {
        await using var peer = await StartAsync();
        await using var zk = await peer.ConnectAsync();
        await zk.CreateAsync("/c", CreateMode.Container);
        Assert.Equal(0, (await zk.StatAsync("/c")).EphemeralOwner);
    }

    [Fact]
    public async Task A_container_is_removed_once_it_had_a_child_and_has_none()
    {
        await using var peer = await StartAsync();
        await using var zk = await peer.ConnectAsync();
        var watch = new EventRecorder("exists watch on /c");
        await zk.CreateAsync("/c", CreateMode.Container);
        await zk.CreateAsync("/c/child");
        await zk.DeleteAsync("/c/child");
        await zk.ExistsAsync("/c", watch.Watcher);
        peer.Advance(CheckInterval * 2);
        await watch.WaitForAsync(EventType.NodeDeleted, "/c");
        Assert.Null(await zk.ExistsAsync("/c"));
    }

    [Fact]
    public async Task A_never_used_container_stays()
    {
        await using var peer = await StartAsync();
        await using var zk = await peer.ConnectAsync();
        await zk.CreateAsync("/unused", CreateMode.Container);
        await zk.CreateAsync("/used", CreateMode.Container);
        await zk.CreateAsync("/used/x", CreateMode.Ephemeral);
        await zk.DeleteAsync("/used/x");
        await RunChecksAsync(peer, zk, CheckInterval * 5);
        Assert.Null(await zk.ExistsAsync("/used"));
        Assert.NotNull(await zk.ExistsAsync("/unused"));
    }

    [Fact]
    public async Task A_container_with_a_child_stays()
    {
        await using var peer = await StartAsync();
        await using var zk = await peer.ConnectAsync();
        await zk.CreateAsync("/c", CreateMode.Container);
        await zk.CreateAsync("/c/a");
        await RunChecksAsync(peer, zk, CheckInterval * 5);
        Assert.NotNull(await zk.ExistsAsync("/c"));
        Assert.NotNull(await zk.ExistsAsync("/c/a"));
    }

    [Fact]
    public async Task A_container_is_removed_when_its_last_ephemeral_child_goes_with_its_session()
    {
        await using var peer = await StartAsync();
        await using var zk = await peer.ConnectAsync();
        var watch = new EventRecorder();
        await zk.CreateAsync("/lock", CreateMode.Container);
        await using (var holder = await peer.ConnectAsync())
        {
            await holder.CreateAsync("/lock/n-", CreateMode.EphemeralSequential);
        }

        await zk.ExistsAsync("/lock", watch.Watcher);
        peer.Advance(CheckInterval * 2);
        await watch.WaitForAsync(EventType.NodeDeleted, "/lock");
    }

    [Theory]
    [InlineData(CreateMode.PersistentWithTtl)]
    [InlineData(CreateMode.PersistentSequentialWithTtl)]
    public async Task Ttl_nodes_need_extended_types_else_Unimplemented(CreateMode mode)
    {
        await using var peer = await StartAsync(extended: false);
        await using var zk = await peer.ConnectAsync();
        await ZkTest.ThrowsAsync(ZkErrorCode.Unimplemented, async () => await CreateTtlAsync(zk, "/t", 1000, mode));
        // The Unimplemented check comes before the ttl check (PrepRequestProcessor.validateCreateRequest).
        await ZkTest.ThrowsAsync(ZkErrorCode.Unimplemented, async () => await CreateTtlAsync(zk, "/t", 0, mode));
        Assert.Null(await zk.ExistsAsync("/t"));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(-1000)]
    [InlineData(0x10000000000)]
    public async Task A_ttl_out_of_range_fails_with_BadArguments(long ttl)
    {
        await using var peer = await StartAsync();
        await using var zk = await peer.ConnectAsync();
        await ZkTest.ThrowsAsync(ZkErrorCode.BadArguments, async () => await CreateTtlAsync(zk, "/t", ttl));
        await ZkTest.ThrowsAsync(ZkErrorCode.BadArguments, async () => await CreateTtlAsync(zk, "/t", ttl, CreateMode.PersistentSequentialWithTtl));
        Assert.Equal(["zookeeper"], await zk.GetChildrenAsync("/"));
    }

    [Fact]
    public async Task The_largest_ttl_is_accepted()
    {
        await using var peer = await StartAsync();
        await using var zk = await peer.ConnectAsync();
        await CreateTtlAsync(zk, "/t", 0xFFFFFFFFFF);
        Assert.NotNull(await zk.ExistsAsync("/t"));
    }

    [Theory]
    [InlineData(CreateMode.Persistent)]
    [InlineData(CreateMode.Ephemeral)]
    [InlineData(CreateMode.Container)]
    public async Task A_ttl_with_a_mode_that_has_none_fails_with_BadArguments(CreateMode mode)
    {
        await using var peer = await StartAsync();
        await using var zk = await peer.ConnectAsync();
        await ZkTest.ThrowsAsync(ZkErrorCode.BadArguments, async () => await zk.CreateAsync("/x", null, Acl.OpenUnsafe, mode, 1000));
        Assert.Null(await zk.ExistsAsync("/x"));
    }

    [Fact]
    public async Task A_ttl_node_reports_no_ephemeral_owner_and_takes_a_sequence_suffix()
    {
        await using var peer = await StartAsync();
        await using var zk = await peer.ConnectAsync();
        await zk.CreateAsync("/q");
        var path = await CreateTtlAsync(zk, "/q/t-", 1000, CreateMode.PersistentSequentialWithTtl);
        Assert.Equal("/q/t-0000000000", path);
        Assert.Equal(0, (await zk.StatAsync(path)).EphemeralOwner);
        await zk.CreateAsync(path + "/child");
    }

    [Fact]
    public async Task A_ttl_node_is_removed_when_unmodified_longer_than_its_ttl()
    {
        await using var peer = await StartAsync();
        await using var zk = await peer.ConnectAsync();
        await CreateTtlAsync(zk, "/t", 1000);
        await RunChecksAsync(peer, zk, TimeSpan.FromMilliseconds(600));
        Assert.NotNull(await zk.ExistsAsync("/t"));
        var watch = new EventRecorder();
        await zk.ExistsAsync("/t", watch.Watcher);
        peer.Advance(TimeSpan.FromMilliseconds(800));
        await watch.WaitForAsync(EventType.NodeDeleted, "/t");
    }

    [Fact]
    public async Task Set_data_restarts_a_ttl_node_clock()
    {
        await using var peer = await StartAsync();
        await using var zk = await peer.ConnectAsync();
        await CreateTtlAsync(zk, "/t", 1000);
        await RunChecksAsync(peer, zk, TimeSpan.FromMilliseconds(700));
        await zk.SetDataAsync("/t", [1]);
        await RunChecksAsync(peer, zk, TimeSpan.FromMilliseconds(700));
        Assert.NotNull(await zk.ExistsAsync("/t"));
        var watch = new EventRecorder();
        await zk.ExistsAsync("/t", watch.Watcher);
        peer.Advance(TimeSpan.FromMilliseconds(600));
        await watch.WaitForAsync(EventType.NodeDeleted, "/t");
    }

    [Fact]
    public async Task A_ttl_node_with_children_stays_until_they_are_gone()
    {
        await using var peer = await StartAsync();
        await using var zk = await peer.ConnectAsync();
        await CreateTtlAsync(zk, "/t", 500);
        await zk.CreateAsync("/t/c");
        await RunChecksAsync(peer, zk, TimeSpan.FromMilliseconds(1500));
        Assert.NotNull(await zk.ExistsAsync("/t"));
        var watch = new EventRecorder();
        await zk.ExistsAsync("/t", watch.Watcher);
        await zk.DeleteAsync("/t/c");
        peer.Advance(CheckInterval * 2);
        await watch.WaitForAsync(EventType.NodeDeleted, "/t");
    }

    [Fact]
    public async Task A_plain_persistent_node_is_never_removed_by_the_check()
    {
        await using var peer = await StartAsync();
        await using var zk = await peer.ConnectAsync();
        await zk.CreateAsync("/p");
        await zk.CreateAsync("/p/c");
        await zk.DeleteAsync("/p/c");
        await RunChecksAsync(peer, zk, TimeSpan.FromSeconds(5));
        Assert.NotNull(await zk.ExistsAsync("/p"));
    }
}
