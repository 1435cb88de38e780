using Zk.Embedded.Api;
using Zk.Embedded.Tests.Support;

namespace Zk.Embedded.Tests.Semantics;

/// <summary>Conditional writes (PrepRequestProcessor.checkAndIncVersion): -1 matches any version.</summary>
public sealed class VersionTests
{
    [Fact]
    public async Task Set_data_with_the_current_version_succeeds_and_bumps_it()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await zk.CreateAsync("/v");
        Assert.Equal(1, (await zk.SetDataAsync("/v", [1], 0)).Version);
        Assert.Equal(2, (await zk.SetDataAsync("/v", [2], 1)).Version);
        Assert.Equal(3, (await zk.SetDataAsync("/v", [3], -1)).Version);
    }

    [Fact]
    public async Task Set_data_with_a_stale_version_fails_with_BadVersion_naming_the_path()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await zk.CreateAsync("/v", CreateMode.Persistent, [0]);
        await zk.SetDataAsync("/v", [1]);
        var e = await ZkTest.ThrowsAsync(ZkErrorCode.BadVersion, async () => await zk.SetDataAsync("/v", [2], 0));
        Assert.Equal("/v", e.Path);
        await ZkTest.ThrowsAsync(ZkErrorCode.BadVersion, async () => await zk.SetDataAsync("/v", [2], 7));
        await ZkTest.ThrowsAsync(ZkErrorCode.BadVersion, async () => await zk.SetDataAsync("/v", [2], -2));
        var (data, stat) = await zk.GetDataAsync("/v");
        Assert.Equal([1], data.ToArray());
        Assert.Equal(1, stat.Version);
    }

    [Fact]
    public async Task Delete_with_a_stale_version_fails_with_BadVersion_and_keeps_the_node()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await zk.CreateAsync("/v");
        await zk.SetDataAsync("/v", [1]);
        var e = await ZkTest.ThrowsAsync(ZkErrorCode.BadVersion, async () => await zk.DeleteAsync("/v", 0));
        Assert.Equal("/v", e.Path);
        Assert.NotNull(await zk.ExistsAsync("/v"));
        await zk.DeleteAsync("/v", 1);
        Assert.Null(await zk.ExistsAsync("/v"));
    }

    [Fact]
    public async Task Delete_with_any_version_deletes()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await zk.CreateAsync("/v");
        await zk.SetDataAsync("/v", [1]);
        await zk.DeleteAsync("/v", -1);
        Assert.Null(await zk.ExistsAsync("/v"));
    }

    [Fact]
    public async Task Delete_checks_the_version_before_the_children()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await zk.CreateAsync("/v");
        await zk.CreateAsync("/v/c");
        await ZkTest.ThrowsAsync(ZkErrorCode.BadVersion, async () => await zk.DeleteAsync("/v", 5));
        await ZkTest.ThrowsAsync(ZkErrorCode.NotEmpty, async () => await zk.DeleteAsync("/v", 0));
    }

    [Fact]
    public async Task Set_acl_checks_the_acl_version_not_the_data_version()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await zk.CreateAsync("/v");
        await zk.SetDataAsync("/v", [1]);
        var e = await ZkTest.ThrowsAsync(ZkErrorCode.BadVersion, async () => await zk.SetAclAsync("/v", Acl.OpenUnsafe, 1));
        Assert.Equal("/v", e.Path);
        Assert.Equal(1, (await zk.SetAclAsync("/v", Acl.OpenUnsafe, 0)).Aversion);
        Assert.Equal(2, (await zk.SetAclAsync("/v", Acl.OpenUnsafe, -1)).Aversion);
        Assert.Equal(1, (await zk.StatAsync("/v")).Version);
    }

    [Fact]
    public async Task A_check_op_passes_on_the_current_version_and_fails_on_another()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await zk.CreateAsync("/v");
        await zk.SetDataAsync("/v", [1]);
        var ok = await zk.MultiAsync([Op.Check("/v", 1), Op.SetData("/v", [2], 1)]);
        Assert.IsType<CheckResult>(ok[0]);
        var any = await zk.MultiAsync([Op.Check("/v", -1)]);
        Assert.IsType<CheckResult>(any[0]);
        var e = await ZkTest.ThrowsAsync(ZkErrorCode.BadVersion, async () => await zk.MultiAsync([Op.Check("/v", 1), Op.SetData("/v", [3])]));
        Assert.Equal([new ErrorResult(ZkErrorCode.BadVersion), new ErrorResult(ZkErrorCode.RuntimeInconsistency)], e.Results);
        Assert.Equal([2], (await zk.GetDataAsync("/v")).Data.ToArray());
    }

    [Fact]
    public async Task Writes_to_a_missing_node_fail_with_NoNode_naming_the_path()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        Assert.Equal("/gone", (await ZkTest.ThrowsAsync(ZkErrorCode.NoNode, async () => await zk.SetDataAsync("/gone", [1]))).Path);
        Assert.Equal("/gone", (await ZkTest.ThrowsAsync(ZkErrorCode.NoNode, async () => await zk.DeleteAsync("/gone"))).Path);
        Assert.Equal("/gone", (await ZkTest.ThrowsAsync(ZkErrorCode.NoNode, async () => await zk.SetAclAsync("/gone", Acl.OpenUnsafe))).Path);
        Assert.Equal("/gone", (await ZkTest.ThrowsAsync(ZkErrorCode.NoNode, async () => await zk.GetDataAsync("/gone"))).Path);
        await ZkTest.ThrowsAsync(ZkErrorCode.NoNode, async () => await zk.MultiAsync([Op.Check("/gone", -1)]));
    }

    [Fact]
    public async Task Two_writers_with_the_same_version_race_and_exactly_one_wins()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var a = await peer.ConnectAsync();
        await using var b = await peer.ConnectAsync();
        await a.CreateAsync("/v");
        var first = a.SetDataAsync("/v", [1], 0).AsTask();
        var second = b.SetDataAsync("/v", [2], 0).AsTask();
        var outcomes = await Task.WhenAll(Outcome(first), Outcome(second));
        Assert.Single(outcomes, o => o == ZkErrorCode.Ok);
        Assert.Single(outcomes, o => o == ZkErrorCode.BadVersion);
        Assert.Equal(1, (await a.StatAsync("/v")).Version);

        static async Task<ZkErrorCode> Outcome(Task<Stat> write)
        {
            try
            {
                await write;
                return ZkErrorCode.Ok;
            }
            catch (ZkException e)
            {
                return e.Code;
            }
        }
    }
}
