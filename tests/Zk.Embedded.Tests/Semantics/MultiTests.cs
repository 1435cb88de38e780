using Zk.Embedded.Api;
using Zk.Embedded.Tests.Support;

namespace Zk.Embedded.Tests.Semantics;

/// <summary>multi and multiRead (PrepRequestProcessor multi handling, ZooKeeper.multiInternal, FinalRequestProcessor).</summary>
public sealed class MultiTests
{
    private static Op Create(string path, CreateMode mode = CreateMode.Persistent, byte[]? data = null) =>
        Op.Create(path, data, Acl.OpenUnsafe, mode);

    [Fact]
    public async Task A_null_op_in_a_multi_is_refused_at_the_call_like_a_null_op_in_a_multiRead()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        var refused = await Assert.ThrowsAsync<ArgumentNullException>(async () => await zk.MultiAsync([Op.Create("/a", null, Acl.OpenUnsafe, CreateMode.Persistent), null!]));
        Assert.Equal("ops", refused.ParamName);
        Assert.Null(await zk.ExistsAsync("/a"));
        await zk.CreateAsync("/b", CreateMode.Persistent);
    }

    [Fact]
    public async Task A_successful_multi_returns_one_result_per_op()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await zk.CreateAsync("/old");
        var results = await zk.MultiAsync([
            Create("/a", data: [1]),
            Create("/a/s-", CreateMode.PersistentSequential),
            Op.SetData("/a", [2], 0),
            Op.Check("/a", 1),
            Op.Delete("/old", 0),
        ]);
        Assert.Equal(5, results.Count);
        Assert.Equal("/a", Assert.IsType<CreateResult>(results[0]).Path);
        Assert.Equal("/a/s-0000000000", Assert.IsType<CreateResult>(results[1]).Path);
        Assert.Equal(1, Assert.IsType<SetDataResult>(results[2]).Stat.Version);
        Assert.IsType<CheckResult>(results[3]);
        Assert.IsType<DeleteResult>(results[4]);
        Assert.Equal([2], (await zk.GetDataAsync("/a")).Data.ToArray());
        Assert.Null(await zk.ExistsAsync("/old"));
    }

    [Fact]
    public async Task Later_ops_see_what_earlier_ops_did()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await zk.MultiAsync([
            Create("/x", data: [1]),
            Op.SetData("/x", [2], 0),
            Create("/x/child"),
            Op.Delete("/x/child"),
            Create("/x/child", data: [3]),
            Op.Check("/x", 1),
        ]);
        Assert.Equal([2], (await zk.GetDataAsync("/x")).Data.ToArray());
        Assert.Equal([3], (await zk.GetDataAsync("/x/child")).Data.ToArray());
        Assert.Equal(3, (await zk.StatAsync("/x")).Cversion);
    }

    [Fact]
    public async Task A_failed_multi_applies_nothing_and_reports_each_op()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await zk.CreateAsync("/keep", CreateMode.Persistent, [0]);
        var zxid = peer.Peer.LastZxid;
        var e = await ZkTest.ThrowsAsync(ZkErrorCode.NoNode, async () => await zk.MultiAsync([
            Create("/new"),
            Op.SetData("/keep", [1]),
            Op.SetData("/missing", [1]),
            Op.Delete("/keep"),
            Create("/other"),
        ]));
        Assert.Equal(
            [
                new ErrorResult(ZkErrorCode.Ok),
                new ErrorResult(ZkErrorCode.Ok),
                new ErrorResult(ZkErrorCode.NoNode),
                new ErrorResult(ZkErrorCode.RuntimeInconsistency),
                new ErrorResult(ZkErrorCode.RuntimeInconsistency),
            ],
            e.Results);
        Assert.Null(await zk.ExistsAsync("/new"));
        Assert.Null(await zk.ExistsAsync("/other"));
        var (data, stat) = await zk.GetDataAsync("/keep");
        Assert.Equal([0], data.ToArray());
        Assert.Equal(0, stat.Version);
        Assert.Equal(zxid, (await zk.StatAsync("/keep")).Mzxid);
    }

    [Theory]
    [InlineData(0, ZkErrorCode.NodeExists)]
    [InlineData(1, ZkErrorCode.BadVersion)]
    [InlineData(2, ZkErrorCode.NotEmpty)]
    [InlineData(3, ZkErrorCode.NoChildrenForEphemerals)]
    public async Task The_multi_error_code_is_the_failing_op_code(int failing, ZkErrorCode code)
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await zk.CreateAsync("/p");
        await zk.CreateAsync("/p/c");
        await zk.CreateAsync("/e", CreateMode.Ephemeral);
        Op[] bad = [Create("/p"), Op.SetData("/p", [1], 3), Op.Delete("/p"), Create("/e/c")];
        Op[] ops = [Create("/fresh"), bad[failing], Create("/fresh2")];
        var e = await ZkTest.ThrowsAsync(code, async () => await zk.MultiAsync(ops));
        Assert.Equal([new ErrorResult(ZkErrorCode.Ok), new ErrorResult(code), new ErrorResult(ZkErrorCode.RuntimeInconsistency)], e.Results);
        Assert.Null(await zk.ExistsAsync("/fresh"));
    }

    [Fact]
    public async Task A_multi_that_fails_on_its_first_op_reports_the_rest_as_RuntimeInconsistency()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        var e = await ZkTest.ThrowsAsync(ZkErrorCode.NoNode, async () => await zk.MultiAsync([Op.Check("/none", -1), Create("/a"), Create("/b")]));
        Assert.Equal(
            [new ErrorResult(ZkErrorCode.NoNode), new ErrorResult(ZkErrorCode.RuntimeInconsistency), new ErrorResult(ZkErrorCode.RuntimeInconsistency)],
            e.Results);
        Assert.Null(await zk.ExistsAsync("/a"));
    }

    [Fact]
    public async Task A_failed_multi_fires_no_watches_and_a_successful_one_fires_them()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await zk.CreateAsync("/w");
        var watch = new EventRecorder();
        await zk.GetDataAsync("/w", watch.Watcher);
        await ZkTest.ThrowsAsync(ZkErrorCode.NoNode, async () => await zk.MultiAsync([Op.SetData("/w", [1]), Op.Delete("/none")]));
        // A later read's reply comes after any event for a change it could see.
        await zk.GetDataAsync("/w");
        Assert.Empty(watch.NodeEvents);
        await zk.MultiAsync([Op.SetData("/w", [1])]);
        await watch.WaitForAsync(EventType.NodeDataChanged, "/w");
    }

    [Fact]
    public async Task An_empty_multi_succeeds_with_no_results()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        Assert.Empty(await zk.MultiAsync([]));
    }

    [Fact]
    public async Task A_multi_with_an_invalid_path_fails_with_BadArguments_and_applies_nothing()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await ZkTest.ThrowsAsync(ZkErrorCode.BadArguments, async () => await zk.MultiAsync([Create("/ok"), Create("/bad/")]));
        Assert.Null(await zk.ExistsAsync("/ok"));
        await ZkTest.AssertServesAsync(zk);
    }

    [Fact]
    public async Task A_multi_can_create_ephemerals_that_go_with_the_session()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await using (var owner = await peer.ConnectAsync())
        {
            await owner.MultiAsync([Create("/e1", CreateMode.Ephemeral), Create("/e2-", CreateMode.EphemeralSequential)]);
            Assert.Equal(2, (await owner.GetEphemeralsAsync()).Count);
        }

        Assert.Equal(["zookeeper"], await zk.GetChildrenAsync("/"));
    }

    [Fact]
    public async Task Multi_read_returns_data_and_children_per_op()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await zk.CreateAsync("/r", CreateMode.Persistent, [4, 2]);
        await zk.CreateAsync("/r/a");
        await zk.CreateAsync("/r/b");
        var results = await zk.MultiReadAsync([Op.GetData("/r"), Op.GetChildren("/r"), Op.GetData("/none"), Op.GetChildren("/none")]);
        var data = Assert.IsType<GetDataResult>(results[0]);
        Assert.Equal([4, 2], data.Data.ToArray());
        Assert.Equal(await zk.StatAsync("/r"), data.Stat);
        Assert.Equal(["a", "b"], Assert.IsType<GetChildrenResult>(results[1]).Children.Order());
        Assert.Equal(new ErrorResult(ZkErrorCode.NoNode), results[2]);
        Assert.Equal(new ErrorResult(ZkErrorCode.NoNode), results[3]);
    }

    [Fact]
    public async Task Multi_read_reports_NoAuth_per_op()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await zk.CreateAsync("/secret", null, [new Acl(Perms.Write, Id.Anyone)], CreateMode.Persistent);
        await zk.CreateAsync("/open", CreateMode.Persistent, [1]);
        var results = await zk.MultiReadAsync([Op.GetData("/secret"), Op.GetData("/open"), Op.GetChildren("/secret")]);
        Assert.Equal(new ErrorResult(ZkErrorCode.NoAuth), results[0]);
        Assert.IsType<GetDataResult>(results[1]);
        Assert.Equal(new ErrorResult(ZkErrorCode.NoAuth), results[2]);
    }
}
